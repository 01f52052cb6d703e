"""The same warehouse SQL on the Debian 18.16 server and on the current ClickHouse
engine (chdb): migrations, the hourly-bucket recompute, unit counts and the ranking
table, run through the same Python functions, must give the same results."""

from __future__ import annotations

import uuid
from dataclasses import astuple
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hailong.registry import Office, Unit
from hailong.settings import Settings
from pipelines.ranking import Period, build_ranking
from pipelines.ranking_store import publish, unit_counts
from producers.kiosk import KioskDevice
from tests.chdb_warehouse import ChdbWarehouse
from tests.integration.test_kiosk_path import JULY_2025, known_ratings, local
from warehouse.channels import KIOSK
from warehouse.client import Warehouse
from warehouse.landing import Message, land
from warehouse.migrate import migrate
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration


def normalise(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Server (Python types) and chdb (JSON) results in one comparable form."""

    def one(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(v, (date, uuid.UUID)):
            return str(v)
        if isinstance(v, float):
            return round(v, 9)
        return v

    return [tuple(one(v) for v in row) for row in rows]


def run_everything(wh: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Schema, registry, raw rows, bucket refresh, ranking: all through the product's code."""
    applied = migrate(wh, progress=lambda _m: None)
    assert migrate(wh, progress=lambda _m: None) == []  # idempotent
    units = [
        Unit(c, n, "Phường", "commune", "01", JULY_2025, None)
        for c, n in (("90001", "Phường Một"), ("90002", "Xã Hai"), ("90003", "Phường Ba"))
    ]
    load_registry(
        wh,
        units,
        [Office(o, f"Một cửa {u.name}", u) for o, u in zip(("OA", "OB", "OC"), units, strict=True)],
    )
    events, named = known_ratings()
    late = KioskDevice("OA", "A1", 4).press(
        1, local(2026, 10, 15, 8, 59, 58), event_id=uuid.UUID(int=7)
    )
    # two batches, landed as the worker does: all events, then a resent copy (later
    # offset) and a late press
    land(wh, [Message(KIOSK, e, 0, i) for i, e in enumerate(events)])
    land(wh, [Message(KIOSK, named["a1"], 0, 500), Message(KIOSK, late, 0, 501)])
    period = Period.parse("2026-10")
    counts = unit_counts(wh, period)
    at = datetime(2026, 11, 1, 2, tzinfo=UTC)
    from hailong.methodology import Weights

    ranking = build_ranking(period, counts, Weights(), 30, at)
    publish(wh, period, ranking)
    publish(wh, period, ranking)  # a re-run replaces, never duplicates
    return {
        "applied": [(name,) for name in applied],
        "tables": wh.execute(
            "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"
        ),
        "raw": wh.execute(
            "SELECT event_id, office_id, device_id, occurred_at, occurred_at_us, "
            "scale, value, kafka_offset FROM kiosk_ratings_raw FINAL "
            "ORDER BY occurred_at_us, event_id"
        ),
        "hourly": wh.execute(
            "SELECT office_id, hour, k_n, k_sat, k_misuse, version "
            "FROM kiosk_hourly FINAL ORDER BY office_id, hour"
        ),
        "unit_counts": [astuple(c) for c in counts],
        "rankings": wh.execute("SELECT * FROM rankings ORDER BY peer_group, unit_code"),
        "ranks": wh.execute("SELECT unit_code, rank, eligible FROM rankings ORDER BY unit_code"),
    }


def test_same_results_on_debian_server_and_current_engine(
    settings: Settings, chdb_wh: ChdbWarehouse
) -> None:
    with Warehouse(settings) as server:
        # the settings fixture already migrated this database; start from an empty one
        server.execute(f"DROP DATABASE {settings.clickhouse_database}")
        server.execute(f"CREATE DATABASE {settings.clickhouse_database}")
        on_server = run_everything(server)
    on_chdb = run_everything(chdb_wh)
    version = chdb_wh.execute("SELECT version()")[0][0]
    assert int(str(version).split(".")[0]) >= 25, version  # really the current engine
    for key in on_server:
        assert normalise(on_server[key]) == normalise(on_chdb[key]), key
    # and the results are the hand-computed ones (see test_kiosk_path)
    assert len(on_server["raw"]) == 81
    a1 = known_ratings()[1]["a1"].event_id
    assert [(r[0], r[7]) for r in on_server["raw"] if r[0] == a1] == [(a1, 0)]  # first copy won
    assert [r[:5] for r in normalise(on_server["hourly"])][:2] == [
        ("OA", "2026-10-15 01:00:00", 1, 0, 0),
        ("OA", "2026-10-15 02:00:00", 1, 0, 2),
    ]
    assert on_server["ranks"] == [("90001", 1, 1), ("90002", 2, 1), ("90003", None, 0)]

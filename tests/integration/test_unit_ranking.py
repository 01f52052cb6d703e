"""A month's unit counts and ranking over all three channels, hand-computed, on the
Debian 18.16 server and on the current engine (chdb)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hailong.methodology import Weights
from hailong.registry import Office, Unit
from hailong.settings import Settings
from pipelines.ranking import Period, build_ranking
from pipelines.ranking_store import unit_counts
from tests.chdb_warehouse import ChdbWarehouse
from warehouse import camera, kiosk, qr
from warehouse.client import Warehouse
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration

OCT = datetime(2026, 10, 10, 3, tzinfo=UTC)
NOV_LOCAL = datetime(2026, 10, 31, 17, tzinfo=UTC)  # 2026-11-01 00:00 in Hanoi


def fill(wh: Any) -> None:
    u1 = Unit("90001", "Phường Một", "Phường", "commune", "01", date(2025, 7, 1), None)
    u2 = Unit("90002", "Xã Hai", "Xã", "commune", "01", date(2025, 7, 1), None)
    load_registry(
        wh, [u1, u2], [Office("O1", "o1", u1), Office("O2", "o2", u1), Office("O3", "o3", u2)]
    )
    wh.insert(
        "kiosk_hourly",
        kiosk.HOURLY_COLUMNS,
        [("O1", OCT, 20, 15, 2, 1), ("O2", OCT, 10, 10, 0, 1), ("O1", NOV_LOCAL, 100, 0, 0, 1)],
    )  # November in local time: not in October
    wh.insert(
        "qr_hourly",
        qr.HOURLY_COLUMNS,
        [("O1", OCT, 5, 1, 1), ("O2", OCT, 3, 0, 1)],
    )
    wh.insert(
        "qr_criteria_hourly",
        qr.CRITERIA_COLUMNS,
        [
            ("O1", OCT, "sipas-5/1", "A", "A1", 5, 4, 1),
            ("O1", OCT, "sipas-5/1", "S", "S1", 5, 2, 1),
            ("O2", OCT, "sipas-5/1", "A", "A1", 3, 3, 1),
        ],
    )
    wh.insert(
        "camera_hourly",
        camera.HOURLY_COLUMNS,
        [("O3", OCT, 10, 7, 3, 0, 0, 0, 0, 0.0, 1)],
    )


def check(wh: Any) -> None:
    counts = unit_counts(wh, Period.parse("2026-10"))
    u1, u2 = counts
    assert (u1.unit_code, u1.offices, u1.k_n, u1.k_sat, u1.q_n, u1.c_n) == (
        "90001",
        2,
        30,
        25,
        8,
        0,
    )
    assert u1.criteria == (("sipas-5/1", "A", "A1", 8, 7), ("sipas-5/1", "S", "S1", 5, 2))
    assert (u2.unit_code, u2.k_n, u2.q_n, u2.c_n, u2.c_pos) == ("90002", 0, 0, 10, 7)
    rows = build_ranking(
        Period.parse("2026-10"), counts, Weights(), 30, datetime(2026, 11, 1, tzinfo=UTC)
    )
    r1, r2 = rows
    # U1: S_kiosk = 25/30; S_qr = (A 7/8 + S 2/5)/2 = 63.75; no camera
    assert r1.s_kiosk == pytest.approx(250 / 3) and r1.s_qr == pytest.approx(63.75)
    assert r1.s_camera is None
    assert r1.score == pytest.approx((0.5 * 63.75 + 0.35 * 250 / 3) / 0.85)
    assert (r1.rank, r1.n_ranked, r1.q_n) == (1, 1, 8)
    # U2: camera only, 70; K_n + Q_n = 0 < 30 → not ranked
    assert r2.score == pytest.approx(70.0) and r2.rank is None
    assert r2.reason == "sample too small: K_n + Q_n = 0 < 30"


def test_unit_ranking_over_all_channels(settings: Settings, chdb_schema: ChdbWarehouse) -> None:
    with Warehouse(settings) as wh:
        fill(wh)
        check(wh)
    fill(chdb_schema)
    check(chdb_schema)

"""The walking skeleton end to end on the real Kafka broker and ClickHouse server:
known ratings → worker process → exact raw rows, hourly counts, dead letters, ranking."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dagster import DagsterInstance

from hailong.contract import KioskRating
from hailong.registry import Office, Unit
from hailong.settings import Settings
from pipelines.assets import failed_checks, materialize_period
from pipelines.resources import ClickHouseResource
from producers.kiosk import KioskDevice
from producers.publisher import Publisher
from tests.conftest import read_topic, wait_until
from warehouse.client import Warehouse
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration

ICT = timedelta(hours=7)  # Asia/Ho_Chi_Minh, no DST
JULY_2025 = date(2025, 7, 1)


def local(y: int, mo: int, d: int, h: int, mi: int = 0, s: float = 0) -> datetime:
    """A local (UTC+7) wall-clock time, as an aware UTC datetime."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC) + timedelta(seconds=s) - ICT


def utc_hour(y: int, mo: int, d: int, h: int) -> datetime:
    return datetime(y, mo, d, h, tzinfo=UTC)


@pytest.fixture
def registry(settings: Settings) -> None:
    names = (("90001", "Phường Một"), ("90002", "Xã Hai"), ("90003", "Phường Ba"))
    units = [Unit(code, name, "Phường", "commune", "01", JULY_2025, None) for code, name in names]
    offices = [
        Office(oid, f"Một cửa {u.name}", u)
        for oid, u in zip(("OA", "OB", "OC"), units, strict=True)
    ]
    with Warehouse(settings) as wh:
        load_registry(wh, units, offices)


class _Device(KioskDevice):
    """A kiosk whose event ids are deterministic, so every run builds the same data."""

    ids = itertools.count(1000)

    def press(
        self,
        value: int,
        at: datetime | None = None,  # type: ignore[override]
        event_id: uuid.UUID | None = None,
    ) -> KioskRating:
        return super().press(value, at, event_id or uuid.UUID(int=next(self.ids)))


def known_ratings() -> tuple[list[KioskRating], dict[str, KioskRating]]:
    """The data set; expected figures are worked out by hand in the test below."""
    _Device.ids = itertools.count(1000)
    a1, a2 = _Device("OA", "A1", 4), _Device("OA", "A2", 4)
    b1, c1 = _Device("OB", "B1", 5), _Device("OC", "C1", 3)
    named = {
        "a1": a1.press(4, local(2026, 10, 15, 9)),  # counted, satisfied
        "a2": a1.press(1, local(2026, 10, 15, 9, 0, 3.9)),  # 3.9 s later: misuse
        "a3": a1.press(2, local(2026, 10, 15, 9, 0, 7.9)),  # 4.0 s after a2: counted
        "b_oct": b1.press(5, local(2026, 10, 31, 23, 30)),  # last local hour of October
        "b_nov": b1.press(1, local(2026, 11, 1, 0, 10)),  # 17:10 UTC Oct 31, but November
    }
    events = list(named.values())
    # OA: 30 presses 60 s apart from 10:00 local, 27 satisfied (values 3-4), 3 not (1-2)
    events += [
        a2.press(3 + i % 2 if i < 27 else 1 + i % 2, local(2026, 10, 15, 10, i)) for i in range(30)
    ]
    # OB: 40 presses from 14:00 local, 30 satisfied (4-5), 10 not
    events += [
        b1.press(4 + i % 2 if i < 30 else 1 + i % 3, local(2026, 10, 20, 14, i)) for i in range(40)
    ]
    # OC: 5 presses, all satisfied, too few to be ranked
    events += [c1.press(3, local(2026, 10, 22, 10, i)) for i in range(5)]
    return events, named


def test_kiosk_ratings_travel_end_to_end(
    settings: Settings, registry: None, worker: subprocess.Popen[bytes]
) -> None:
    events, named = known_ratings()
    invalid = b'{"schema": "kiosk_rating/1", "event_id": "not-a-uuid", "office_id": "OA"}'
    publisher = Publisher(settings)
    publisher.publish(events)
    publisher.publish([named["a1"]])  # a device resending: the same event_id again
    publisher.publish_raw(settings.topics.kiosk, [(b"OA", invalid)])

    wh = Warehouse(settings)

    def landed(n: int) -> bool:
        raw = wh.execute("SELECT uniqExact(event_id) FROM kiosk_ratings_raw")[0][0]
        bucketed = wh.execute("SELECT sum(k_n + k_misuse) FROM kiosk_hourly FINAL")[0][0]
        return bool(raw == n and bucketed == n) or worker.poll() is not None

    wait_until(lambda: landed(len(events)), 90, "the worker to land every rating")
    assert worker.poll() is None, "the worker died"

    # Raw: every valid rating exactly once (the resent a1 included once), as sent.
    raw_rows = wh.execute(
        "SELECT event_id, office_id, device_id, occurred_at_us, scale, value "
        "FROM kiosk_ratings_raw FINAL ORDER BY occurred_at_us, event_id"
    )
    expected_raw = sorted(
        (
            (
                e.event_id,
                e.office_id,
                e.device_id,
                (e.occurred_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1),
                e.scale,
                e.value,
            )
            for e in events
        ),
        key=lambda r: (r[3], str(r[0])),
    )
    assert raw_rows == expected_raw
    assert len(raw_rows) == len(events) == 80

    # Hourly counts, by hand (UTC hours): a1 counted+sat, a2 misuse, a3 counted; etc.
    hourly = wh.execute(
        "SELECT office_id, hour, k_n, k_sat, k_misuse FROM kiosk_hourly FINAL "
        "ORDER BY office_id, hour"
    )
    assert [(o, h.replace(tzinfo=UTC), n, s, m) for o, h, n, s, m in hourly] == [
        ("OA", utc_hour(2026, 10, 15, 2), 2, 1, 1),
        ("OA", utc_hour(2026, 10, 15, 3), 30, 27, 0),
        ("OB", utc_hour(2026, 10, 20, 7), 40, 30, 0),
        ("OB", utc_hour(2026, 10, 31, 16), 1, 1, 0),
        ("OB", utc_hour(2026, 10, 31, 17), 1, 0, 0),
        ("OC", utc_hour(2026, 10, 22, 3), 5, 5, 0),
    ]

    # The invalid event is in the dead-letter topic with its reason and original bytes.
    dead = read_topic(settings, settings.topics.deadletter)
    assert len(dead) == 1
    letter = json.loads(dead[0].value())
    source = [m for m in read_topic(settings, settings.topics.kiosk) if m.value() == invalid]
    assert len(source) == 1
    assert letter["schema"] == "dead_letter/1"
    assert (letter["source_topic"], letter["partition"], letter["offset"], letter["key"]) == (
        settings.topics.kiosk,
        source[0].partition(),
        source[0].offset(),
        "OA",
    )
    assert base64.b64decode(letter["raw"]) == invalid
    assert "event_id: must be a UUID string" in letter["error"]
    assert "device_id: Field required" in letter["error"]

    # An event_id used again with other content (another office, time and value) counts
    # zero times: it would land in OA's 02:00 bucket below. Same key (OA) as the late
    # press that follows, so Kafka keeps them in order.
    reused = KioskDevice("OA", "A1", 4).press(
        4, local(2026, 10, 15, 9, 30), event_id=named["b_oct"].event_id
    )
    publisher.publish([reused])
    # A late press 2 s before a1 arrives: a1 becomes misuse, even across the hour line.
    late = KioskDevice("OA", "A1", 4).press(1, local(2026, 10, 15, 8, 59, 58))
    publisher.publish([late])
    wait_until(lambda: landed(len(events) + 1), 60, "the late rating")
    hourly_oa = wh.execute(
        "SELECT hour, k_n, k_sat, k_misuse FROM kiosk_hourly FINAL "
        "WHERE office_id = 'OA' AND hour < toDateTime('2026-10-15 03:00:00') "
        "ORDER BY hour"
    )
    assert [(h.replace(tzinfo=UTC), n, s, m) for h, n, s, m in hourly_oa] == [
        (utc_hour(2026, 10, 15, 1), 1, 0, 0),  # the late press, unsatisfied
        (utc_hour(2026, 10, 15, 2), 1, 0, 2),  # a1, a2 misuse; a3 counted, unsatisfied
    ]
    assert wh.execute("SELECT count() FROM kiosk_ratings_raw FINAL") == [(81,)]

    # The month's ranking, by Dagster against the real server.
    # OA: K_n = 1 + 1 + 30 = 32, K_sat = 27 → 84.375. OB October: 41, 31 → 75.609756…
    # OC: 5 < 30 → not ranked.
    resource = ClickHouseResource.from_settings(settings)

    def run_ranking() -> list[tuple[Any, ...]]:
        result = materialize_period("2026-10", resource, DagsterInstance.ephemeral())
        assert result.success, failed_checks(result)
        return wh.execute(
            "SELECT period, peer_group, unit_code, unit_name, offices, k_n, k_sat, score, "
            "eligible, reason, rank, n_ranked, weights, min_sample, methodology_version, "
            "input_checksum, computed_at FROM rankings WHERE period = '2026-10' "
            "ORDER BY unit_code"
        )

    first = run_ranking()
    assert all(r[0] == "2026-10" for r in first)
    table = [r[:12] for r in first]
    assert table == [
        (
            "2026-10",
            "commune",
            "90001",
            "Phường Một",
            1,
            32,
            27,
            pytest.approx(84.375),
            1,
            "",
            1,
            2,
        ),
        ("2026-10", "commune", "90002", "Xã Hai", 1, 41, 31, pytest.approx(3100 / 41), 1, "", 2, 2),
        (
            "2026-10",
            "commune",
            "90003",
            "Phường Ba",
            1,
            5,
            5,
            100.0,
            0,
            "sample too small: K_n + Q_n = 5 < 30",
            None,
            2,
        ),
    ]
    assert {r[12:15] for r in first} == {('{"camera": 0.15, "kiosk": 0.35, "qr": 0.5}', 30, "1")}
    # Running the partition again replaces its rows: same rows, same checksum.
    second = run_ranking()
    assert [r[:16] for r in second] == [r[:16] for r in first]
    assert len({r[15] for r in first + second}) == 1

    # The year 2026: OB's November press counts too (42 ratings, 31 satisfied).
    result = materialize_period("2026", resource, DagsterInstance.ephemeral())
    assert result.success, failed_checks(result)
    annual = wh.execute(
        "SELECT unit_code, k_n, k_sat, score, rank, n_ranked FROM rankings "
        "WHERE period = '2026' ORDER BY unit_code"
    )
    assert annual == [
        ("90001", 32, 27, pytest.approx(84.375), 1, 2),
        ("90002", 42, 31, pytest.approx(3100 / 42), 2, 2),
        ("90003", 5, 5, 100.0, None, 2),
    ]
    # and the month's rows are untouched by the year's
    assert wh.execute("SELECT count() FROM rankings WHERE period = '2026-10'") == [(3,)]
    wh.close()
    publisher.close()

"""The view office_index_current (what city IT reads) gives the methodology's live
rolling indices, hand-computed, on the Debian 18.16 server and on chdb."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hailong.methodology import Weights
from hailong.registry import Office, Unit
from hailong.settings import Settings
from tests.chdb_warehouse import ChdbWarehouse
from warehouse import camera, kiosk, qr
from warehouse.client import Warehouse
from warehouse.migrate import record_weights
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration


def fill(wh: Any) -> None:
    """Buckets relative to the current hour H (hand-computed results below)."""
    # Not in the last seconds of an hour, so H cannot move while the test reads.
    while datetime.now(UTC).minute == 59 and datetime.now(UTC).second > 50:
        time.sleep(1)
    now = datetime.now(UTC)
    h = now.replace(minute=0, second=0, microsecond=0)
    hours = lambda n: h - timedelta(hours=n)  # noqa: E731
    wh.insert(
        "kiosk_hourly",
        kiosk.HOURLY_COLUMNS,
        [
            ("X", hours(0), 10, 8, 1, 1),
            ("X", hours(1), 10, 2, 0, 1),
            ("X", hours(30), 20, 20, 0, 1),
            ("X", hours(200), 5, 0, 0, 1),
            ("X", hours(800), 100, 0, 0, 1),
            ("X", hours(0), 9, 9, 0, 0),  # an older version of a bucket: must not count
        ],
    )
    wh.insert(
        "qr_hourly",
        qr.HOURLY_COLUMNS,
        [("X", hours(0), 2, 1, 3)],
    )
    wh.insert(
        "qr_criteria_hourly",
        qr.CRITERIA_COLUMNS,
        [
            ("X", hours(0), "sipas-5/1", "A", "A1", 2, 1, 3),
            ("X", hours(0), "sipas-5/1", "A", "A2", 1, 1, 3),
            ("X", hours(0), "sipas-5/1", "S", "S1", 2, 0, 3),
            ("X", hours(0), "sipas-5/1", "P", "P1", 0, 0, 3),  # answered only by a duplicate
        ],
    )
    wh.insert(
        "camera_hourly",
        camera.HOURLY_COLUMNS,
        [("X", hours(2), 4, 3, 1, 2, 9, 6, 1, 120.0, 7)],
    )
    unit = Unit("u", "u", "Phường", "commune", "01", h.date(), None)
    load_registry(wh, [unit], [Office("Y", "silent office", unit)])


EXPECTED = {
    # window: (k_n, k_sat, s_kiosk, q_n, s_qr, c_n, s_camera, osi)
    # 1h = buckets H-1h and H: kiosk 20/10 = 50; S_qr: A = (1/2 + 1)/2 = .75, S = 0,
    # P unanswered → (0.75 + 0)/2 = 37.5; no camera → OSI = (.35·50 + .5·37.5) / .85
    "1h": (20, 10, 50.0, 2, 37.5, 0, None, (0.35 * 50 + 0.5 * 37.5) / 0.85),
    # 24h adds the camera bucket at H-2h: 3/4 = 75 → OSI = .35·50 + .5·37.5 + .15·75
    "24h": (20, 10, 50.0, 2, 37.5, 4, 75.0, 0.35 * 50 + 0.5 * 37.5 + 0.15 * 75),
    # 7d adds H-30h: kiosk 40/30 = 75
    "7d": (40, 30, 75.0, 2, 37.5, 4, 75.0, 0.35 * 75 + 0.5 * 37.5 + 0.15 * 75),
    # 30d adds H-200h (H-800h is outside): kiosk 45/30
    "30d": (45, 30, 200 / 3, 2, 37.5, 4, 75.0, 0.35 * 200 / 3 + 0.5 * 37.5 + 0.15 * 75),
}


def read(wh: Any) -> dict[str, dict[str, tuple[Any, ...]]]:
    rows = wh.execute(
        "SELECT office_id, window, k_n, k_sat, s_kiosk, q_n, s_qr, c_n, s_camera, "
        "osi FROM office_index_current ORDER BY office_id, window"
    )
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    for office, window, *values in rows:
        out.setdefault(office, {})[window] = tuple(values)
    return out


def check(result: dict[str, dict[str, tuple[Any, ...]]]) -> None:
    assert set(result) == {"X", "Y"}
    for window, expected in EXPECTED.items():
        got = result["X"][window]
        assert got[:2] == expected[:2] and got[3] == expected[3] and got[5] == expected[5]
        for g, e in zip(got, expected, strict=True):
            assert (g is None and e is None) or g == pytest.approx(e), (window, got)
    # an office with no events: listed, every channel absent, OSI NULL
    assert result["Y"]["30d"] == (0, 0, None, 0, None, 0, None, None)


def test_live_index_view_on_both_engines(settings: Settings, chdb_schema: ChdbWarehouse) -> None:
    with Warehouse(settings) as wh:
        fill(wh)
        check(read(wh))
    fill(chdb_schema)
    check(read(chdb_schema))


def test_weights_in_force_are_used(settings: Settings) -> None:
    with Warehouse(settings) as wh:
        fill(wh)
        time.sleep(1.1)  # valid_from has second precision
        assert record_weights(wh, Weights(qr=1.0, kiosk=1.0, camera=0.0))
        assert not record_weights(wh, Weights(qr=1.0, kiosk=1.0, camera=0.0))
        osi = read(wh)["X"]["24h"][-1]
    assert osi == pytest.approx((50 + 37.5) / 2)

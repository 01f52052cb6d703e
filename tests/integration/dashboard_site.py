"""A small city for the dashboard's tests (tests/integration/test_dashboard*.py): two
communes (A with offices HN-A1 and HN-A2, B with HN-B1), last month's published ranking
and this month's preview, staff scores, counters, a QR comment, device health, an open
alert, one account per role and an API token per unit; the web app served on a free
port. Everything relative to the real clock (the web app's), never to a fixed date."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hailong.clock import SYSTEM
from hailong.registry import Office, Unit
from hailong.settings import Settings
from pipelines.ranking import Period, StaffRow, build_ranking
from pipelines.ranking_store import publish, publish_staff, unit_counts
from pipelines.web.app import create_app
from pipelines.web.auth import Account
from pipelines.web.store import Accounts
from tests.serving import free_port, serve
from warehouse.alerts import ChangeRow, record
from warehouse.client import Warehouse
from warehouse.kiosk import HOURLY_COLUMNS as KIOSK_HOURLY
from warehouse.private import prepare_private
from warehouse.qr import RAW_COLUMNS as QR_RAW
from warehouse.registry import load_registry

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "a long test password"  # noqa: S105 - a test's
ROLES = {
    "city": Account("city", "city"),
    "chair.a": Account("chair.a", "unit", "A", email="chair@a.example"),
    "head.a1": Account("head.a1", "office", "HN-A1"),
    "staff.s1": Account("staff.s1", "staff", "S-1", office_id="HN-A1"),
    "viewer.b": Account("viewer.b", "viewer", "unit:B"),
}
COMMENT = "Cán bộ hướng dẫn tận tình, nhưng phải chờ lâu"


@dataclass(frozen=True)
class Site:
    base: str
    settings: Settings
    tokens: dict[str, str]  # API tokens: "A", "B", "city"
    last_month: str
    this_month: str
    alert_id: str


def months(now: datetime) -> tuple[Period, Period]:
    local = now.astimezone(HANOI)
    this = Period.month(local.year, local.month)
    last = Period.month(local.year - (local.month == 1), (local.month - 2) % 12 + 1)
    return last, this


def populate(wh: Warehouse, now: datetime) -> tuple[str, str, str]:
    units = [
        Unit(c, f"Xã {c}", "Xã", "commune", "01", datetime(2025, 7, 1).date(), None)
        for c in ("A", "B")
    ]
    load_registry(
        wh,
        units,
        [
            Office("HN-A1", "Một cửa A1", units[0]),
            Office("HN-A2", "Một cửa A2", units[0]),
            Office("HN-B1", "Một cửa B1", units[1]),
        ],
    )
    last, this = months(now)
    cols = KIOSK_HOURLY
    in_last = datetime.fromtimestamp(last.start_s + 10 * 86400 + 3 * 3600, UTC)
    recent = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    wh.insert(
        "kiosk_hourly",
        cols,
        [
            ("HN-A1", in_last, 40, 34, 0, 1),
            ("HN-A2", in_last, 30, 20, 0, 1),
            ("HN-B1", in_last, 50, 30, 0, 1),
            ("HN-A1", recent, 20, 15, 0, 1),
            ("HN-A2", recent, 12, 9, 0, 1),
            ("HN-B1", recent, 25, 20, 0, 1),
        ],
    )
    for period in (last, this):
        counts = unit_counts(wh, period)
        publish(wh, period, build_ranking(period, counts, _weights(), 30, now))
    publish_staff(
        wh,
        last,
        [
            StaffRow(last.key, "HN-A1", "A", s, 35, k, 100 * k / 35, 1, "", 30, "1", now)
            for s, k in (("S-1", 30), ("S-2", 20))
        ],
    )
    raw = (
        "event_id",
        "office_id",
        "device_id",
        "counter_id",
        "staff_id",
        "occurred_at",
        "occurred_at_us",
        "scale",
        "value",
        "kafka_partition",
        "kafka_offset",
        "version",
    )
    wh.insert(
        "kiosk_ratings_raw",
        raw,
        [
            (
                uuid.uuid4(),
                "HN-A1",
                "K-A1",
                counter,
                staff,
                recent,
                int(recent.timestamp() * 1e6) + i,
                5,
                5 if i % 4 else 2,
                0,
                i,
                1,
            )
            for i, (counter, staff) in enumerate([("Q1", "S-1"), ("Q2", "S-2")] * 6)
        ],
    )
    wh.insert(
        "qr_surveys_raw",
        QR_RAW,
        [
            (
                uuid.uuid4(),
                "tok-1",
                "HN-A1",
                recent,
                int(recent.timestamp() * 1e6),
                "sipas-5/1",
                ["A1"],
                ["A"],
                [4],
                4,
                COMMENT,
                None,
                None,
                0,
                0,
                1,
            )
        ],
    )
    alert = ChangeRow(
        "a-test-1",
        "HN-A2",
        "credible_drop",
        "raised",
        "raised",
        int(now.timestamp()) // 3600 - 1,
        int(now.timestamp()) // 3600 - 1,
        "hailong",
        "",
        {"window_share": 0.55, "baseline_lo": 0.8},
    )
    record(wh, [alert], now)
    return last.key, this.key, alert.alert_id


def _weights():  # type: ignore[no-untyped-def]
    from hailong.methodology import Weights

    return Weights()


@contextmanager
def site(settings: Settings) -> Iterator[Site]:
    now = SYSTEM.now()
    prepare_private(settings)
    with Warehouse(settings) as wh:
        last, this, alert_id = populate(wh, now)
    with Accounts(settings, SYSTEM) as accounts:
        for account in ROLES.values():
            accounts.add(account, PASSWORD, "test")
        tokens = {
            u: accounts.new_api_token(f"portal {u}", "" if u == "city" else u, "test")
            for u in ("A", "B", "city")
        }
    app = create_app(settings, SYSTEM, live_poll_s=1.0)
    with serve(app, free_port()) as base:
        yield Site(base, settings, tokens, last, this, alert_id)

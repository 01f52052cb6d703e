"""The dashboard's per-office live index (warehouse/sql/office_index.sql) is the view
office_index_current with the offices filtered inside it: the same text but the filter
lines, and the same rows on the current engine (chdb; the server in the dashboard's
tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.web import data
from warehouse.camera import HOURLY_COLUMNS as CAMERA_HOURLY
from warehouse.client import sql
from warehouse.kiosk import HOURLY_COLUMNS as KIOSK_HOURLY

ROOT = Path(__file__).parents[2]


def test_the_per_office_query_is_the_view_with_a_filter() -> None:
    view = (ROOT / "warehouse" / "migrations" / "0003_views.sql").read_text()
    start = view.index("CREATE VIEW IF NOT EXISTS office_index_current AS\n")
    body = view[start : view.index(") AS scored;", start) + len(") AS scored")]
    body = body.split("\n", 1)[1]
    ours = [
        line.replace(" WHERE office_id IN %(offices)s", "")
        for line in sql("office_index").splitlines()
        if not line.startswith("--") and line.strip() != "AND office_id IN %(offices)s"
    ]
    assert "\n".join(ours).strip() == body.strip()


def test_the_same_rows_as_the_view_on_the_current_engine(chdb_schema: Any) -> None:
    check_same_rows(chdb_schema)


def check_same_rows(wh: Any) -> None:
    """On either engine (the server: tests/integration/test_alert_store.py)."""
    # The engine's own hour (the view reads now() there; under faketime Python's clock
    # and the engine's differ, and no test may depend on either's date).
    ((epoch,),) = wh.execute("SELECT toUInt32(toStartOfHour(now()))")
    now = datetime.fromtimestamp(int(epoch), UTC)
    cols = KIOSK_HOURLY
    wh.insert(
        "kiosk_hourly",
        cols,
        [
            (office, now - timedelta(hours=h), 10 + h, 5 + h, 0, 1)
            for office in ("X", "Y")
            for h in (0, 3, 30, 200)
        ],
    )
    wh.insert(
        "camera_hourly",
        CAMERA_HOURLY,
        [("X", now - timedelta(hours=2), 4, 3, 0, 2, 9, 6, 1, 120.0, 1)],
    )
    mine = data.live_index(wh, ["X"])
    everyone = [r for r in data.live_index(wh) if r["office_id"] == "X"]
    assert mine == everyone and [r["window"] for r in mine] == list(data.WINDOWS)
    assert mine[1]["k_n"] == 10 + 13 and mine[1]["c_n"] == 4  # 24h: hours 0 and 3
    assert data.live_index(wh, []) == []
    # One office's hours: what the view office_hourly says of it.
    since = now - timedelta(hours=48)
    view = wh.execute(
        "SELECT toUInt32(hour), k_n, k_sat, q_n, c_n, c_pos FROM office_hourly "
        "WHERE office_id = 'X' AND hour >= toDateTime(%(s)s, 'UTC') ORDER BY hour",
        {"s": int(since.timestamp())},
    )
    got = data.hourly(wh, "X", since)
    assert [tuple(int(v) for v in r.values()) for r in got] == [
        tuple(int(v) for v in r) for r in view
    ]
    assert len(got) == 4  # hours 0, 2 (camera), 3 and 30; 200 is older than 48 h
    city = {r["window"]: r for r in data.city_live(wh)}
    assert city["24h"]["k_n"] == 2 * (10 + 13) and city["24h"]["c_n"] == 4

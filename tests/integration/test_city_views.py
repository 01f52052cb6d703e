"""The views city IT reads, on the Debian 18.16 server and on the current engine (chdb):
dead_letter_summary and office_hourly on a small hand-made data set, with replaced rows
that only FINAL leaves out; both engines give the hand-computed rows. And every query of
the cookbook (warehouse/README.md) runs on the current engine too."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hailong.settings import Settings
from streams.ingest import DEAD_LETTER_COLUMNS, DEAD_LETTERS_TABLE, Received, dead_letter_row, split
from tests.chdb_warehouse import ChdbWarehouse
from tests.integration.test_sql_engines import normalise
from warehouse import camera, kiosk, qr
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration

P = "city."
K, Q, C = (f"{P}satisfaction.{name}.v1" for name in ("kiosk", "qr", "camera"))
T0 = datetime(2026, 11, 24, 16, 59, 59, tzinfo=UTC)  # 23:59:59 on 24 Nov in Hanoi
BAD_ID = b'{"schema": "kiosk_rating/1", "event_id": "not-a-uuid", "office_id": "OA"}'
NOT_JSON = Received(K, 0, 1, b"OA", b"not json")

# Three batches, as the worker would split them; the second replays NOT_JSON after
# Hanoi midnight. Inserted out of order: the replay's copy first.
BATCHES = [
    (
        T0 + timedelta(seconds=10),
        [
            NOT_JSON,
            Received(K, 1, 5, b"OB", b'{"schema": "qr_survey/1"}'),
            Received(Q, 0, 3, b"OA", b'{"schema": "qr_survey/1", "image": "x"}'),
            Received(C, 2, 9, b"OC", None),
            Received(C, 2, 10, None, b'{"schema": "camera_observation/1", "a": 1, "a": 2}'),
        ],
    ),
    (T0, [NOT_JSON, Received(K, 0, 2, b"OA", BAD_ID)]),
    (T0 + timedelta(hours=2), [Received(K, 0, 3, b"OA", BAD_ID)]),
]


def day(d: int) -> str:
    return f"2026-11-{d}"


def at(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


T1, T2 = T0 + timedelta(seconds=10), T0 + timedelta(hours=2)
EXPECTED_SUMMARY = [
    (day(24), K, "field:event_id", 1, at(T0), at(T0)),
    (day(24), K, "not_json", 1, at(T0), at(T0)),  # the replay after midnight: not again
    (day(25), C, "duplicate_key", 1, at(T1), at(T1)),
    (day(25), C, "tombstone", 1, at(T1), at(T1)),
    (day(25), K, "field:event_id", 1, at(T2), at(T2)),
    (day(25), K, "wrong_topic", 1, at(T1), at(T1)),
    (day(25), Q, "unknown_field", 1, at(T1), at(T1)),
]

H1, H2, H3 = (datetime(2026, 11, 24, h, tzinfo=UTC) for h in (2, 3, 9))
# (table, columns, rows): each bucket's older row first, then the row FINAL keeps.
BUCKETS: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]] = [
    (
        "kiosk_hourly",
        kiosk.HOURLY_COLUMNS,
        [("OA", H1, 2, 1, 0, 2), ("OA", H1, 3, 2, 1, 4), ("OB", H2, 1, 1, 0, 1)],
    ),
    (
        "qr_hourly",
        qr.HOURLY_COLUMNS,
        [("OA", H1, 1, 0, 1), ("OA", H1, 2, 1, 3), ("OC", H3, 1, 0, 1)],
    ),
    (
        "camera_hourly",
        camera.HOURLY_COLUMNS,
        [("OA", H1, 1, 1, 0, 1, 9, 9, 1, 30.0, 3), ("OA", H1, 4, 3, 1, 2, 7, 5, 1, 90.5, 7)],
    ),
]
EXPECTED_HOURLY = [
    ("OA", at(H1), 3, 2, 1, 2, 1, 4, 3, 1, 2, 7, 5, 1, 90.5),
    ("OB", at(H2), 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0),
    ("OC", at(H3), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0.0),
]

SUMMARY = (
    "SELECT day, source_topic, reason, dead_letters, first_rejected_at, "
    "last_rejected_at FROM dead_letter_summary ORDER BY day, source_topic, reason"
)
HOURLY = "SELECT * FROM office_hourly ORDER BY office_id, hour"


def load(wh: Any) -> None:
    """The hand-made data, through the worker's own row function (raw as text: every
    value here is UTF-8, and chdb's test adapter takes text)."""
    for now, messages in BATCHES:
        rows = [dead_letter_row(d) for d in split(messages, P, now).dead]
        assert len(rows) == len(messages)
        raw = DEAD_LETTER_COLUMNS.index("raw")
        wh.insert(
            DEAD_LETTERS_TABLE,
            DEAD_LETTER_COLUMNS,
            [(*r[:raw], r[raw].decode(), *r[raw + 1 :]) for r in rows],
        )
    for table, columns, rows in BUCKETS:
        for row in rows:  # one insert each: separate parts, so only FINAL collapses them
            wh.insert(table, columns, [row])


def test_city_views_give_the_same_rows_on_both_engines(
    settings: Settings, chdb_schema: ChdbWarehouse
) -> None:
    with Warehouse(settings) as server:
        load(server)
        on_server = {"summary": server.execute(SUMMARY), "hourly": server.execute(HOURLY)}
        unmerged = server.execute("SELECT count() FROM dead_letters")[0][0]
    load(chdb_schema)
    on_chdb = {"summary": chdb_schema.execute(SUMMARY), "hourly": chdb_schema.execute(HOURLY)}
    assert unmerged == 8  # the replay's copy is a row of its own until a merge
    assert normalise(on_server["summary"]) == normalise(on_chdb["summary"]) == EXPECTED_SUMMARY
    assert normalise(on_server["hourly"]) == normalise(on_chdb["hourly"]) == EXPECTED_HOURLY


def test_the_views_answer_the_same_with_definer_rights_on_the_current_engine(
    chdb_schema: ChdbWarehouse,
) -> None:
    """The current-server recipe of warehouse/README.md: city views switched to SQL
    SECURITY DEFINER (18.16 does not parse it) give the same rows."""
    load(chdb_schema)
    before = {q: chdb_schema.execute(q) for q in (SUMMARY, HOURLY)}
    for view in (
        "dead_letter_summary",
        "office_hourly",
        "office_index_current",
        "kiosk_ratings",
        "qr_surveys",
    ):
        chdb_schema.execute(f"ALTER TABLE {view} MODIFY SQL SECURITY DEFINER DEFINER = default")
        ddl = chdb_schema.execute(
            f"SELECT create_table_query FROM system.tables "
            f"WHERE database = currentDatabase() AND name = '{view}'"
        )
        assert "SQL SECURITY DEFINER" in ddl[0][0], view
    assert {q: chdb_schema.execute(q) for q in (SUMMARY, HOURLY)} == before


def test_the_cookbook_runs_on_the_current_engine(chdb_schema: ChdbWarehouse) -> None:
    text = (Path(__file__).parents[2] / "warehouse" / "README.md").read_text("utf-8")
    queries = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(queries) >= 6
    load(chdb_schema)
    for query in queries:
        chdb_schema.execute(query)  # raises if the example does not run on current ClickHouse

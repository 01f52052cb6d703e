"""Refreshing hourly buckets: which office-hours a batch touches, and the parameters
the bucket SQL (``warehouse/sql/*_buckets.sql``) takes for them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hailong.counting import HOUR_US, hour_of
from warehouse.client import Warehouse, sql

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# ReplacingMergeTree keeps the highest version; raw rows count down from the top of
# UInt64 by Kafka position, so a replay writes rows identical to the first time.
VERSION_TOP = 2**64 - 1
MAX_PARTITIONS = 2**16


def raw_version(partition: int, offset: int) -> int:
    """The version of a raw row from this Kafka message. Two candidates of one event_id
    with the same raw key (same channel, office, time) merge into one row; the row kept
    is the one with the least (offset, partition), which is the owner of the two
    (warehouse/claims.py), so a merge never removes the row that counts."""
    if not 0 <= partition < MAX_PARTITIONS:
        raise ValueError(f"partition {partition} out of range")
    return VERSION_TOP - (offset * MAX_PARTITIONS + partition)


Ranges = dict[str, tuple[int, int]]  # office → [first bucket start, end) in UTC µs

# Offices per bucket query. The SQL names every office of a call with its range (a few
# times over), and ClickHouse refuses queries over max_query_size (256 KiB): a batch of
# 5,000 events in a city of 10,000 offices touched ~4,000 offices and the worker
# retried for ever (found by bench figure 7). Offices are independent, so a call is
# split into queries of at most this many.
OFFICES_PER_QUERY = 500


def epoch_us(ts: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding)."""
    return (ts - _EPOCH) // timedelta(microseconds=1)


def ranges_of(spans: Iterable[tuple[str, int, int]]) -> Ranges:
    """Per office, the smallest [start, end) holding every (office, start, end) span."""
    out: Ranges = {}
    for office, start, end in spans:
        lo, hi = out.get(office, (start, end))
        out[office] = (min(lo, start), max(hi, end))
    return out


def hour_spans(items: Iterable[tuple[str, int]]) -> Ranges:
    """Ranges covering the hour of each (office, time in µs)."""
    return ranges_of((o, hour_of(t), hour_of(t) + HOUR_US) for o, t in items)


def params(ranges: Ranges) -> dict[str, Any]:
    """Parameters of the bucket SQL for these office ranges."""
    offices = sorted(ranges)
    starts = [ranges[o][0] for o in offices]
    ends = [ranges[o][1] for o in offices]
    return {
        "offices": offices,
        "office_set": tuple(offices),
        "start_us": starts,
        "end_us": ends,
        "lo_us": min(starts),
        "hi_us": max(ends),
    }


def refresh(wh: Warehouse, table: str, columns: Sequence[str], query: str, ranges: Ranges) -> None:
    """Recompute ``table``'s rows for the ranges with the named query, and insert them
    (``OFFICES_PER_QUERY`` offices per query)."""
    offices = sorted(ranges)
    text = f"INSERT INTO {table} ({', '.join(columns)}) " + sql(query)
    for i in range(0, len(offices), OFFICES_PER_QUERY):
        wh.execute(text, params({o: ranges[o] for o in offices[i : i + OFFICES_PER_QUERY]}))

"""Writing the kiosk channel: raw rows and the hourly buckets recomputed from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hailong.contract import KioskRating
from warehouse.client import Warehouse, sql

KIOSK_RAW_COLUMNS = (
    "event_id", "office_id", "device_id", "counter_id", "staff_id", "procedure_code",
    "dossier_id", "occurred_at", "occurred_at_us", "scale", "value",
    "kafka_partition", "kafka_offset", "version",
)
KIOSK_HOURLY_COLUMNS = ("office_id", "hour", "k_n", "k_sat", "k_misuse", "version")
# The earliest copy of an event (lowest offset) must win in ReplacingMergeTree, which
# keeps the highest version: count down from the top of UInt64.
_VERSION_TOP = 2**64 - 1
# A press less than this after the previous press of its device is misuse.
MISUSE_GAP = timedelta(seconds=4)
_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(ts: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding)."""
    return (ts - _EPOCH) // timedelta(microseconds=1)


def floor_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def kiosk_raw_row(event: KioskRating, partition: int, offset: int) -> tuple[Any, ...]:
    """The ``kiosk_ratings_raw`` row of one rating, in KIOSK_RAW_COLUMNS order."""
    ts = event.occurred_at
    return (
        event.event_id, event.office_id, event.device_id, event.counter_id, event.staff_id,
        event.procedure_code, event.dossier_id, ts.replace(microsecond=0), epoch_us(ts),
        event.scale, event.value, partition, offset, _VERSION_TOP - offset,
    )


def affected_ranges(events: Sequence[KioskRating]) -> dict[str, tuple[datetime, datetime]]:
    """Per office, the hours whose buckets these events can change: [first, end).

    A press changes its own hour, and the next hour if it falls in the last 4 s of its
    own (it may make the next hour's first press misuse).
    """
    ranges: dict[str, tuple[datetime, datetime]] = {}
    for e in events:
        start = floor_hour(e.occurred_at)
        end = floor_hour(e.occurred_at + MISUSE_GAP) + _HOUR
        if e.office_id in ranges:
            lo, hi = ranges[e.office_id]
            ranges[e.office_id] = (min(lo, start), max(hi, end))
        else:
            ranges[e.office_id] = (start, end)
    return ranges


def bucket_params(ranges: dict[str, tuple[datetime, datetime]]) -> dict[str, Any]:
    """Parameters of ``sql/kiosk_buckets.sql`` for these office ranges."""
    offices = sorted(ranges)
    starts = [epoch_us(ranges[o][0]) for o in offices]
    ends = [epoch_us(ranges[o][1]) for o in offices]
    return {"offices": offices, "office_set": tuple(offices), "start_us": starts,
            "end_us": ends, "lo_us": min(starts), "hi_us": max(ends)}


def refresh_kiosk_buckets(wh: Warehouse, events: Sequence[KioskRating]) -> int:
    """Recompute from raw the hourly buckets these events touch; return how many."""
    if not events:
        return 0
    params = bucket_params(affected_ranges(events))
    wh.execute(f"INSERT INTO kiosk_hourly ({', '.join(KIOSK_HOURLY_COLUMNS)}) "
               + sql("kiosk_buckets"), params)
    return len(params["offices"])

"""The kiosk channel in ClickHouse: raw rows, misuse flags and hourly buckets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from hailong.contract import KioskRating
from hailong.counting import HOUR_US, MISUSE_GAP_US, hour_of
from warehouse.buckets import Ranges, epoch_us, ranges_of, raw_version, refresh
from warehouse.client import Warehouse

RAW_TABLE = "kiosk_ratings_raw"


class KioskRaw(NamedTuple):
    """A row of ``kiosk_ratings_raw``: one rating, where Kafka had it."""

    event_id: UUID
    office_id: str
    device_id: str
    counter_id: str | None
    staff_id: str | None
    procedure_code: str | None
    dossier_id: str | None
    occurred_at: datetime
    occurred_at_us: int
    scale: int
    value: int
    kafka_partition: int
    kafka_offset: int
    version: int


RAW_COLUMNS = KioskRaw._fields
HOURLY_COLUMNS = ("office_id", "hour", "k_n", "k_sat", "k_misuse", "version")
MISUSE_COLUMNS = ("event_id", "office_id", "device_id", "occurred_at_us", "misuse", "version")


def raw_row(event: KioskRating, partition: int, offset: int) -> KioskRaw:
    """The raw row of one rating."""
    ts = event.occurred_at
    return KioskRaw(
        event_id=event.event_id,
        office_id=event.office_id,
        device_id=event.device_id,
        counter_id=event.counter_id,
        staff_id=event.staff_id,
        procedure_code=event.procedure_code,
        dossier_id=event.dossier_id,
        occurred_at=ts.replace(microsecond=0),
        occurred_at_us=epoch_us(ts),
        scale=event.scale,
        value=event.value,
        kafka_partition=partition,
        kafka_offset=offset,
        version=raw_version(partition, offset),
    )


def at_us(event: KioskRating) -> int:
    return epoch_us(event.occurred_at)


def spans(presses: Iterable[tuple[str, int]]) -> Ranges:
    """Per office, the buckets presses at (office, time in µs) can change: their own
    hour, and the next one for a press in the last 4 s of its hour (it may make that
    hour's first press misuse)."""
    return ranges_of((o, hour_of(t), hour_of(t + MISUSE_GAP_US) + HOUR_US) for o, t in presses)


def affected(events: Sequence[KioskRating]) -> Ranges:
    """The buckets these presses can change (:func:`spans`)."""
    return spans((e.office_id, at_us(e)) for e in events)


def refresh_kiosk(wh: Warehouse, events: Sequence[KioskRating]) -> None:
    """Recompute from raw the misuse flags and hourly buckets these presses touch."""
    refresh_ranges(wh, affected(events))


def refresh_at(wh: Warehouse, presses: Sequence[tuple[str, int]]) -> None:
    """Recompute the buckets that presses at (office, time in µs) touch."""
    refresh_ranges(wh, spans(presses))


def refresh_ranges(wh: Warehouse, ranges: Ranges) -> None:
    """Recompute from raw the misuse flags and hourly buckets of these office ranges."""
    refresh(wh, "kiosk_misuse_flags", MISUSE_COLUMNS, "kiosk_misuse", ranges)
    refresh(wh, "kiosk_hourly", HOURLY_COLUMNS, "kiosk_buckets", ranges)

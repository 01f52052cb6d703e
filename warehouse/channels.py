"""The three channels as the stream worker sees them: where their raw rows go, and how
their hourly buckets are refreshed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from warehouse import camera, kiosk, qr
from warehouse.buckets import Ranges
from warehouse.client import Warehouse

E = TypeVar("E")


@dataclass(frozen=True)
class Channel(Generic[E]):
    name: str
    raw_table: str
    raw_columns: tuple[str, ...]
    raw_row: Callable[[E, int, int], tuple[Any, ...]]
    refresh: Callable[[Warehouse, Sequence[E]], None]  # the buckets these events touch
    refresh_ranges: Callable[[Warehouse, Ranges], None]  # the buckets of office ranges
    at_us: Callable[[E], int]  # an event's time (UTC µs): with its office, its buckets
    refresh_at: Callable[[Warehouse, Sequence[tuple[str, int]]], None]  # of (office, µs)


KIOSK = Channel(
    "kiosk",
    kiosk.RAW_TABLE,
    kiosk.RAW_COLUMNS,
    kiosk.raw_row,
    kiosk.refresh_kiosk,
    kiosk.refresh_ranges,
    kiosk.at_us,
    kiosk.refresh_at,
)
QR = Channel(
    "qr",
    qr.RAW_TABLE,
    qr.RAW_COLUMNS,
    qr.raw_row,
    qr.refresh_qr,
    qr.refresh_ranges,
    qr.at_us,
    qr.refresh_at,
)
CAMERA = Channel(
    "camera",
    camera.RAW_TABLE,
    camera.RAW_COLUMNS,
    camera.raw_row,
    camera.refresh_camera,
    camera.refresh_ranges,
    camera.at_us,
    camera.refresh_at,
)
BY_NAME = {c.name: c for c in (KIOSK, QR, CAMERA)}

# Per channel, the events its hourly buckets hold: every landed event is in exactly one
# bucket (counted, or misuse, duplicate, low confidence, queue observation). What the
# demo and the benchmarks wait for.
BUCKETED_SQL = {
    "kiosk": "SELECT sum(k_n + k_misuse) FROM kiosk_hourly FINAL",
    "qr": "SELECT sum(q_n + q_duplicates) FROM qr_hourly FINAL",
    "camera": "SELECT sum(c_n + c_low_confidence + queue_obs) FROM camera_hourly FINAL",
}


def landed(wh: Any) -> dict[str, int]:
    """Per channel, the distinct events in raw (``wh``: anything with ``execute``)."""
    return {
        name: int(wh.execute(f"SELECT uniqExact(event_id) FROM {c.raw_table}")[0][0])
        for name, c in BY_NAME.items()
    }


def bucketed(wh: Any) -> dict[str, int]:
    """Per channel, the events in its hourly buckets (:data:`BUCKETED_SQL`)."""
    return {name: int(wh.execute(q)[0][0] or 0) for name, q in BUCKETED_SQL.items()}

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

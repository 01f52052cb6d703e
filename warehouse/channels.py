"""The three channels as the stream worker sees them: where their raw rows go, and how
their hourly buckets are refreshed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from warehouse import camera, kiosk, qr
from warehouse.client import Warehouse

E = TypeVar("E")


@dataclass(frozen=True)
class Channel(Generic[E]):
    name: str
    raw_table: str
    raw_columns: tuple[str, ...]
    raw_row: Callable[[E, int, int], tuple[Any, ...]]
    refresh: Callable[[Warehouse, Sequence[E]], None]


KIOSK = Channel("kiosk", kiosk.RAW_TABLE, kiosk.RAW_COLUMNS, kiosk.raw_row, kiosk.refresh_kiosk)
QR = Channel("qr", qr.RAW_TABLE, qr.RAW_COLUMNS, qr.raw_row, qr.refresh_qr)
CAMERA = Channel("camera", camera.RAW_TABLE, camera.RAW_COLUMNS, camera.raw_row,
                 camera.refresh_camera)

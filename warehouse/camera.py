"""The camera channel in ClickHouse: raw observations and hourly buckets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from hailong.contract import CameraObservation
from warehouse.buckets import Ranges, epoch_us, hour_spans, raw_version, refresh
from warehouse.client import Warehouse

RAW_TABLE = "camera_observations_raw"


class CameraRaw(NamedTuple):
    """A row of ``camera_observations_raw``: one observation, where Kafka had it."""

    event_id: UUID
    office_id: str
    camera_id: str
    observed_at: datetime
    observed_at_us: int
    kind: str
    sentiment: str | None
    confidence: float | None
    track_id: str | None
    queue_length: int | None
    wait_seconds: float | None
    kafka_partition: int
    kafka_offset: int
    version: int


RAW_COLUMNS = CameraRaw._fields
HOURLY_COLUMNS = (
    "office_id",
    "hour",
    "c_n",
    "c_pos",
    "c_low_confidence",
    "queue_obs",
    "queue_length_sum",
    "queue_length_max",
    "wait_obs",
    "wait_seconds_sum",
    "version",
)


def raw_row(event: CameraObservation, partition: int, offset: int) -> CameraRaw:
    """The raw row of one observation."""
    ts = event.observed_at
    return CameraRaw(
        event_id=event.event_id,
        office_id=event.office_id,
        camera_id=event.camera_id,
        observed_at=ts.replace(microsecond=0),
        observed_at_us=epoch_us(ts),
        kind=event.kind,
        sentiment=event.sentiment,
        confidence=event.confidence,
        track_id=event.track_id,
        queue_length=event.queue_length,
        wait_seconds=event.wait_seconds,
        kafka_partition=partition,
        kafka_offset=offset,
        version=raw_version(partition, offset),
    )


def at_us(event: CameraObservation) -> int:
    return epoch_us(event.observed_at)


def refresh_camera(wh: Warehouse, events: Sequence[CameraObservation]) -> None:
    """Recompute from raw the hourly buckets these observations touch."""
    refresh_at(wh, [(e.office_id, at_us(e)) for e in events])


def refresh_at(wh: Warehouse, observations: Sequence[tuple[str, int]]) -> None:
    """Recompute the buckets of observations at (office, time in µs)."""
    refresh_ranges(wh, hour_spans(observations))


def refresh_ranges(wh: Warehouse, ranges: Ranges) -> None:
    """Recompute from raw the hourly buckets of these office ranges."""
    refresh(wh, "camera_hourly", HOURLY_COLUMNS, "camera_buckets", ranges)

"""The camera channel in ClickHouse: raw observations and hourly buckets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hailong.contract import CameraObservation
from warehouse.buckets import Ranges, epoch_us, hour_spans, raw_version, refresh
from warehouse.client import Warehouse

RAW_TABLE = "camera_observations_raw"
RAW_COLUMNS = (
    "event_id",
    "office_id",
    "camera_id",
    "observed_at",
    "observed_at_us",
    "kind",
    "sentiment",
    "confidence",
    "track_id",
    "queue_length",
    "wait_seconds",
    "kafka_partition",
    "kafka_offset",
    "version",
)
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


def raw_row(event: CameraObservation, partition: int, offset: int) -> tuple[Any, ...]:
    """The raw row of one observation, in RAW_COLUMNS order."""
    ts = event.observed_at
    return (
        event.event_id,
        event.office_id,
        event.camera_id,
        ts.replace(microsecond=0),
        epoch_us(ts),
        event.kind,
        event.sentiment,
        event.confidence,
        event.track_id,
        event.queue_length,
        event.wait_seconds,
        partition,
        offset,
        raw_version(partition, offset),
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

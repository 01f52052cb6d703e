"""What the stream worker does with one batch of Kafka messages.

1. Validate every message against contract v1 (:func:`split`, pure).
2. Publish the invalid ones to the dead-letter topic, and wait for Kafka's ack; then
   land them in ClickHouse (``dead_letters``, one row per source message).
3. Skip copies of events landed before from another message (``event_index``), then
   insert the valid ones into their raw ClickHouse tables (kiosk, QR, camera).
4. Recompute, from raw, the hourly buckets (and kiosk misuse flags) they touch.

Only then does the caller acknowledge the batch, so Kafka offsets are committed only
after ClickHouse confirmed. Every step is safe to repeat: a replayed batch writes raw
rows identical to the first time (ReplacingMergeTree, version from the Kafka offset)
and recomputes the same buckets, so a crash anywhere leaves ClickHouse as if the batch
had run once. A replayed dead letter may reach the topic twice (its source message
identifies it) but is one row of ``dead_letters``: the table is keyed by the source
message and keeps the first rejection. A failing step is retried with backoff until
it succeeds; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from hailong.contract import CameraObservation, DeadLetter, KioskRating, QrSurvey, parse_event
from hailong.errors import DeliveryError, InvalidEvent, WarehouseError
from hailong.kafka import deliver, make_producer
from hailong.settings import Settings
from warehouse import event_index
from warehouse.buckets import VERSION_TOP, epoch_us
from warehouse.channels import CAMERA, KIOSK, QR, Channel
from warehouse.client import Warehouse

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    """One Kafka message as the worker received it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone, which no device should send


@dataclass
class Batch:
    """A batch split into what goes where."""

    kiosk: list[tuple[KioskRating, Received]] = field(default_factory=list)
    qr: list[tuple[QrSurvey, Received]] = field(default_factory=list)
    camera: list[tuple[CameraObservation, Received]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    copies: int = 0  # events skipped: landed before from another message

    @property
    def landed(self) -> int:
        return len(self.kiosk) + len(self.qr) + len(self.camera)

    def drop(self, event_ids: set[Any]) -> None:
        """Leave out these events (copies of events landed before)."""
        before = self.landed
        self.kiosk = [x for x in self.kiosk if x[0].event_id not in event_ids]
        self.qr = [x for x in self.qr if x[0].event_id not in event_ids]
        self.camera = [x for x in self.camera if x[0].event_id not in event_ids]
        self.copies += before - self.landed


def split(messages: Sequence[Received], topic_prefix: str, now: datetime | None = None) -> Batch:
    """Validate each message; sort valid events by channel, invalid ones to dead letters.

    An event seen twice in the batch (a device resending) is kept once; copies in
    different batches are caught by ``event_index`` in :meth:`Ingestor.process`.
    """
    batch = Batch()
    rejected_at = now or datetime.now(UTC)
    seen: set[Any] = set()
    for msg in messages:
        try:
            if msg.value is None:
                raise InvalidEvent("value is null (a tombstone), not an event")
            event = parse_event(msg.value, msg.topic.removeprefix(topic_prefix))
        except InvalidEvent as exc:
            batch.dead.append(DeadLetter.for_message(
                topic=msg.topic, partition=msg.partition, offset=msg.offset, key=msg.key,
                value=msg.value or b"", error=exc.reason, rejected_at=rejected_at,
            ))
            continue
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        if isinstance(event, KioskRating):
            batch.kiosk.append((event, msg))
        elif isinstance(event, QrSurvey):
            batch.qr.append((event, msg))
        else:
            batch.camera.append((event, msg))
    return batch


DEAD_LETTERS_TABLE = "dead_letters"
DEAD_LETTER_COLUMNS = (
    "source_topic", "kafka_partition", "kafka_offset", "key", "raw", "error",
    "rejected_at", "rejected_at_us", "version",
)


def dead_letter_row(dead: DeadLetter) -> tuple[Any, ...]:
    """The ``dead_letters`` row of a dead letter, in DEAD_LETTER_COLUMNS order: the
    original bytes, and a version that makes the first rejection of a message win."""
    at_us = epoch_us(dead.rejected_at)
    return (
        dead.source_topic, dead.partition, dead.offset, dead.key,
        base64.b64decode(dead.raw), dead.error, dead.rejected_at.replace(microsecond=0),
        at_us, VERSION_TOP - at_us,
    )


def land_dead_letters(wh: Warehouse, dead: Sequence[DeadLetter]) -> int:
    """Insert dead letters into ``dead_letters`` (idempotent: keyed by source message)."""
    rows = [dead_letter_row(d) for d in dead]
    if rows:
        # Warehouse.insert checks that a String value is a str; `raw` is the exact bytes
        # (not always UTF-8), so this goes through the driver's unchecked insert path,
        # which execute() takes for an INSERT with a list of rows.
        wh.execute(f"INSERT INTO {DEAD_LETTERS_TABLE} ({', '.join(DEAD_LETTER_COLUMNS)}) "
                   "VALUES", rows)  # type: ignore[arg-type]
    return len(rows)


class Ingestor:
    """Lands batches in ClickHouse; one instance per worker, used by one agent."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warehouse = Warehouse(settings)
        self.producer = make_producer(settings)

    async def process(self, messages: Sequence[Received]) -> Batch:
        """Land one batch; returns only when every part of it is confirmed."""
        batch = split(messages, self.settings.topic_prefix)
        if batch.dead:
            # Kafka first, then ClickHouse, both before the caller acknowledges the batch:
            # a crash in between replays the batch, which publishes again (a duplicate
            # the topic tolerates) and lands again (one row per source message).
            await self._retry("dead letters", self._publish_dead_letters, batch.dead)
            await self._retry(f"insert into {DEAD_LETTERS_TABLE}", land_dead_letters,
                              self.warehouse, batch.dead)
        # Each event_id once: drop copies of events landed earlier from other messages.
        positions = [(e.event_id, (m.topic, m.partition, m.offset))
                     for e, m in [*batch.kiosk, *batch.qr, *batch.camera]]
        if positions:
            copies = await self._retry("event index look-up", event_index.landed_elsewhere,
                                       self.warehouse, positions)
            if copies:
                batch.drop(copies)
                log.info("skipped %d copies of events landed before", len(copies))
            await self._retry("event index", event_index.record, self.warehouse,
                              [p for p in positions if p[0] not in copies])
        channels: list[tuple[Channel[Any], list[tuple[Any, Received]]]] = [
            (KIOSK, batch.kiosk), (QR, batch.qr), (CAMERA, batch.camera)]
        # All raw rows first, then the buckets: a crash in between leaves nothing that a
        # replay of the batch does not redo identically.
        for channel, items in channels:
            if items:
                rows = [channel.raw_row(event, msg.partition, msg.offset) for event, msg in items]
                await self._retry(f"insert into {channel.raw_table}", self.warehouse.insert,
                                  channel.raw_table, channel.raw_columns, rows)
        for channel, items in channels:
            if items:
                await self._retry(f"{channel.name} buckets", channel.refresh, self.warehouse,
                                  [event for event, _ in items])
        return batch

    def _publish_dead_letters(self, dead: list[DeadLetter]) -> int:
        return deliver(self.producer, self.settings.topics.deadletter,
                       ((d.key.encode("utf-8") if d.key is not None else None, d.to_json())
                        for d in dead))

    async def _retry(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in a thread until it succeeds; back off on failure, never skip."""
        delay = 0.5
        while True:
            try:
                return await asyncio.to_thread(fn, *args)
            except (WarehouseError, DeliveryError) as exc:
                log.warning("%s failed, retrying in %.1f s: %s", what, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max_s)

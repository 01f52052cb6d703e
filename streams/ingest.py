"""What the stream worker does with one batch of Kafka messages.

Over 400 lines on purpose: the batch's steps (validate, dead-letter, verify, land, count,
acknowledge) in the order that makes a crash at any point safe, read top to bottom.

1. Validate every message against contract v1 (:func:`split`, pure).
2. Publish the invalid ones to the dead-letter topic, and wait for Kafka's ack; then
   land them in ClickHouse (``dead_letters``, one row per source message).
3. Hold the valid but implausible events in the quarantine (``streams/plausible.py``,
   ``warehouse/quarantine.py``): kept with their reasons, not counted.
4. Keep the signed value of each message that lands (``warehouse/evidence.py``), for
   ``hailong audit verify``.
5. Each event_id once (``warehouse/claims.py``): look up the claims of the batch's
   event_ids, decide which messages land (new events and replays of candidates; not
   copies of events claimed before), write the batch's claims, then insert the messages
   that land into their raw ClickHouse tables (kiosk, QR, camera).
6. Read the claims again and recompute, from raw, the hourly buckets (and kiosk misuse
   flags) the landed events touch, and those of every copy another worker landed at
   the same moment; mark the published rankings the landed events touch stale; note
   when each kiosk and camera was last heard from (view ``device_health``).

Only then does the caller acknowledge the batch, so Kafka offsets are committed only
after ClickHouse confirmed. Every step is safe to repeat: a replayed batch writes raw
rows identical to the first time (ReplacingMergeTree, version from the Kafka position),
finds its own claims and recomputes the same buckets, so a crash anywhere leaves
ClickHouse as if the batch had run once, whatever order the replay brings the messages
in. A replayed dead letter may reach the topic twice (its source message identifies it)
but is one row of ``dead_letters``: the table is keyed by the source message and keeps
the first rejection. A failing step is retried with backoff until it succeeds; nothing
is skipped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from hailong.clock import SYSTEM, Clock
from hailong.contract import (
    MAX_REASON_CHARS,
    CameraObservation,
    DeadLetter,
    KioskRating,
    QrSurvey,
    parse_event,
)
from hailong.errors import DeliveryError, InvalidEvent, WarehouseError
from hailong.kafka import WORKER, Headers, deliver, make_producer
from hailong.registry import OfficeCalendar
from hailong.settings import Settings
from infra.topics import ensure_topics
from streams.plausible import Rules, doubts, qr_token_doubt, signature_doubt
from warehouse import device_health, devices, evidence, landing, quarantine
from warehouse.buckets import VERSION_TOP, epoch_us
from warehouse.channels import CAMERA, KIOSK, QR, Channel
from warehouse.client import Warehouse
from warehouse.devices import DeviceKeys
from warehouse.registry import office_calendar, registry_version

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
    broker_us: int | None = None  # the broker's timestamp (LogAppendTime), UTC µs
    headers: Sequence[tuple[str, bytes | None]] | None = None  # the signature is here


@dataclass
class Batch:
    """A batch split into what goes where."""

    kiosk: list[tuple[KioskRating, Received]] = field(default_factory=list)
    qr: list[tuple[QrSurvey, Received]] = field(default_factory=list)
    camera: list[tuple[CameraObservation, Received]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    held: int = 0  # valid but implausible: in the quarantine
    copies: int = 0  # messages not landed: copies of an event_id claimed before

    @property
    def landed(self) -> int:
        return len(self.kiosk) + len(self.qr) + len(self.camera)


def dead_letter(msg: Received, error: str, now: datetime) -> DeadLetter:
    """The dead letter of a message refused for ``error``."""
    return DeadLetter.for_message(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key,
        value=msg.value or b"",
        error=error,
        rejected_at=now,
    )


def split(messages: Sequence[Received], topic_prefix: str, now: datetime) -> Batch:
    """Validate each message; sort valid events by channel, invalid ones to dead letters.

    Every valid message is kept, copies of one event_id included: which of them lands
    is decided by the claims (``warehouse/claims.py``), never by the order of the batch,
    which a replay need not repeat. ``now`` stamps the dead letters (the worker's clock).
    """
    batch = Batch()
    for msg in messages:
        try:
            if msg.value is None:
                raise InvalidEvent("value is null (a tombstone), not an event")
            event = parse_event(msg.value, msg.topic.removeprefix(topic_prefix))
        except InvalidEvent as exc:
            batch.dead.append(dead_letter(msg, exc.reason, now))
            continue
        if isinstance(event, KioskRating):
            batch.kiosk.append((event, msg))
        elif isinstance(event, QrSurvey):
            batch.qr.append((event, msg))
        else:
            batch.camera.append((event, msg))
    return batch


# A dead letter's original bytes go to the topic up to this size; a longer value is cut
# (the table keeps it whole), with its size and sha256 in the message's headers and the
# error, so the message stays far below Kafka's message size limit (1 MB by default).
DEAD_LETTER_RAW_MAX = 256 * 1024


def dead_letter_message(dead: DeadLetter) -> tuple[bytes | None, bytes, Headers]:
    """The dead-letter topic's message for ``dead``: key, value and headers."""
    key = dead.key.encode("utf-8") if dead.key is not None else None
    raw = base64.b64decode(dead.raw)
    if len(raw) <= DEAD_LETTER_RAW_MAX:
        return key, dead.to_json(), []
    digest = hashlib.sha256(raw).hexdigest()
    cut = dead.model_copy(
        update={
            "raw": base64.b64encode(raw[:DEAD_LETTER_RAW_MAX]).decode("ascii"),
            "error": f"{dead.error} (raw cut to its first {DEAD_LETTER_RAW_MAX:,} of "
            f"{len(raw):,} bytes; sha256 {digest})",
        }
    )
    return (
        key,
        cut.to_json(),
        [
            ("hailong-raw-bytes", str(len(raw)).encode()),
            ("hailong-raw-sha256", digest.encode()),
            ("hailong-raw-truncated", b"1"),
        ],
    )


DEAD_LETTERS_TABLE = "dead_letters"
DEAD_LETTER_COLUMNS = (
    "source_topic",
    "kafka_partition",
    "kafka_offset",
    "key",
    "raw",
    "error",
    "rejected_at",
    "rejected_at_us",
    "version",
)


def dead_letter_row(dead: DeadLetter) -> tuple[Any, ...]:
    """The ``dead_letters`` row of a dead letter, in DEAD_LETTER_COLUMNS order: the
    original bytes, and a version that makes the first rejection of a message win."""
    at_us = epoch_us(dead.rejected_at)
    return (
        dead.source_topic,
        dead.partition,
        dead.offset,
        dead.key,
        base64.b64decode(dead.raw),
        dead.error,
        dead.rejected_at.replace(microsecond=0),
        at_us,
        VERSION_TOP - at_us,
    )


def land_dead_letters(wh: Warehouse, dead: Sequence[DeadLetter]) -> int:
    """Insert dead letters into ``dead_letters`` (idempotent: keyed by source message)."""
    rows = [dead_letter_row(d) for d in dead]
    if rows:
        # Warehouse.insert checks that a String value is a str; `raw` is the exact bytes
        # (not always UTF-8), so this goes through the driver's unchecked insert path,
        # which execute() takes for an INSERT with a list of rows.
        query = f"INSERT INTO {DEAD_LETTERS_TABLE} ({', '.join(DEAD_LETTER_COLUMNS)}) VALUES"
        wh.execute(query, rows)  # type: ignore[arg-type]
    return len(rows)


class Ingestor:
    """Lands batches in ClickHouse; one instance per worker, used by one agent."""

    def __init__(self, settings: Settings, clock: Clock = SYSTEM) -> None:
        self.settings = settings
        self.clock = clock
        self.warehouse = Warehouse(settings)
        self.producer = make_producer(settings, WORKER)
        self.calendar: OfficeCalendar | None = None  # the registry's offices, when checked
        self.device_keys: DeviceKeys | None = None  # the device registry, when checked
        self.qr_secret: str | None = None  # the QR gateway's token key, when checked

    def channels(self, batch: Batch) -> list[tuple[Channel[Any], list[tuple[Any, Received]]]]:
        return [(KIOSK, batch.kiosk), (QR, batch.qr), (CAMERA, batch.camera)]

    async def process(self, messages: Sequence[Received]) -> Batch:
        """Land one batch; returns only when every part of it is confirmed."""
        batch = split(messages, self.settings.topic_prefix, self.clock.now())
        if batch.dead:
            await self._send_dead_letters(batch.dead)
        await self._hold_implausible(batch)
        messages_of = [
            landing.Message(channel, event, msg.partition, msg.offset)
            for channel, items in self.channels(batch)
            for event, msg in items
        ]
        plan = await self._retry("claims look-up", landing.plan, self.warehouse, messages_of)
        self._keep(batch, plan)
        if batch.copies:
            log.info("skipped %d copies of events claimed before", batch.copies)
        # The signed values of what lands, for auditors (before raw: no counted event
        # without its evidence).
        evidence_rows = [
            row
            for channel, items in self.channels(batch)
            for event, msg in items
            if (
                row := evidence.evidence_row(
                    channel.name,
                    msg.partition,
                    msg.offset,
                    event.event_id,
                    msg.value or b"",
                    msg.headers,
                )
            )
        ]
        if evidence_rows:
            await self._retry("evidence", evidence.record, self.warehouse, evidence_rows)
        # Claims before raw rows: only candidates ever reach raw. A crash in between
        # leaves a claim whose replay lands its raw row, whatever the batch order then.
        await self._retry("claims", landing.record, self.warehouse, plan)
        refused = await self._retry(
            "raw inserts", landing.insert_raw_isolating, self.warehouse, plan
        )
        if refused:
            await self._dead_letter_refused(messages, refused, batch)
        await self._retry("buckets", landing.refresh, self.warehouse, plan)
        await self._retry("stale rankings", landing.note_late, self.warehouse, plan, self.clock)
        seen = device_health.seen_rows(
            (
                (
                    getattr(e, "device_id", None) or e.camera_id,
                    e.office_id,
                    channel.name,
                    msg.broker_us,
                    channel.at_us(e),
                )
                for channel, items in self.channels(batch)
                if channel.name != "qr"
                for e, msg in items
            ),
            epoch_us(self.clock.now()),
        )
        if seen:
            await self._retry("device health", device_health.record_seen, self.warehouse, seen)
        return batch

    async def _rules(self) -> Rules:
        """The plausibility rules, with the registry's latest version of the offices."""
        if self.settings.quarantine_unregistered:
            version = await self._retry("registry version", registry_version, self.warehouse)
            if self.calendar is None or self.calendar.version != version:
                self.calendar = await self._retry("registry", office_calendar, self.warehouse)
                log.info(
                    "checking offices against registry version %d (%d offices)",
                    self.calendar.version,
                    len(self.calendar.spans),
                )
        if self.settings.require_signatures:
            changes = await self._retry("device registry version", devices.version, self.warehouse)
            if self.device_keys is None or self.device_keys.version != changes:
                self.device_keys = await self._retry(
                    "device registry", devices.load_keys, self.warehouse
                )
                log.info("checking signatures against %d device keys", len(self.device_keys.keys))
        if self.settings.require_signatures and self.qr_secret is None:
            # The QR gateway's token key (the same setting, or the same stack's file).
            self.qr_secret = self.settings.key("gateway_secret")
        return Rules.from_settings(self.settings, self.calendar, self.device_keys, self.qr_secret)

    async def _hold_implausible(self, batch: Batch) -> None:
        """Valid events that break a plausibility rule go to the quarantine (before the
        batch is acknowledged), and out of ``batch``: they are neither claimed nor
        counted until a person releases them."""
        if not batch.landed:
            return
        rules = await self._rules()
        now = self.clock.now()
        now_us = epoch_us(now)
        rows, held = [], []
        for channel, items in self.channels(batch):
            for event, msg in items:
                at_us = channel.at_us(event)
                found = doubts(event.office_id, at_us, msg.key, msg.broker_us, rules)
                if rules.keys is not None:
                    why = signature_doubt(
                        channel.name,
                        event,
                        msg.value or b"",
                        msg.headers,
                        at_us,
                        msg.broker_us,
                        rules.keys,
                    )
                    if why is not None:
                        found.append(why)
                if rules.qr_secret is not None and isinstance(event, QrSurvey):
                    why = qr_token_doubt(event, msg.headers, rules.qr_secret, rules.max_skew_us)
                    if why is not None:
                        found.append(why)
                if not found:
                    continue
                reason = "; ".join(found)[:MAX_REASON_CHARS]
                held.append(landing.Message(channel, event, msg.partition, msg.offset))
                rows.append(
                    (
                        msg.topic,
                        msg.partition,
                        msg.offset,
                        channel.name,
                        event.event_id,
                        event.office_id,
                        datetime.fromtimestamp(at_us // 1_000_000, UTC).replace(tzinfo=None),
                        at_us,
                        msg.broker_us or 0,
                        msg.key,
                        msg.value or b"",
                        reason,
                        now.replace(microsecond=0, tzinfo=None),
                        now_us,
                        VERSION_TOP - now_us,
                    )
                )
        if rows:
            log.warning("quarantined %d implausible events (first: %s)", len(rows), rows[0][11])
            await self._retry(
                f"insert into {quarantine.TABLE}", quarantine.hold, self.warehouse, rows
            )
            self._only(batch, held, keep=False)
            batch.held += len(rows)

    async def _dead_letter_refused(
        self, messages: Sequence[Received], refused: list[tuple[landing.Message, str]], batch: Batch
    ) -> None:
        """Messages the warehouse refused to store (the data's fault, found by bisecting
        the batch): dead-lettered with the reason, as invalid events are; the rest of
        the batch lands. Their claims stay: they never count, nor does a later copy."""
        by_position = {(m.topic, m.partition, m.offset): m for m in messages}
        now = self.clock.now()
        dead = []
        for m, reason in refused:
            topic = getattr(self.settings.topics, m.channel.name)
            msg = by_position[(topic, m.partition, m.offset)]
            why = f"the warehouse refused it: {reason}"[:MAX_REASON_CHARS]
            log.error(
                "ClickHouse refused the event at %s[%d]@%d: %s",
                msg.topic,
                msg.partition,
                msg.offset,
                reason,
            )
            dead.append(dead_letter(msg, why, now))
        await self._send_dead_letters(dead)
        self._only(batch, [m for m, _ in refused], keep=False)
        batch.dead += dead

    async def _send_dead_letters(self, dead: list[DeadLetter]) -> None:
        """Kafka first, then ClickHouse, both before the caller acknowledges the batch: a
        crash in between replays the batch, which publishes again (a duplicate the topic
        tolerates) and lands again (one row per source message)."""
        await self._retry("dead letters", self._publish_dead_letters, dead)
        await self._retry(
            f"insert into {DEAD_LETTERS_TABLE}", land_dead_letters, self.warehouse, dead
        )

    def _keep(self, batch: Batch, plan: landing.Plan) -> None:
        """Keep in ``batch`` only the messages that land; count the others as copies."""
        batch.copies += self._only(batch, plan.landing, keep=True)

    def _only(self, batch: Batch, these: Sequence[landing.Message], *, keep: bool) -> int:
        """Keep (or drop) ``these`` messages in ``batch``; return how many went."""
        marked = {(m.channel.name, m.partition, m.offset) for m in these}
        before = batch.landed
        for channel, items in self.channels(batch):
            items[:] = [
                (e, m)
                for e, m in items
                if ((channel.name, m.partition, m.offset) in marked) == keep
            ]
        return before - batch.landed

    def _publish_dead_letters(self, dead: list[DeadLetter]) -> int:
        try:
            return deliver(
                self.producer,
                self.settings.topics.deadletter,
                [dead_letter_message(d) for d in dead],
            )
        except DeliveryError as exc:
            if exc.code in ("UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC"):
                # The dead-letter topic is gone (deleted, or never made): make it again if
                # this worker may, else wait for it; the batch waits, nothing is lost.
                log.error(
                    "dead-letter topic %s is missing; creating it", self.settings.topics.deadletter
                )
                try:
                    ensure_topics(self.settings, progress=log.info)
                except Exception as create_exc:  # noqa: BLE001 - reported; retried later
                    log.error("cannot create the dead-letter topic: %s", create_exc)
            raise

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

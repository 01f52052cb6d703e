"""The quarantine: valid but implausible events, kept and shown, not counted.

The stream worker holds here every event that follows the contract but breaks a rule of
``streams/plausible.py`` (a Kafka key that is not its office, a time far ahead of the
broker's or older than the horizon, an office not in the registry on its day):
:func:`hold` writes the Kafka message, exact bytes, with its reasons. Nothing of it is
claimed or counted. City IT reads the view ``quarantined_events``.

A person who reviewed such events releases them with ``hailong quarantine release``
(:func:`release`): an audit row per message first (who, why, when, and the outcome),
then the events land through the same steps as the worker's (``landing.py``), at
their original Kafka position, so the rule "each event_id once" holds across the
quarantine too: a released event whose id already counts from another message is a
copy and does not count twice. Releasing again changes nothing but adds an audit row.

A replayed batch decides again, with the registry of its own time: if a new registry
version added the office in between, the replay counts an event the first run held
(its quarantine row stays, and the view shows it as held though it counts; release it
to close the record). The other rules depend on the message alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from hailong.clock import SYSTEM, Clock
from hailong.contract import parse_event
from hailong.errors import HailongError, InvalidEvent
from hailong.settings import Topics
from warehouse import landing
from warehouse.buckets import epoch_us
from warehouse.channels import BY_NAME
from warehouse.client import Warehouse

TABLE = "quarantine"
COLUMNS = (
    "source_topic",
    "kafka_partition",
    "kafka_offset",
    "channel",
    "event_id",
    "office_id",
    "at",
    "at_us",
    "broker_at_us",
    "key",
    "raw",
    "reason",
    "quarantined_at",
    "quarantined_at_us",
    "version",
)
RELEASE_COLUMNS = (
    "source_topic",
    "kafka_partition",
    "kafka_offset",
    "event_id",
    "released_by",
    "why",
    "released_at",
    "released_at_us",
    "outcome",
)
_BASE_TOPICS = Topics("")  # the contract's topic names, without a prefix
COUNTED = "counted"
COPY = "a copy of an event that already counts: not counted again"


class QuarantineError(HailongError):
    """A release that cannot be done (nothing to release, no reason given)."""


class Release(NamedTuple):
    source_topic: str
    partition: int
    offset: int
    event_id: UUID
    office_id: str
    outcome: str


def hold(wh: Warehouse, rows: Sequence[tuple[object, ...]]) -> int:
    """Insert quarantine rows (in :data:`COLUMNS` order); idempotent per message."""
    if rows:
        # key and raw are the exact bytes: the driver's unchecked insert path (as for
        # dead_letters), which execute() takes for an INSERT with a list of rows.
        wh.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES", list(rows))  # type: ignore[arg-type]
    return len(rows)


class Held(NamedTuple):
    """A row of the view ``quarantined_events``."""

    event_id: UUID
    channel: str
    office_id: str
    at: datetime
    quarantined_at: datetime
    reason: str
    released_by: str
    release_why: str


def held(wh: Warehouse, limit: int = 100, *, released: bool = False) -> list[Held]:
    """Quarantined messages (not yet released, or released), newest first."""
    return wh.records(
        Held,
        f"SELECT {', '.join(Held._fields)} FROM quarantined_events WHERE released = %(r)s "
        "ORDER BY quarantined_at DESC, event_id LIMIT %(n)s",
        {"r": int(released), "n": limit},
    )


def release(
    wh: Warehouse, event_ids: Sequence[UUID], by: str, why: str, clock: Clock = SYSTEM
) -> list[Release]:
    """Count the quarantined messages of ``event_ids``, with an audit row each."""
    if not by.strip() or not why.strip():
        raise QuarantineError("a release needs who releases (--by) and why (--why)")
    ids = sorted(set(event_ids))
    rows = (
        wh.execute(
            "SELECT source_topic, kafka_partition, kafka_offset, channel, event_id, raw "
            "FROM quarantine FINAL WHERE event_id IN %(ids)s "
            "ORDER BY event_id, channel, kafka_offset, kafka_partition",
            {"ids": tuple(ids)},
        )
        if ids
        else []
    )
    missing = set(ids) - {r[4] for r in rows}
    if missing:
        raise QuarantineError("not in the quarantine: " + ", ".join(map(str, sorted(missing))))
    messages: list[landing.Message] = []
    invalid: dict[tuple[str, int, int], str] = {}
    for topic, partition, offset, channel_name, _event_id, raw in rows:
        channel = BY_NAME[channel_name]
        value = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        try:
            event = parse_event(value, getattr(_BASE_TOPICS, channel_name))
        except InvalidEvent as exc:  # held under an earlier contract release, say
            invalid[(topic, partition, offset)] = f"not valid: {exc.reason}"
            continue
        messages.append(landing.Message(channel, event, partition, offset))
    plan = landing.plan(wh, messages)
    counted = {(m.channel.name, m.partition, m.offset) for m in plan.landing}
    now = clock.now()
    at_us = epoch_us(now)
    office_of = {(m.channel.name, m.partition, m.offset): m.event.office_id for m in messages}
    out = []
    for topic, partition, offset, channel_name, event_id, _raw in rows:
        outcome = invalid.get((topic, partition, offset)) or (
            COUNTED if (channel_name, partition, offset) in counted else COPY
        )
        out.append(
            Release(
                topic,
                partition,
                offset,
                event_id,
                office_of.get((channel_name, partition, offset), ""),
                outcome,
            )
        )
    # The audit first: no event counts from the quarantine without its row.
    wh.insert(
        "quarantine_releases",
        RELEASE_COLUMNS,
        [
            (
                r.source_topic,
                r.partition,
                r.offset,
                r.event_id,
                by,
                why,
                now.replace(microsecond=0, tzinfo=None),
                at_us,
                r.outcome,
            )
            for r in out
        ],
    )
    landing.record(wh, plan)
    landing.insert_raw(wh, plan)
    landing.refresh(wh, plan)
    landing.note_late(wh, plan, clock)
    return out

"""Landing valid events in ClickHouse, each event_id once (the rule: ``claims.py``).

The stream worker lands a batch in these steps, each idempotent and retried on its own
until it succeeds (``streams/ingest.py``); tests and tools run them in one call with
:func:`land`:

1. :func:`plan`: look up the claims of the events' ids and decide which messages land.
2. :func:`record`: the new claims, before any raw row: only a message claimed as a
   candidate is ever written to raw, so raw never holds a row of a copy that lost (its
   raw key can equal the owner's, and a merge would keep one of the two).
3. :func:`insert_raw`: the raw rows of the messages that land.
4. :func:`refresh`: read the claims again (marking the event_ids that another worker
   landed at the same moment as contested), recompute the buckets of the landed events,
   and those of every copy of a contested one.
5. :func:`note_late`: the landed events in a period whose ranking is already published
   mark it stale (``staleness.py``).

The worker lands what the contract accepts and ``streams/plausible.py`` finds
plausible; ``hailong quarantine release`` lands reviewed events of the quarantine
through the same steps (``quarantine.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hailong.clock import SYSTEM, Clock
from hailong.errors import DataRefused
from warehouse import claims, staleness
from warehouse.channels import BY_NAME, Channel
from warehouse.client import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """A valid event and the Kafka message it came in."""

    channel: Channel[Any]
    event: Any
    partition: int
    offset: int

    @property
    def position(self) -> claims.Position:
        return claims.Position(self.channel.name, self.offset, self.partition)


@dataclass
class Plan:
    """What a batch lands: its messages that land, the claims it writes."""

    messages: list[Message]
    new_claims: list[claims.Claim] = field(default_factory=list)
    landing: list[Message] = field(default_factory=list)

    @property
    def copies(self) -> int:
        """Messages not landed: copies of an event_id claimed before."""
        return len(self.messages) - len(self.landing)

    def by_channel(self) -> list[tuple[Channel[Any], list[Message]]]:
        out: dict[str, list[Message]] = {}
        for m in self.landing:
            out.setdefault(m.channel.name, []).append(m)
        return [(BY_NAME[name], items) for name, items in out.items()]


def plan(wh: Warehouse, messages: Sequence[Message]) -> Plan:
    """Look up the claims of these messages' event_ids; decide which land."""
    p = Plan(list(messages))
    if not messages:
        return p
    before = claims.lookup(wh, {m.event.event_id for m in messages})
    p.new_claims, land = claims.decide(
        [
            (
                m.event.event_id,
                m.position,
                claims.Located(m.event.office_id, m.channel.at_us(m.event)),
            )
            for m in messages
        ],
        before,
    )
    p.landing = [m for m in messages if (m.event.event_id, m.position) in land]
    return p


def insert_raw(wh: Warehouse, p: Plan) -> None:
    """The raw rows of the messages that land (identical when repeated)."""
    for channel, items in p.by_channel():
        insert_rows(wh, channel, items)


def insert_rows(wh: Warehouse, channel: Channel[Any], items: Sequence[Message]) -> None:
    wh.insert(
        channel.raw_table,
        channel.raw_columns,
        [channel.raw_row(m.event, m.partition, m.offset) for m in items],
    )


def insert_raw_isolating(wh: Warehouse, p: Plan) -> list[tuple[Message, str]]:
    """:func:`insert_raw`, but a message whose row the warehouse refuses (the data's
    fault) is left out and returned with the reason; the others land."""
    refused: list[tuple[Message, str]] = []
    for channel, items in p.by_channel():
        refused += refused_rows(items, partial(insert_rows, wh, channel))
    if refused:
        gone = {id(m) for m, _ in refused}
        p.landing = [m for m in p.landing if id(m) not in gone]
    return refused


def refused_rows(
    messages: Sequence[Message], insert: Callable[[Sequence[Message]], None]
) -> list[tuple[Message, str]]:
    """Insert ``messages`` with ``insert``; when it fails because of the data
    (:class:`DataRefused`), bisect to find every message the warehouse refuses, land
    all the others, and return the refused with the reason. Transient errors propagate
    (the caller retries the whole call: every insert is idempotent)."""
    if not messages:
        return []
    try:
        insert(messages)
        return []
    except DataRefused as exc:
        if len(messages) == 1:
            return [(messages[0], str(exc))]
    mid = len(messages) // 2
    return refused_rows(messages[:mid], insert) + refused_rows(messages[mid:], insert)


def record(wh: Warehouse, p: Plan) -> None:
    """The batch's new claims, in one block (all or none)."""
    if p.new_claims:
        claims.record(wh, p.new_claims)


def refresh(wh: Warehouse, p: Plan) -> None:
    """Recompute the buckets the landed events touch; then, if another worker landed a
    copy of one of them at the same moment (two candidates), the buckets of every
    candidate, so that the last of the two workers leaves them as the owner rule says."""
    if not p.messages:
        return
    after = claims.lookup_shared(wh, {m.event.event_id for m in p.landing})
    contested = claims.contested(after)
    # Marked before any refresh, so every refresh from here on counts the owner alone.
    claims.mark_contested(wh, contested)
    for channel, items in p.by_channel():
        channel.refresh(wh, [m.event for m in items])
    for name, channel in BY_NAME.items():
        where = sorted(
            {
                (c.where.office_id, c.where.at_us)
                for c in contested
                if c.position.channel == name and c.where.office_id
            }
        )
        if where:
            log.info(
                "%d %s copies landed at once by two workers; refreshing their buckets",
                len(where),
                name,
            )
            channel.refresh_at(wh, where)


def note_late(wh: Warehouse, p: Plan, clock: Clock = SYSTEM) -> int:
    """After :func:`refresh`: mark the published periods the landed events touch stale."""
    return staleness.note_late(
        wh,
        [
            staleness.Landed(
                m.event.event_id, m.channel.name, m.event.office_id, m.channel.at_us(m.event)
            )
            for m in p.landing
        ],
        clock.now(),
    )


def land(wh: Warehouse, messages: Sequence[Message], clock: Clock = SYSTEM) -> Plan:
    """All the steps at once (no retries): for tests and tools."""
    p = plan(wh, messages)
    record(wh, p)
    insert_raw(wh, p)
    refresh(wh, p)
    note_late(wh, p, clock)
    return p

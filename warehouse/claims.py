"""Each event_id once, across every channel, hour and office (table ``event_claims``).

The rule (methodology v1: "each event_id once") has to hold when one event_id reaches
the platform in several Kafka messages: a device resending, a vendor whose client
partitions differently from Hailong's, two workers reading two partitions at once, or a
worker killed between any two of its writes and the batch replayed in another order.

Every message of a valid event that a worker lands is *claimed*: one row per message
(channel, partition, offset). A claim is **uncontested** when its worker saw no other
claim of that event_id before making it. Only messages with an uncontested claim are
*candidates*; only candidates are written to the raw tables; and of an event_id's
candidates exactly one counts, its **owner**: the least by (channel, offset, partition).
An event_id has more than one candidate only when two workers landed copies of it at the
same moment; the worker that sees this marks it in ``contested_events``, and the bucket
queries read the claims of marked ids alone to count their owner
(``warehouse/sql/claims_head.sql``): every other raw row counts as it is. The
reconciliation applies the rule again in Python, from all the claims (:func:`owner`).

Why this is safe under every interleaving of kills and copies:

* A message's claim is written before its raw row (``warehouse/landing.py``), and the
  batch is acknowledged only after both. A worker killed after its claims is replayed,
  finds its own messages claimed, and lands the candidates among them (idempotent);
  killed before, it decides again from scratch. Nothing depends on the order of
  messages within a batch. Raw holds only candidates, so two rows of one event_id with
  the same raw key (same channel, office, time) are both candidates, and the one a
  merge keeps (the least (offset, partition): ``buckets.raw_version``) is the owner.
* A late copy sees the earlier claim and is claimed contested: it never lands, so it
  cannot displace an event that already counts.
* Two workers that claim copies of a new event_id at the same moment both claim
  uncontested and both land; the owner rule then counts one. Each worker, after its
  last write, reads the claims again, marks the ids with two candidates contested and
  refreshes the buckets of every candidate of them; of two workers that each write and
  then read, at least one reads what the other wrote, so the buckets end as the rule
  says whatever the timing
  (bucket versions grow with the claims and owned rows they saw:
  ``warehouse/sql/kiosk_buckets.sql``).

Claims are never replaced or deleted (plain MergeTree), so an event_id's claims only
grow and every reader that sees the same claims sees the same owner.

Both look-ups of a batch (before its claims, and after them) ask ``claim_keys`` first:
each claim's 64-bit key, written before the claim itself (migration 0015). Only the ids
whose key is there (claimed before; or, after, claimed twice) are read from
``event_claims``, so a batch of new events costs about the same whatever the history.
A key without its claim (a crash in between) or two ids sharing a key cost a read,
never a wrong answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from warehouse.client import Warehouse

TABLE = "event_claims"
KEYS_TABLE = "claim_keys"  # migration 0015: the claims' keys, a filter for look-ups
KEY_COLUMNS = ("key", "channel", "kafka_partition", "kafka_offset")
CONTESTED_TABLE = "contested_events"
COLUMNS = (
    "event_id",
    "channel",
    "kafka_partition",
    "kafka_offset",
    "uncontested",
    "office_id",
    "at_us",
)


class Position(NamedTuple):
    """One Kafka message of an event, in owner order: (channel, offset, partition)."""

    channel: str
    offset: int
    partition: int


class Located(NamedTuple):
    """Where an event is: its office and time (UTC µs), i.e. the buckets it is in."""

    office_id: str
    at_us: int


class Claim(NamedTuple):
    """One message of an event_id, claimed: where it is in Kafka, whether its worker saw
    no earlier claim of the id, and where the event is."""

    event_id: UUID
    position: Position
    uncontested: bool
    where: Located

    def row(self) -> tuple[UUID, str, int, int, int, str, int]:
        p = self.position
        return (
            self.event_id,
            p.channel,
            p.partition,
            p.offset,
            int(self.uncontested),
            self.where.office_id,
            self.where.at_us,
        )


Claims = dict[UUID, list[Claim]]


def uuid_half_sql(first_digit: int) -> str:
    """SQL: the 16 hex digits of ``event_id``'s canonical text from ``first_digit`` (1:
    the high half, 17: the low half) as a big-endian UInt64, on every engine."""
    return (
        "reinterpretAsUInt64(reverse(unhex(substring(replaceAll(toString(event_id), '-', ''), "
        f"{first_digit}, 16))))"
    )


# The same key computed by ClickHouse from an event_id (migration 0015 writes it out).
KEY_SQL = uuid_half_sql(1)


def key_existing(wh: Warehouse) -> None:
    """Write the key of every claim in ``event_claims`` (for claims written there
    directly, not through :func:`record`: the benchmarks' generated history)."""
    wh.execute(
        f"INSERT INTO {KEYS_TABLE} ({', '.join(KEY_COLUMNS)}) "
        f"SELECT {KEY_SQL}, channel, kafka_partition, kafka_offset FROM {TABLE}"
    )


def key(event_id: UUID) -> int:
    """An event_id's key in ``claim_keys``: its first 8 bytes, big-endian (the SQL of
    migration 0015 computes the same from the UUID's text)."""
    return event_id.int >> 64


def lookup(wh: Warehouse, ids: Iterable[UUID]) -> Claims:
    """Every claim of these event_ids.

    Asked first of ``claim_keys`` (its cost does not grow with the history: migration
    0015), then of ``event_claims`` for the ids whose key is there: none for a batch of
    new events, every one for a batch replayed after a crash."""
    return _lookup_ids(wh, _keyed(wh, ids, "DISTINCT key", ""))


def lookup_shared(wh: Warehouse, ids: Iterable[UUID]) -> Claims:
    """Every claim of those of these event_ids that have two claims or more (other
    messages than one's own): all :func:`contested` needs after a batch's claims are
    written, since an event_id with one claim has one candidate at most."""
    shared = "GROUP BY key HAVING uniqExact(channel, kafka_partition, kafka_offset) > 1"
    return _lookup_ids(wh, _keyed(wh, ids, "key", shared))


def _keyed(wh: Warehouse, ids: Iterable[UUID], select: str, rest: str) -> list[UUID]:
    """The ids whose key ``SELECT {select} FROM claim_keys PREWHERE key IN _ids {rest}``
    returns."""
    by_key: dict[int, list[UUID]] = defaultdict(list)
    for i in set(ids):
        by_key[key(i)].append(i)
    if not by_key:
        return []
    query = f"SELECT {select} FROM {KEYS_TABLE} PREWHERE key IN _ids {rest}"
    found = wh.execute_with_ids(query, sorted(by_key), column=("key", "UInt64"))
    return [i for (k,) in found for i in by_key[k]]


def _lookup_ids(wh: Warehouse, ids: Iterable[UUID]) -> Claims:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = f"SELECT DISTINCT {', '.join(COLUMNS)} FROM {TABLE} PREWHERE event_id IN _ids"
    return _claims(wh.execute_with_ids(query, wanted))


def lookup_in(wh: Warehouse, ids: str, params: dict[str, Any]) -> Claims:
    """Every claim of the event_ids that ``ids`` names: a subquery in parentheses,
    with its parameters."""
    return _claims(
        wh.execute(
            f"SELECT DISTINCT {', '.join(COLUMNS)} FROM {TABLE} WHERE event_id IN {ids}", params
        )
    )


def _claims(rows: Iterable[tuple[Any, ...]]) -> Claims:
    found: Claims = defaultdict(list)
    for e, channel, partition, offset, uncontested, office_id, at_us in rows:
        eid = e if isinstance(e, UUID) else UUID(str(e))
        found[eid].append(
            Claim(
                eid,
                Position(channel, offset, partition),
                bool(uncontested),
                Located(office_id, at_us),
            )
        )
    return dict(found)


def record(wh: Warehouse, claims: Sequence[Claim]) -> None:
    """Write claims (one native block: a batch's claims land all or none), their keys
    first: a claim is never visible without its key, so the filter of :func:`lookup`
    misses none (a key without its claim, left by a crash in between, only costs a
    look-up)."""
    wh.insert(
        KEYS_TABLE,
        KEY_COLUMNS,
        [
            (key(c.event_id), c.position.channel, c.position.partition, c.position.offset)
            for c in claims
        ],
    )
    wh.insert(TABLE, COLUMNS, [c.row() for c in claims])


def mark_contested(wh: Warehouse, contested_claims: Iterable[Claim]) -> None:
    """Record the candidates of event_ids with more than one (:func:`contested`), each
    where it is: a bucket query reads the claims of the contested ids in its range (and
    only those) to count their owner alone."""
    rows = sorted({(c.where.office_id, c.where.at_us, c.event_id) for c in contested_claims})
    if rows:
        wh.insert(CONTESTED_TABLE, ("office_id", "at_us", "event_id"), rows)


def candidates(claims: Iterable[Claim]) -> set[Position]:
    """The positions with an uncontested claim (a position claimed twice, once each
    way, by two workers during a rebalance, is a candidate)."""
    return {c.position for c in claims if c.uncontested}


def contested(claims: Claims) -> list[Claim]:
    """The candidate claims of the event_ids with more than one candidate: copies that
    two workers landed at the same moment, whose buckets must follow the owner rule."""
    out = []
    for cs in claims.values():
        cands = candidates(cs)
        if len(cands) > 1:
            out += sorted(
                {c.position: c for c in cs if c.position in cands}.values(),
                key=lambda c: c.position,
            )
    return out


def owner(claims: Iterable[Claim]) -> Position | None:
    """The message that counts for an event_id: its least candidate, or None."""
    return min(candidates(claims), default=None)


def decide(
    messages: Sequence[tuple[UUID, Position, Located]],
    existing: Claims,
) -> tuple[list[Claim], set[tuple[UUID, Position]]]:
    """For a batch's messages: the claims to write, and the messages to land.

    A message already claimed (a replay) lands iff its position is a candidate. An
    event_id claimed before by other messages only: its messages are contested copies.
    A new event_id: its least message in the batch is claimed uncontested, its other
    messages contested. The result does not depend on the order of ``messages``.
    """
    by_id: dict[UUID, set[Position]] = defaultdict(set)
    where: dict[Position, Located] = {}
    for eid, pos, located in messages:
        by_id[eid].add(pos)
        where[pos] = located
    new: list[Claim] = []
    land: set[tuple[UUID, Position]] = set()
    for eid in by_id:
        before = existing.get(eid)
        if before is None and len(by_id[eid]) == 1:  # the usual case: a new event, once
            (pos,) = by_id[eid]
            new.append(Claim(eid, pos, True, where[pos]))
            land.add((eid, pos))
            continue
        before = before or []
        claimed = {c.position for c in before}
        cands = candidates(before)
        fresh = sorted(by_id[eid] - claimed)
        first = fresh[0] if fresh and not before else None
        for pos in fresh:
            new.append(Claim(eid, pos, pos == first, where[pos]))
        land |= {(eid, pos) for pos in by_id[eid] if pos in cands or pos == first}
    return new, land

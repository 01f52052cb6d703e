"""Each event_id once: the pure rule of warehouse/claims.py (which messages land, which
one counts), for every order of a batch and every split of copies across batches."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.claims import Claim, Located, Position, contested, decide, owner

E = uuid.UUID(int=7)
HERE = Located("O1", 1_000)
A = Position("kiosk", 40, 3)  # the same event on two partitions of the kiosk topic
B = Position("kiosk", 95, 0)


def claims_of(new: list[Claim]) -> dict[uuid.UUID, list[Claim]]:
    out: dict[uuid.UUID, list[Claim]] = {}
    for c in new:
        out.setdefault(c.event_id, []).append(c)
    return out


def test_a_new_event_in_a_batch_lands_once_whatever_the_order() -> None:
    for order in itertools.permutations([(E, A, HERE), (E, B, HERE)]):
        new, land = decide(list(order), {})
        assert land == {(E, A)}  # the least position, not the first in the batch
        assert {(c.position, c.uncontested) for c in new} == {(A, True), (B, False)}


def test_the_loss_window_a_claimed_then_replayed_with_b_first() -> None:
    """A was claimed, the worker died before its raw row or before the ack; the
    replay brings B first. A lands again, B is a copy: the event counts once."""
    first, _ = decide([(E, A, HERE)], {})
    new, land = decide([(E, B, HERE), (E, A, HERE)], claims_of(first))
    assert land == {(E, A)}
    assert [(c.position, c.uncontested) for c in new] == [(B, False)]
    assert owner(first + new) == A


def test_the_mirror_b_claimed_then_replayed_with_a_first() -> None:
    first, _ = decide([(E, B, HERE)], {})
    new, land = decide([(E, A, HERE), (E, B, HERE)], claims_of(first))
    assert land == {(E, B)}  # B counts although A is less: B was claimed first
    assert owner(first + new) == B


def test_a_late_copy_never_displaces_the_counted_one() -> None:
    first, _ = decide([(E, B, HERE)], {})
    late, land = decide([(E, A, Located("O-attacker", 5))], claims_of(first))
    assert land == set() and not late[0].uncontested
    assert owner(first + late) == B


def test_two_workers_at_once_both_land_and_the_least_owns() -> None:
    w1, land1 = decide([(E, B, HERE)], {})  # neither saw the other's claim
    w2, land2 = decide([(E, A, HERE)], {})
    assert land1 == {(E, B)} and land2 == {(E, A)}
    both = claims_of(w1 + w2)
    assert owner(both[E]) == A
    assert [c.position for c in contested(both)] == [A, B]
    # A rebalance can claim one message twice, once each way: it stays a candidate.
    again = Claim(E, B, False, HERE)
    assert owner([*both[E], again]) == A and contested({E: [*both[E], again]})


messages = st.lists(
    st.tuples(
        st.integers(0, 3), st.sampled_from(["kiosk", "qr"]), st.integers(0, 2), st.integers(0, 5)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(messages, st.randoms(use_true_random=False))
def test_any_split_into_batches_and_replays_counts_each_event_once(
    msgs: list[tuple[int, str, int, int]], rnd: object
) -> None:
    """One worker, messages split into batches in any order, each batch possibly run
    twice (a kill after its claims, before its ack): every event_id that reached the
    worker has exactly one owner, and the owner's message was landed."""
    import random

    assert isinstance(rnd, random.Random)
    items = [(uuid.UUID(int=e), Position(ch, off, p), HERE) for e, ch, p, off in msgs]
    rnd.shuffle(items)
    claims: dict[uuid.UUID, list[Claim]] = {}
    landed: set[tuple[uuid.UUID, Position]] = set()
    i = 0
    while i < len(items):
        n = rnd.randint(1, 4)
        batch = items[i : i + n]
        for _ in range(rnd.randint(1, 2)):  # a replay, in another order
            rnd.shuffle(batch)
            new, land = decide(batch, claims)
            landed |= land
            for c in new:
                claims.setdefault(c.event_id, []).append(c)
        i += n
    for eid in {e for e, _, _ in items}:
        own = owner(claims[eid])
        assert own is not None and (eid, own) in landed
        assert contested({eid: claims[eid]}) == []  # one worker: never two candidates


def test_bisecting_a_refused_insert_finds_every_refused_row_and_lands_the_rest() -> None:
    from hailong.errors import DataRefused
    from warehouse.landing import refused_rows

    landed: list[int] = []
    poison = {3, 4, 11}

    def insert(items: Sequence[Any]) -> None:
        bad = [i for i in items if i in poison]
        if bad:
            raise DataRefused(f"row {bad[0]} does not fit", 53)
        landed.extend(items)

    refused = refused_rows(list(range(16)), insert)  # type: ignore[arg-type]
    assert [(m, r) for m, r in refused] == [
        (3, "[ClickHouse 53] row 3 does not fit"),
        (4, "[ClickHouse 53] row 4 does not fit"),
        (11, "[ClickHouse 53] row 11 does not fit"),
    ]
    assert sorted(landed) == sorted(set(range(16)) - poison)
    assert refused_rows([], insert) == []  # type: ignore[arg-type]

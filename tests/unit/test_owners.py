"""The reconciliation's owner rule in numpy (warehouse/owners.py) equals the claims'
own rule in Python (warehouse/claims.owner) on generated claims: several candidates of
one id, contested copies, a position claimed twice, ids sharing a high half."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse import claims
from warehouse.columnar import Raw
from warehouse.owners import first_per_id, once, owned

CHANNELS = ["camera", "kiosk", "qr"]
# ids that share a high half, or a low half, with another
IDS = [(h << 64) | lo for h in (1, 2, 1 << 63) for lo in (5, 6, (1 << 64) - 1)]


def _halves(ints: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([i >> 64 for i in ints], dtype=np.uint64),
        np.array([i & ((1 << 64) - 1) for i in ints], dtype=np.uint64),
    )


@st.composite
def claim_sets(draw: Any) -> list[claims.Claim]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(IDS),
                st.sampled_from(CHANNELS),
                st.integers(0, 2),  # partition
                st.integers(0, 3),  # offset
                st.booleans(),  # uncontested
            ),
            max_size=30,
        )
    )
    return [
        claims.Claim(UUID(int=e), claims.Position(ch, off, part), unc, claims.Located("O1", 0))
        for e, ch, part, off, unc in rows
    ]


@settings(max_examples=300, deadline=None)
@given(claim_sets(), st.sampled_from(CHANNELS))
def test_owned_rows_are_the_claims_owners(found: list[claims.Claim], channel: str) -> None:
    # raw rows: one per claimed position of the channel (landed or not), some twice
    positions = sorted(
        {(c.event_id.int, c.position.partition, c.position.offset) for c in found}
        | {(IDS[0], 9, 9)}  # a row without any claim never counts
    )
    positions += positions[:3]
    hi, lo = _halves([p[0] for p in positions])
    raw = Raw(
        hi,
        lo,
        np.array([p[1] for p in positions], dtype=np.int64),
        np.array([p[2] for p in positions], dtype=np.int64),
        {},
    )
    h, lo_ = _halves([c.event_id.int for c in found])
    got = owned(
        raw,
        channel,
        {
            "hi": h,
            "lo": lo_,
            "channel": np.array([c.position.channel.encode() for c in found] or [b""])[
                : len(found)
            ],
            "partition": np.array([c.position.partition for c in found], dtype=np.int64),
            "offset": np.array([c.position.offset for c in found], dtype=np.int64),
            "uncontested": np.array([c.uncontested for c in found], dtype=np.uint8),
        },
    )
    by_id: dict[int, list[claims.Claim]] = {}
    for c in found:
        by_id.setdefault(c.event_id.int, []).append(c)
    want = [
        claims.owner(by_id.get(e, [])) == claims.Position(channel, off, part)
        for e, part, off in positions
    ]
    assert got.tolist() == want
    kept = once(raw.take(got))
    assert sorted(zip(kept.hi.tolist(), kept.lo.tolist(), strict=True)) == sorted(
        {(e >> 64, e & ((1 << 64) - 1)) for (e, _, _), w in zip(positions, want, strict=True) if w}
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(IDS), st.integers(0, 3), st.integers(0, 3))))
def test_first_per_id_is_each_ids_least_row(rows: list[tuple[int, int, int]]) -> None:
    hi, lo = _halves([r[0] for r in rows])
    a = np.array([r[1] for r in rows], dtype=np.int64)
    b = np.array([r[2] for r in rows], dtype=np.int64)
    got = [rows[i] for i in first_per_id(hi, lo, a, b).tolist()]
    want: dict[int, tuple[int, int, int]] = {}
    for r in rows:
        want[r[0]] = min(want.get(r[0], r), r)
    assert got == [want[e] for e in sorted(want)]

"""Rows packed in one buffer (pipelines/packed.py) behave as the tuple of the same rows:
equal, indexed, iterated, pickled, and the bootstrap's samples are the same with them."""

from __future__ import annotations

import pickle

import pytest

from hailong.methodology import Weights
from pipelines.bootstrap import UnitSample, replicate_scores
from pipelines.packed import Rows


def test_rows_are_the_tuple_of_their_rows() -> None:
    rows = (b"\x01\x02", b"\x02\x00", b"\x02\x01")
    packed = Rows.of(rows)
    assert packed == rows and rows == packed and hash(packed) == hash(rows)
    assert list(packed) == list(rows) and len(packed) == 3
    assert packed[-1] == rows[-1] and packed[1:] == rows[1:]
    assert pickle.loads(pickle.dumps(packed)) == packed  # noqa: S301 - our own bytes
    many = [bytes([i % 3, i % 2]) for i in range(1000)]
    assert len(pickle.dumps(Rows.of(many))) < len(pickle.dumps(tuple(many))) / 2
    assert Rows.of([]) == () and len(Rows(b"", 0, 2)) == 2
    with pytest.raises(IndexError):
        packed[3]
    with pytest.raises(ValueError):
        Rows.of([b"\x01", b"\x01\x02"])


def test_a_sample_of_packed_rows_in_any_order_draws_as_its_tuple() -> None:
    criteria = (("A", "q:A1"), ("A", "q:A2"))
    rows = [b"\x02\x01", b"\x01\x00", b"\x02\x02", b"\x00\x01"] * 10
    as_tuple = UnitSample("1", "g", k_n=5, k_sat=3, criteria=criteria, submissions=tuple(rows))
    as_rows = UnitSample("1", "g", k_n=5, k_sat=3, criteria=criteria, submissions=Rows.of(rows))
    assert as_rows == as_tuple and as_rows.counts() == as_tuple.counts()
    a, b = (replicate_scores(u, Weights(), 7, 200) for u in (as_tuple, as_rows))
    assert a is not None and b is not None and a.tolist() == b.tolist()

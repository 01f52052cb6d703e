"""The numpy buckets (hailong/counting_np.py) equal the pure reference's
(hailong/counting.py) on generated events: edge-heavy times (presses 3.999999/4/4.000001 s
apart, ties in time broken by event_id, hour lines), shared tokens, confidences at the
threshold, missing values."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hailong import counting
from hailong import counting_np as cn

HOUR = counting.HOUR_US
T0 = 1_764_000_000 * 1_000_000 - HOUR // 2  # half an hour before an hour line
GAPS = [0, 1, 3_999_999, 4_000_000, 4_000_001, 60_000_000, HOUR]
OFFICES = ["O1", "O2", "O3"]

ids = st.integers(min_value=0, max_value=(1 << 128) - 1)


def _ids_and_times(draw: Any, most: int) -> list[tuple[int, int]]:
    """Distinct event ids, each with a time a gap after the previous one."""
    n = draw(st.integers(0, most))
    t, out = T0, []
    for eid in draw(st.lists(ids, min_size=n, max_size=n, unique=True)):
        t += draw(st.sampled_from(GAPS))
        out.append((eid, t))
    return out


@st.composite
def presses(draw: Any) -> list[counting.Press]:
    out = []
    for eid, t in _ids_and_times(draw, 40):
        scale = draw(st.sampled_from([3, 4, 5]))
        out.append(
            counting.Press(
                UUID(int=eid),
                draw(st.sampled_from(OFFICES)),
                draw(st.sampled_from(["D1", "D2"])),
                t,
                scale,
                draw(st.integers(1, scale)),
            )
        )
    draw(st.randoms()).shuffle(out)
    return out


def _codes(values: list[Any]) -> np.ndarray:
    names = sorted(set(values))
    return np.array([names.index(v) for v in values], dtype=np.int64)


def _halves(events: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    ints = [e.event_id.int for e in events]
    return (
        np.array([i >> 64 for i in ints], dtype=np.uint64),
        np.array([i & ((1 << 64) - 1) for i in ints], dtype=np.uint64),
    )


def _as_dict(b: cn.Buckets, names: list[list[Any] | None]) -> dict[tuple[Any, ...], Any]:
    keys = [
        [n[int(x)] for x in col] if n is not None else [int(x) for x in col]
        for col, n in zip(b.keys, names, strict=True)
    ]
    values = [[x.item() for x in col] for col in b.values]
    return {
        tuple(k): tuple(v)
        for k, v in zip(zip(*keys, strict=True), zip(*values, strict=True), strict=True)
    }


@settings(max_examples=200, deadline=None)
@given(presses())
def test_kiosk_buckets_and_misuse_equal_the_reference(ps: list[counting.Press]) -> None:
    office_names = sorted({p.office_id for p in ps})
    office = np.array([office_names.index(p.office_id) for p in ps], dtype=np.int64)
    device = _codes([p.device_id for p in ps])
    t = np.array([p.t_us for p in ps], dtype=np.int64)
    hi, lo = _halves(ps)
    flagged = cn.misuse(office, device, t, hi, lo)
    assert {p.event_id for p, f in zip(ps, flagged, strict=True) if f} == counting.misuse(ps)
    got = cn.kiosk_buckets(
        office,
        t,
        np.array([p.scale for p in ps], dtype=np.int64),
        np.array([p.value for p in ps], dtype=np.int64),
        flagged,
    )
    assert _as_dict(got, [office_names, None]) == counting.kiosk_buckets(ps)


@st.composite
def submissions(draw: Any) -> list[counting.Submission]:
    events = _ids_and_times(draw, 30)
    times = [t for _, t in events]
    out = []
    for eid, t in events:
        answers = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["A", "P"]),
                    st.sampled_from(["c1", "c2", "c3"]),
                    st.integers(1, 5),
                ),
                max_size=4,
            )
        )
        out.append(
            counting.Submission(
                UUID(int=eid),
                draw(st.sampled_from(OFFICES)),
                draw(st.sampled_from(["t1", "t2", "t3", "t4"])),
                draw(st.sampled_from(times)) if draw(st.booleans()) else t,  # ties in time
                draw(st.sampled_from(["q1", "q2"])),
                tuple(answers),
            )
        )
    return out


@settings(max_examples=200, deadline=None)
@given(submissions())
def test_qr_buckets_equal_the_reference(subs: list[counting.Submission]) -> None:
    office_names = sorted({s.office_id for s in subs})
    q_names = sorted({s.questionnaire for s in subs})
    aspects = sorted({a for s in subs for a, _, _ in s.answers})
    criteria = sorted({c for s in subs for _, c, _ in s.answers})
    t = np.array([s.t_us for s in subs], dtype=np.int64)
    hi, lo = _halves(subs)
    counted = cn.counted_submissions(_codes([s.token_id for s in subs]), t, hi, lo)
    assert {
        s.event_id for s, c in zip(subs, counted, strict=True) if c
    } == counting.counted_submissions(subs)
    answers = [(i, a, c, v) for i, s in enumerate(subs) for a, c, v in s.answers]
    got_subs, got_crit = cn.qr_buckets(
        np.array([office_names.index(s.office_id) for s in subs], dtype=np.int64),
        t,
        np.array([q_names.index(s.questionnaire) for s in subs], dtype=np.int64),
        counted,
        np.array([i for i, _, _, _ in answers], dtype=np.int64),
        np.array([aspects.index(a) for _, a, _, _ in answers], dtype=np.int64),
        np.array([criteria.index(c) for _, _, c, _ in answers], dtype=np.int64),
        np.array([v for _, _, _, v in answers], dtype=np.int64),
    )
    want_subs, want_crit = counting.qr_buckets(subs)
    assert _as_dict(got_subs, [office_names, None]) == want_subs
    assert _as_dict(got_crit, [office_names, None, q_names, aspects, criteria]) == want_crit


@st.composite
def observations(draw: Any) -> list[counting.Observation]:
    out = []
    for i, (_, t) in enumerate(_ids_and_times(draw, 40)):
        if draw(st.booleans()):
            out.append(
                counting.Observation(
                    UUID(int=i),
                    draw(st.sampled_from(OFFICES)),
                    t,
                    "sentiment",
                    draw(st.sampled_from(["positive", "neutral", "negative", None])),
                    draw(st.sampled_from([0.59, 0.6, 0.61, 0.0, 1.0, None])),
                )
            )
        else:
            out.append(
                counting.Observation(
                    UUID(int=i),
                    draw(st.sampled_from(OFFICES)),
                    t,
                    "queue",
                    queue_length=draw(st.one_of(st.none(), st.integers(0, 40))),
                    wait_seconds=draw(st.one_of(st.none(), st.floats(0, 3600, allow_nan=False))),
                )
            )
    return out


@settings(max_examples=200, deadline=None)
@given(observations())
def test_camera_buckets_equal_the_reference(obs: list[counting.Observation]) -> None:
    office_names = sorted({o.office_id for o in obs})
    got = cn.camera_buckets(
        np.array([office_names.index(o.office_id) for o in obs], dtype=np.int64),
        np.array([o.t_us for o in obs], dtype=np.int64),
        np.array([o.kind == "sentiment" for o in obs], dtype=bool),
        np.array([o.confidence or 0.0 for o in obs], dtype=np.float64),
        np.array([o.sentiment == "positive" for o in obs], dtype=bool),
        np.array([o.queue_length or 0 for o in obs], dtype=np.int64),
        np.array([o.wait_seconds is not None for o in obs], dtype=bool),
        np.array([o.wait_seconds or 0.0 for o in obs], dtype=np.float64),
    )
    # the same floats, bit for bit: wait_seconds are added in the same order
    assert _as_dict(got, [office_names, None]) == counting.camera_buckets(obs)


def test_group_rows_numbers_groups_in_key_order_with_wide_keys_too() -> None:
    a = np.array([3, 1, 3, 1, 2], dtype=np.int64)
    b = np.array([0, 5, 0, 4, 9], dtype=np.int64)
    group, first, n = cn.group_rows(a, b)
    assert n == 4 and group.tolist() == [3, 1, 3, 0, 2]
    pairs = zip(a[first].tolist(), b[first].tolist(), strict=True)
    assert sorted(pairs) == [(1, 4), (1, 5), (2, 9), (3, 0)]
    wide = np.array([0, 1 << 62, 0, -(1 << 62)], dtype=np.int64)  # too wide for one integer
    group, _, n = cn.group_rows(wide, wide)
    assert n == 3 and group.tolist() == [1, 2, 1, 0]

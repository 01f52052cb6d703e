"""Bootstrap intervals of unit scores and ranks (pipelines/bootstrap.py): reproducible,
per-unit independent, the methodology's own formulas, hand-checked degenerate cases."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from hailong.methodology import Counts, Weights, competition_ranks, qr_score, score, two_decimals
from pipelines.bootstrap import (
    NOT_ANSWERED,
    SATISFIED,
    UNSATISFIED,
    Interval,
    UnitSample,
    bootstrap_intervals,
    cents,
    competition_rank_rows,
    inconsistent_units,
    percentile_bounds,
    percentile_indices,
    qr_scores,
    replicate_scores,
)
from pipelines.ranking import Period, UnitCounts, build_ranking

W = Weights()
CRITERIA = [
    (a, f"sipas-5/1:{a}{i}")
    for a, n in (("A", 4), ("P", 5), ("S", 5), ("R", 4), ("F", 4))
    for i in range(1, n + 1)
]


def random_unit(
    code: str, rng: random.Random, group: str = "commune", n_qr: int = 200, p: float | None = None
) -> UnitSample:
    """A unit with all three channels, satisfaction around ``p``."""
    p = rng.uniform(0.4, 0.9) if p is None else p
    subs = []
    for _ in range(n_qr):
        chosen = rng.sample(CRITERIA, rng.randint(1, 10))
        subs.append({key: rng.random() < p for key in chosen})
    k_n, c_n = rng.randint(50, 400), rng.randint(10, 100)
    return UnitSample(
        code, group, k_n=k_n, k_sat=round(k_n * p), c_n=c_n, c_pos=round(c_n * p)
    ).with_submissions(subs)


def some_units(seed: int = 7, n: int = 12) -> list[UnitSample]:
    rng = random.Random(seed)
    return [random_unit(f"9{i:04d}", rng, "commune" if i % 3 else "department") for i in range(n)]


def test_same_seed_gives_identical_intervals_and_another_seed_others() -> None:
    units = some_units()
    eligible = {u.unit_code for u in units}
    first = bootstrap_intervals(units, eligible, W, seed=2026)
    assert bootstrap_intervals(units, eligible, W, seed=2026) == first  # exactly
    other = bootstrap_intervals(units, eligible, W, seed=2027)
    assert other.keys() == first.keys()
    assert sum(other[c] != first[c] for c in first) >= len(first) - 1


def test_a_units_intervals_do_not_depend_on_other_units_or_their_order() -> None:
    units = some_units()
    eligible = {u.unit_code for u in units}
    before = bootstrap_intervals(units, eligible, W, seed=1)
    rng = random.Random(99)
    newcomer = random_unit("99999", rng, group="commune")
    other_group = random_unit("88888", rng, group="ward")
    more = [other_group, *reversed(units), newcomer]
    after = bootstrap_intervals(more, eligible | {"99999", "88888"}, W, seed=1)
    for u in units:
        # the score interval is the unit's own; so is the rank interval of a group not
        # joined by the newcomer
        assert (after[u.unit_code].score_lo, after[u.unit_code].score_hi) == (
            before[u.unit_code].score_lo,
            before[u.unit_code].score_hi,
        )
        if u.peer_group == "department":
            assert after[u.unit_code] == before[u.unit_code]
    assert replicate_scores(units[0], W, 1) is not None
    np.testing.assert_array_equal(
        replicate_scores(units[0], W, 1), replicate_scores(units[0], W, 1)
    )
    # submission order is irrelevant: rows are resampled in a canonical order
    shuffled = list(units[0].submissions)
    random.Random(3).shuffle(shuffled)
    same = UnitSample(
        units[0].unit_code,
        units[0].peer_group,
        units[0].k_n,
        units[0].k_sat,
        units[0].c_n,
        units[0].c_pos,
        units[0].criteria,
        tuple(shuffled),
    )
    np.testing.assert_array_equal(replicate_scores(same, W, 1), replicate_scores(units[0], W, 1))


def test_all_satisfied_gives_100_and_none_satisfied_gives_0() -> None:
    happy = UnitSample("1", "g", k_n=50, k_sat=50, c_n=7, c_pos=7).with_submissions(
        [{CRITERIA[0]: True, CRITERIA[9]: True}, {CRITERIA[0]: True}] * 20
    )
    kiosk_zero = UnitSample("2", "g", k_n=40, k_sat=0)
    camera_zero = UnitSample("3", "g", c_n=12, c_pos=0)
    qr_zero = UnitSample("4", "g").with_submissions([{CRITERIA[3]: False}] * 31)
    out = bootstrap_intervals(
        [happy, kiosk_zero, camera_zero, qr_zero], {"1", "2", "3", "4"}, W, seed=5
    )
    assert out["1"] == Interval(100.0, 100.0, 1, 1)
    # three units at 0.00 in every replicate: all tie at rank 2
    assert out["2"] == Interval(0.0, 0.0, 2, 2)
    assert out["3"] == Interval(0.0, 0.0, 2, 2)
    assert out["4"] == Interval(0.0, 0.0, 2, 2)


def test_a_unit_without_events_has_no_interval() -> None:
    empty = UnitSample("5", "g")
    assert empty.counts() == Counts()
    assert replicate_scores(empty, W, 1) is None
    out = bootstrap_intervals([empty, *some_units(n=3)], {"5"}, W, seed=1)
    assert out["5"] == Interval(None, None, None, None)


def test_ineligible_units_get_a_score_interval_but_no_rank_interval() -> None:
    units = some_units(n=6)
    eligible = {u.unit_code for u in units[1:]}
    out = bootstrap_intervals(units, eligible, W, seed=3)
    lone = out[units[0].unit_code]
    assert lone.score_lo is not None and lone.score_hi is not None
    assert (lone.rank_lo, lone.rank_hi) == (None, None)
    for u in units[1:]:
        assert out[u.unit_code].rank_lo is not None


def test_intervals_contain_the_point_score_and_rank() -> None:
    units = some_units(seed=11, n=30)
    eligible = {u.unit_code for u in units}
    out = bootstrap_intervals(units, eligible, W, seed=42)
    rows = build_ranking(
        Period.parse("2026-10"),
        [
            UnitCounts(
                u.peer_group,
                u.unit_code,
                u.unit_code,
                1,
                u.k_n,
                u.k_sat,
                u.q_n,
                u.c_n,
                u.c_pos,
                tuple(
                    sorted(
                        (q.split(":")[0], a, q.split(":")[1], n, s)
                        for (a, q), (n, s) in u.counts().criteria.items()
                    )
                ),
            )
            for u in units
        ],
        W,
        30,
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    for r in rows:
        iv = out[r.unit_code]
        point = score(next(u for u in units if u.unit_code == r.unit_code).counts(), W).osi
        assert r.score == point  # the sample's counts are the ranking's counts
        assert iv.score_lo is not None and iv.score_hi is not None and r.score is not None
        assert iv.score_lo <= r.score <= iv.score_hi
        assert iv.score_hi - iv.score_lo < 15
        assert iv.rank_lo is not None and iv.rank_hi is not None and r.rank is not None
        assert iv.rank_lo <= r.rank <= iv.rank_hi


def test_replicates_use_the_methodology_formulas_bit_for_bit() -> None:
    # One QR submission: every replicate is that submission, and kiosk all satisfied:
    # every replicate's OSI is exactly the point score of methodology.score.
    sub = {
        CRITERIA[0]: True,
        CRITERIA[1]: False,
        CRITERIA[2]: True,
        CRITERIA[5]: False,
        CRITERIA[14]: True,
    }
    unit = UnitSample("7", "g", k_n=3, k_sat=3).with_submissions([sub])
    point = score(unit.counts(), W).osi
    reps = replicate_scores(unit, W, 1)
    assert reps is not None and point is not None
    assert set(reps.tolist()) == {point}
    assert bootstrap_intervals([unit], {"7"}, W, 1)["7"] == Interval(point, point, 1, 1)


def test_qr_scores_equal_methodology_qr_score_exactly() -> None:
    rng = np.random.default_rng(0)
    answered = rng.integers(0, 6, size=(500, len(CRITERIA))).astype(np.float64)
    answered[rng.random(answered.shape) < 0.5] = 0  # many unanswered criteria and aspects
    answered[0, :] = 0
    answered[0, 3] = 1
    satisfied = np.floor(answered * rng.random(answered.shape))
    got = qr_scores(answered, satisfied, CRITERIA)
    for i in range(answered.shape[0]):
        c = Counts(
            q_n=1,
            criteria={
                key: (int(a), int(s))
                for key, a, s in zip(CRITERIA, answered[i], satisfied[i], strict=True)
            },
        )
        expected = qr_score(c)
        if expected is None:
            assert np.isnan(got[i])
        else:
            assert got[i] == expected  # exact, not approx


def test_counts_of_a_sample() -> None:
    unit = UnitSample("8", "g", k_n=10, k_sat=4, c_n=3, c_pos=2).with_submissions(
        [{("A", "q:A1"): True, ("S", "q:S2"): False}, {("A", "q:A1"): False}]
    )
    assert unit.criteria == (("A", "q:A1"), ("S", "q:S2"))
    # rows sorted: the sample is canonical
    assert unit.submissions == (bytes([UNSATISFIED, NOT_ANSWERED]), bytes([SATISFIED, UNSATISFIED]))
    assert unit.counts() == Counts(
        k_n=10,
        k_sat=4,
        q_n=2,
        c_n=3,
        c_pos=2,
        criteria={("A", "q:A1"): (2, 1), ("S", "q:S2"): (1, 0)},
    )


def test_percentile_bounds_are_the_pinned_order_statistics() -> None:
    assert percentile_indices(1000) == (24, 974)
    assert percentile_indices(999) == (24, 974)  # ceil(24.975) - 1, ceil(974.025) - 1
    assert percentile_indices(40) == (0, 38)
    assert percentile_indices(1) == (0, 0)
    with pytest.raises(ValueError):
        percentile_indices(0)
    values = np.random.default_rng(1).permutation(1000).astype(np.float64) / 7
    lo, hi = percentile_bounds(values)
    v = np.sort(values)
    assert (lo, hi) == (v[24], v[974])
    # per column of a (B, units) array, on integer ranks too
    ranks = np.column_stack([np.arange(1000)[::-1] % 9 + 1, np.arange(1000) // 100 + 1])
    lows, highs = percentile_bounds(ranks)
    assert lows.tolist() == [np.sort(ranks[:, 0])[24], 1] and highs.tolist() == [
        np.sort(ranks[:, 0])[974],
        10,
    ]


def test_a_dominant_unit_ranks_first_in_every_replicate() -> None:
    rng = random.Random(4)
    units = [random_unit(f"U{i}", rng, p=0.5) for i in range(8)]
    star = random_unit("STAR", rng, p=0.99)
    out = bootstrap_intervals([*units, star], {u.unit_code for u in [*units, star]}, W, seed=9)
    assert (out["STAR"].rank_lo, out["STAR"].rank_hi) == (1, 1)
    for u in units:
        rank_lo = out[u.unit_code].rank_lo
        assert rank_lo is not None and rank_lo >= 2


def test_equal_at_two_decimals_tie_in_each_replicate() -> None:
    # 100.0 and 99.999 are both 100.00: they tie for rank 1; the third unit is 3rd.
    a = UnitSample("A", "g", k_n=30, k_sat=30)
    b = UnitSample("B", "g", c_n=100000, c_pos=100000)
    c = UnitSample("C", "g", k_n=30, k_sat=0)
    out = bootstrap_intervals([a, b, c], {"A", "B", "C"}, W, seed=0)
    assert (out["A"].rank_lo, out["A"].rank_hi, out["B"].rank_lo, out["B"].rank_hi) == (1, 1, 1, 1)
    assert (out["C"].rank_lo, out["C"].rank_hi) == (3, 3)


def half_cent_heavy(rng: np.random.Generator, size: int) -> np.ndarray:
    """Scores with many exact .xx5 decimals (as floats), their float neighbours, random
    values, and exact ties."""
    thousandths = rng.integers(0, 100001, size)
    thousandths = np.where(rng.random(size) < 0.6, thousandths - thousandths % 10 + 5, thousandths)
    exact = np.array([float(f"{k // 1000}.{k % 1000:03d}") for k in thousandths])
    neighbours = np.nextafter(exact, np.where(rng.random(size) < 0.5, np.inf, -np.inf))
    pick = rng.random(size)
    return np.where(pick < 0.2, neighbours, np.where(pick < 0.3, rng.uniform(0, 100, size), exact))


def test_cents_are_two_decimals_half_up_exactly() -> None:
    rng = np.random.default_rng(12)
    values = np.concatenate(
        [half_cent_heavy(rng, 20000), [1.005, 0.125, 2.675, 99.995, 100.0, 0.0, 33.335, 57.845]]
    )
    expected = [int(two_decimals(float(v)).scaleb(2)) for v in values]
    assert cents(values).tolist() == expected
    assert cents([1.005, 2.675, 0.125]).tolist() == [101, 268, 13]  # half up on the repr


def test_vectorised_ranks_equal_methodology_competition_ranks() -> None:
    rng = np.random.default_rng(13)
    for width in (1, 2, 5, 40, 126):
        scores = half_cent_heavy(rng, 300 * width).reshape(300, width)
        # force ties at 2 decimals within rows
        scores[:, -1] = np.where(rng.random(300) < 0.5, scores[:, 0], scores[:, -1])
        got = competition_rank_rows(cents(scores))
        for row, ranks in zip(scores, got, strict=True):
            assert ranks.tolist() == competition_ranks(row.tolist())


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        UnitSample("x", "g", k_n=1, k_sat=2)
    with pytest.raises(ValueError):
        UnitSample("x", "g", criteria=(CRITERIA[1], CRITERIA[0]))
    one = (CRITERIA[0],)
    with pytest.raises(ValueError):
        replicate_scores(UnitSample("x", "g", criteria=one, submissions=(b"\x03",)), W, 1)
    with pytest.raises(ValueError):  # a counted submission with no answer
        replicate_scores(UnitSample("x", "g", criteria=one, submissions=(b"\x00",)), W, 1)
    with pytest.raises(ValueError):  # one code per criterion
        replicate_scores(UnitSample("x", "g", criteria=one, submissions=(b"\x01\x01",)), W, 1)
    u = UnitSample("x", "g", k_n=1, k_sat=1)
    with pytest.raises(ValueError):
        bootstrap_intervals([u, u], {"x"}, W, 1)


def test_samples_that_do_not_add_up_to_the_rankings_counts_are_named() -> None:
    unit = UnitSample("8", "g", k_n=10, k_sat=4).with_submissions(
        [
            {("A", "sipas-5/1:A1"): True},
            {("A", "sipas-5/1:A1"): False, ("S", "sipas-5/1:S2"): True},
        ]
    )
    same = UnitCounts(
        "g",
        "8",
        "x",
        1,
        10,
        4,
        2,
        0,
        0,
        (
            ("sipas-5/1", "A", "A1", 2, 1),
            ("sipas-5/1", "F", "F1", 0, 0),  # a zero row: same
            ("sipas-5/1", "S", "S2", 1, 1),
        ),
    )
    behind = UnitCounts("g", "8", "x", 1, 10, 4, 1, 0, 0, (("sipas-5/1", "A", "A1", 1, 1),))
    assert inconsistent_units([unit], [same]) == []
    assert inconsistent_units([unit], [behind]) == ["8"]


def test_streamed_submissions_are_encoded_as_with_submissions_encodes_them() -> None:
    """unit_samples keeps each submission as packed codes while rows stream in; the
    resulting criteria and rows are exactly UnitSample.with_submissions's."""
    from pipelines.bootstrap import encode_unit

    rng = random.Random(4)
    criteria = [(f"A{i % 5}", f"C{i:02d}") for i in range(22)]
    rows = []
    for _ in range(300):
        questionnaire = rng.choice(["sipas-5/1", "other/2"])
        answered = rng.sample(criteria, rng.randint(1, len(criteria)))
        rows.append(
            (
                "U1",
                questionnaire,
                [a for a, _ in answered],
                [c for _, c in answered],
                [rng.randint(0, 1) for _ in answered],
            )
        )
    expected = UnitSample("U1", "ward").with_submissions(
        [
            {(a, f"{q}:{c}"): bool(s) for a, c, s in zip(asp, codes, sat, strict=True)}
            for _, q, asp, codes, sat in rows
        ]
    )
    columns, submissions = encode_unit(iter(rows))
    assert (columns, submissions) == (expected.criteria, expected.submissions)
    assert len(columns) == 44 and len(submissions) == 300
    assert set(b"".join(submissions)) == {NOT_ANSWERED, UNSATISFIED, SATISFIED}

"""Bootstrap intervals of unit scores and ranks (methodology v1, "Rankings": uncertainty).

Each unit's counted events of the period are resampled with replacement, channel by
channel, ``resamples`` times (1000 by default); each replicate is scored with the
methodology's own formulas (``hailong.methodology``) and, within each peer group, the
eligible units are ranked replicate by replicate. The interval of a score or a rank is
a pair of order statistics of its replicate values (:func:`percentile_bounds`).

What is resampled, per unit and channel (a channel present in the data is present in
every replicate, so the OSI weights renormalise as for the point score):

- kiosk: the ``K_n`` counted presses, each satisfied or not. Drawing ``K_n`` presses
  with replacement gives a number of satisfied ones ~ Binomial(K_n, K_sat / K_n),
  drawn as such.
- camera: the ``C_n`` counted sentiment observations, likewise ~ Binomial(C_n, C_pos / C_n).
- QR: the ``Q_n`` counted submissions, whole: each replicate draws ``Q_n`` submission
  indices uniformly with replacement; the criterion sums (a_c, s_c) of the drawn
  submissions give ``S_qr`` by the rule of :func:`hailong.methodology.qr_score`,
  operation for operation (so a replicate's value is bit-identical to ``qr_score`` of
  its counts).

Reproducible: unit ``u``'s replicates come from its own generator,
``Generator(PCG64(SeedSequence([seed, int(sha256(u))])))``, drawing in a fixed order
(kiosk, camera, then QR in chunks of replicates whose size depends only on ``Q_n`` and
the number of resamples), over its submissions in a canonical (sorted) order. So a
unit's score interval depends only on its own counted events, the weights, the seed
and the numpy version (numpy does not promise identical streams across versions); not
on the other units or their order. Its rank interval depends on the replicates of its
peer group's eligible units, each of which is reproducible the same way.

The samples are read from ClickHouse by :func:`pipelines.ranking_store.unit_samples`
(everything here is pure). Use (the ranking asset)::

    samples = unit_samples(wh, period, counts)          # counts: unit_counts(wh, period)
    if inconsistent_units(samples, counts): ...          # buckets behind raw: stop
    ranked = build_ranking(period, counts, weights, min_sample, at)
    intervals = bootstrap_intervals(samples, {r.unit_code for r in ranked if r.eligible},
                                    weights, seed)
    rows = build_ranking(period, counts, weights, min_sample, at, intervals=intervals)
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from itertools import repeat
from multiprocessing import get_context
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from hailong.methodology import Counts, Weights, osi, two_decimals
from pipelines.packed import Rows
from pipelines.ranking import Interval, UnitCounts

RESAMPLES = 1000
# Interval: order statistics v[ceil(LO·B) - 1] and v[ceil(HI·B) - 1] of the B sorted
# replicate values; as fractions of 1000 so the index is exact integer arithmetic.
LO_PER_MILLE = 25
HI_PER_MILLE = 975
CHUNK_DRAWS = 1 << 21  # QR resampling draws at most this many indices at a time (memory)
# Replicates are drawn in PROCESSES processes once there are this many submissions.
PROCESSES, POOL_FROM_SUBMISSIONS = 2, 200_000
EXACT_FLOAT32 = 1 << 24  # integers up to this are exact in float32 (24-bit significand)

# A submission's code for each criterion column of its unit (UnitSample.submissions).
NOT_ANSWERED = 0
UNSATISFIED = 1  # answered 1-3
SATISFIED = 2  # answered 4 or 5

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class UnitSample:
    """A unit's counted events in one period, as the bootstrap resamples them.

    ``criteria``: the criteria its counted QR submissions answered, keyed like
    ``Counts.criteria`` — (aspect, "questionnaire:criterion") —, sorted, each once.
    ``submissions``: one row per counted submission, one byte per criterion column:
    NOT_ANSWERED, UNSATISFIED (1-3) or SATISFIED (4-5) (bytes: a year of a city's
    submissions stays small). Build from answer sets with :meth:`with_submissions`; rows
    are kept sorted there, so equal event sets give equal samples.
    """

    unit_code: str
    peer_group: str
    k_n: int = 0
    k_sat: int = 0
    c_n: int = 0
    c_pos: int = 0
    criteria: tuple[tuple[str, str], ...] = ()
    submissions: Sequence[bytes] = ()  # a tuple, or Rows (pipelines/packed.py)

    def __post_init__(self) -> None:
        if not (0 <= self.k_sat <= self.k_n and 0 <= self.c_pos <= self.c_n):
            raise ValueError(f"{self.unit_code}: need 0 <= k_sat <= k_n and 0 <= c_pos <= c_n")
        if list(self.criteria) != sorted(set(self.criteria)):
            raise ValueError(f"{self.unit_code}: criteria must be sorted and distinct")

    def with_submissions(self, submissions: Iterable[Mapping[tuple[str, str], bool]]) -> UnitSample:
        """This unit with these counted submissions, each given by its answers:
        criterion key → satisfied (4 or 5)."""
        subs = [dict(s) for s in submissions]
        columns = tuple(sorted({key for s in subs for key in s}))
        index = {key: i for i, key in enumerate(columns)}
        rows = []
        for s in subs:
            row = [NOT_ANSWERED] * len(columns)
            for key, satisfied in s.items():
                row[index[key]] = SATISFIED if satisfied else UNSATISFIED
            rows.append(bytes(row))
        return replace(self, criteria=columns, submissions=Rows.of(sorted(rows)))

    @property
    def q_n(self) -> int:
        return len(self.submissions)

    def counts(self) -> Counts:
        """The unit's counts (same as the ranking's, so the point score is the same): its
        kiosk and camera totals plus its QR submissions' counts."""
        codes = self._codes()
        answered = (codes != NOT_ANSWERED).sum(axis=0)
        satisfied = (codes == SATISFIED).sum(axis=0)
        kiosk_and_camera = Counts(k_n=self.k_n, k_sat=self.k_sat, c_n=self.c_n, c_pos=self.c_pos)
        return kiosk_and_camera + Counts(
            q_n=self.q_n,
            criteria={
                key: (int(a), int(s))
                for key, a, s in zip(self.criteria, answered, satisfied, strict=True)
            },
        )

    def _codes(self) -> npt.NDArray[np.uint8]:
        """The submissions as an (n, m) array, checked; rows in canonical (sorted) order."""
        m = len(self.criteria)
        if not self.submissions:
            return np.zeros((0, m), dtype=np.uint8)
        rows = self.submissions
        if not m or any(len(r) != m for r in (rows if not isinstance(rows, Rows) else ())):
            raise ValueError(f"{self.unit_code}: each submission needs one code per criterion")
        packed = rows if isinstance(rows, Rows) else Rows.of(rows)
        if packed.width != m:
            raise ValueError(f"{self.unit_code}: each submission needs one code per criterion")
        codes = np.sort(np.frombuffer(packed.data, f"V{m}")).view(np.uint8).reshape(-1, m)
        if codes.max() > SATISFIED:
            raise ValueError(f"{self.unit_code}: submission codes are 0, 1 or 2")
        if not (codes != NOT_ANSWERED).any(axis=1).all():
            raise ValueError(f"{self.unit_code}: a counted submission answers some criterion")
        return codes


def unit_seed(seed: int, unit_code: str) -> np.random.SeedSequence:
    """The seed of one unit's replicates: the run's seed and a hash of its code."""
    digest = hashlib.sha256(unit_code.encode("utf-8")).digest()
    return np.random.SeedSequence([seed, int.from_bytes(digest, "big")])


def percentile_indices(resamples: int) -> tuple[int, int]:
    """0-based indices of the interval's bounds among B sorted replicate values:
    ceil(0.025·B) - 1 and ceil(0.975·B) - 1 (B = 1000: 24 and 974)."""
    if resamples < 1:
        raise ValueError("need at least one resample")
    return (-(-LO_PER_MILLE * resamples // 1000) - 1, -(-HI_PER_MILLE * resamples // 1000) - 1)


def percentile_bounds(values: npt.ArrayLike) -> tuple[Any, Any]:
    """(lo, hi) of replicate values along axis 0: v[ceil(0.025·B) - 1], v[ceil(0.975·B) - 1]
    of the B values sorted ascending (per column for a 2-D array)."""
    v = np.sort(np.asarray(values), axis=0)
    lo, hi = percentile_indices(v.shape[0])
    return v[lo], v[hi]


def qr_scores(
    answered: FloatArray, satisfied: FloatArray, criteria: Sequence[tuple[str, str]]
) -> FloatArray:
    """S_qr of each row of criterion counts (columns keyed by ``criteria``), by the rule
    and in the floating-point order of :func:`hailong.methodology.qr_score`: criterion
    rates → mean per aspect over its answered criteria → 100 · mean of answered aspects.
    NaN for a row without any answered criterion."""
    rows = answered.shape[0]
    zeros = np.zeros(rows)
    total = np.zeros(rows)
    n_aspects = np.zeros(rows)
    aspects: dict[str, list[int]] = {}
    for j in sorted(range(len(criteria)), key=lambda j: criteria[j]):  # qr_score's order
        aspects.setdefault(criteria[j][0], []).append(j)
    for columns in aspects.values():
        rate_sum = np.zeros(rows)
        n_rates = np.zeros(rows)
        for j in columns:
            has = answered[:, j] > 0
            rate = np.divide(satisfied[:, j], answered[:, j], out=zeros.copy(), where=has)
            rate_sum = np.where(has, rate_sum + rate, rate_sum)
            n_rates += has
        has_aspect = n_rates > 0
        aspect_rate = np.divide(rate_sum, n_rates, out=zeros.copy(), where=has_aspect)
        total = np.where(has_aspect, total + aspect_rate, total)
        n_aspects += has_aspect
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = 100.0 * total / n_aspects
    return np.where(n_aspects > 0, result, np.nan)


def _qr_replicates(
    codes: npt.NDArray[np.uint8],
    criteria: Sequence[tuple[str, str]],
    rng: np.random.Generator,
    resamples: int,
) -> FloatArray:
    n, m = codes.shape
    # answered | satisfied indicator columns; weights @ them = the replicate's (a_c | s_c),
    # sums of non-negative integers up to n: exact in float32 up to 2**24 in any order
    indicators = np.concatenate([codes != NOT_ANSWERED, codes == SATISFIED], axis=1)
    exact: type[np.floating[Any]] = np.float32 if n <= EXACT_FLOAT32 else np.float64
    indicators_f: npt.NDArray[np.floating[Any]] = indicators.astype(exact)
    chunk = max(1, min(resamples, CHUNK_DRAWS // n))
    out = np.empty(resamples)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.integers(0, n, size=(size, n), dtype=np.int64)
        weights = np.empty((size, n), dtype=np.int64)  # how often each was drawn
        for row in range(size):  # (a bincount per row: cheaper than one of offset rows)
            weights[row] = np.bincount(drawn[row], minlength=n)
        sums = (weights.astype(exact) @ indicators_f).astype(np.float64)
        out[start : start + size] = qr_scores(sums[:, :m], sums[:, m:], criteria)
    return out


def replicate_scores(
    sample: UnitSample, weights: Weights, seed: int, resamples: int = RESAMPLES
) -> FloatArray | None:
    """The unit's OSI in each of ``resamples`` bootstrap replicates (None: no channel)."""
    codes = sample._codes()
    rng = np.random.Generator(np.random.PCG64(unit_seed(seed, sample.unit_code)))
    s_kiosk = s_camera = s_qr = None
    if sample.k_n:
        k_sat = rng.binomial(sample.k_n, sample.k_sat / sample.k_n, size=resamples)
        s_kiosk = 100.0 * k_sat.astype(np.float64) / sample.k_n
    if sample.c_n:
        c_pos = rng.binomial(sample.c_n, sample.c_pos / sample.c_n, size=resamples)
        s_camera = 100.0 * c_pos.astype(np.float64) / sample.c_n
    if codes.shape[0]:
        s_qr = _qr_replicates(codes, sample.criteria, rng, resamples)
    # the methodology's own OSI, elementwise over the replicates (same operation order)
    scores = cast(Mapping[str, float | None], {"qr": s_qr, "kiosk": s_kiosk, "camera": s_camera})
    result = cast(FloatArray | float | None, osi(scores, weights))
    if result is None:
        return None
    return np.broadcast_to(np.asarray(result, dtype=np.float64), (resamples,)).copy()


def _all_replicates(
    samples: Sequence[UnitSample], weights: Weights, seed: int, resamples: int, processes: int
) -> list[FloatArray | None]:
    """:func:`replicate_scores` of each sample, in order; in a pool of ``processes``
    (spawned: the caller may run threads) when there are submissions enough to pay."""
    args = (samples, repeat(weights), repeat(seed), repeat(resamples))
    if processes < 2 or sum(s.q_n for s in samples) < POOL_FROM_SUBMISSIONS:
        return list(map(replicate_scores, *args))
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        return list(pool.map(replicate_scores, *args))


def cents(values: npt.ArrayLike) -> IntArray:
    """100 · :func:`hailong.methodology.two_decimals` of each value, as integers, exactly:
    values within 1e-6 of a half cent go through ``two_decimals`` itself (shortest repr,
    half up); for all others rounding to the nearest cent is the same."""
    v = np.asarray(values, dtype=np.float64)
    t = v * 100.0
    keys = np.floor(t + 0.5)
    near = np.abs(t - np.floor(t) - 0.5) < 1e-6
    if near.any():
        keys[near] = [int(two_decimals(float(x)).scaleb(2)) for x in v[near]]
    return keys.astype(np.int64)


def competition_rank_rows(keys: npt.ArrayLike) -> IntArray:
    """Per row, standard competition ranks (1, 2, 2, 4) of integer keys, descending:
    1 + how many keys of the row are strictly greater (as methodology.competition_ranks
    does with the 2-decimal values, whose cents these keys are)."""
    k = np.asarray(keys, dtype=np.int64)
    rows, width = k.shape
    if k.size == 0:
        return np.zeros(k.shape, dtype=np.int64)
    low = int(k.min())
    span = int(k.max()) - low + 1
    if span * rows >= 2**62:
        raise ValueError("keys too far apart to rank row by row")
    shifted = (k - low) + (np.arange(rows, dtype=np.int64) * span)[:, None]
    flat = np.sort(shifted, axis=1).ravel()  # rows stay in order: offsets keep them apart
    at_most = (
        np.searchsorted(flat, shifted.ravel(), side="right").reshape(rows, width)
        - (np.arange(rows, dtype=np.int64) * width)[:, None]
    )
    ranks: IntArray = 1 + width - at_most
    return ranks


def bootstrap_intervals(
    samples: Sequence[UnitSample],
    eligible: Collection[str],
    weights: Weights,
    seed: int,
    resamples: int = RESAMPLES,
    processes: int = PROCESSES,
) -> dict[str, Interval]:
    """The 95% interval of each unit's score and, for the ``eligible`` units (those the
    ranking ranks), of its rank within its peer group; replicate b ranks the eligible
    units of each group by their replicate-b scores (competition ranking, equal at 2
    decimals half up: tie). Intervals as in :func:`percentile_bounds`. The units'
    replicates are drawn in ``processes`` processes when there are many submissions
    (each unit's from its own generator, so the same whichever process draws them)."""
    percentile_indices(resamples)  # checks resamples
    codes = [s.unit_code for s in samples]
    if len(set(codes)) != len(codes):
        raise ValueError("each unit once")
    replicates = dict(
        zip(codes, _all_replicates(samples, weights, seed, resamples, processes), strict=True)
    )
    score_bounds: dict[str, tuple[float | None, float | None]] = {}
    for code, values in replicates.items():
        if values is None:
            score_bounds[code] = (None, None)
        else:
            lo, hi = percentile_bounds(values)
            score_bounds[code] = (float(lo), float(hi))
    rank_bounds: dict[str, tuple[int, int]] = {}
    for group in sorted({s.peer_group for s in samples}):
        members = sorted(
            s.unit_code
            for s in samples
            if s.peer_group == group
            and s.unit_code in eligible
            and replicates[s.unit_code] is not None
        )
        if not members:
            continue
        matrix = np.column_stack([cast(FloatArray, replicates[c]) for c in members])
        ranks = competition_rank_rows(cents(matrix))
        lows, highs = percentile_bounds(ranks)
        for code, lo, hi in zip(members, lows, highs, strict=True):
            rank_bounds[code] = (int(lo), int(hi))
    out = {}
    for code in codes:
        rank_lo, rank_hi = rank_bounds.get(code, (None, None))
        out[code] = Interval(*score_bounds[code], rank_lo, rank_hi)
    return out


def encode_unit(
    rows: Iterable[tuple[Any, ...]],
) -> tuple[tuple[tuple[str, str], ...], tuple[bytes, ...]]:
    """One unit's (criteria, submissions) as :meth:`UnitSample.with_submissions` makes
    them, from rows (unit, questionnaire, aspects, criteria, satisfied) as they stream in
    (:func:`pipelines.ranking_store.unit_samples`): each submission is first kept as
    16-bit (key number · 2 + satisfied) codes, then laid out on the sorted criterion
    columns."""
    keys: dict[tuple[str, str], int] = {}
    packed: list[bytes] = []
    for _unit, questionnaire, aspects, criteria, satisfied in rows:
        codes = array("H")
        for aspect, criterion, sat in zip(aspects, criteria, satisfied, strict=True):
            key = (aspect, f"{questionnaire}:{criterion}")
            number = keys.setdefault(key, len(keys))
            if number >= 1 << 15:
                raise ValueError("more than 32,768 distinct criteria in one unit")
            codes.append(number * 2 + bool(sat))
        packed.append(codes.tobytes())
    columns = tuple(sorted(keys))
    column_of = [0] * len(keys)
    for i, key in enumerate(columns):
        column_of[keys[key]] = i
    out = []
    for data in packed:
        row = bytearray(len(columns))  # NOT_ANSWERED
        for code in array("H", data):
            row[column_of[code >> 1]] = SATISFIED if code & 1 else UNSATISFIED
        out.append(bytes(row))
    packed.clear()
    return columns, tuple(sorted(out))


def inconsistent_units(samples: Sequence[UnitSample], counts: Sequence[UnitCounts]) -> list[str]:
    """Units whose sampled QR events don't add up to the ranking's counts (Q_n and each
    criterion's a_c, s_c): a bucket refresh behind raw, which reconciliation repairs."""
    by_code = {c.unit_code: c.counts() for c in counts}
    out = []
    for s in samples:
        mine, theirs = s.counts(), by_code.get(s.unit_code, Counts())
        answered = {k: v for k, v in theirs.criteria.items() if v[0] > 0}
        if (mine.q_n, dict(mine.criteria)) != (theirs.q_n, answered):
            out.append(s.unit_code)
    return out

"""The rules of ``hailong/counting.py`` over numpy columns: the same buckets, computed
vectorised, for the reconciliation of a month of millions of raw events
(``warehouse/reconcile.py``; bench figure 6).

``counting.py`` stays the reference: this module must give exactly its results for the
same events (``tests/unit/test_counting_np.py`` checks it on generated events, the edge
cases included). Events come as columns of equal length, one row each: ids as two
unsigned 64-bit halves (``hi``, ``lo``: the UUID's integer, so (hi, lo) order is the
order of ``str(event_id)``), offices, devices, tokens and questionnaires as integer codes
(any numbering: only equality matters), times in integer microseconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hailong.counting import CAMERA_MIN_CONFIDENCE, HOUR_US, MISUSE_GAP_US, QR_SATISFIED_FROM

Ints = npt.NDArray[np.int64]
UInts = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Buckets:
    """Buckets as columns: ``keys`` (integer columns, one row per bucket, distinct) and
    ``values`` (columns of the same length)."""

    keys: tuple[Ints, ...]
    values: tuple[npt.NDArray[np.int64] | Floats, ...]

    def __len__(self) -> int:
        return len(self.keys[0]) if self.keys else 0


def hours(t_us: Ints) -> Ints:
    """Start of the UTC hour of each time (``counting.hour_of``)."""
    t = np.asarray(t_us, dtype=np.int64)
    return t - t % HOUR_US


def group_rows(*keys: Ints) -> tuple[Ints, Ints, int]:
    """Rows grouped by equal keys: (group of each row, a row of each group, groups),
    groups numbered in key order."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    lows = [int(k.min()) for k in keys]
    spans = [int(k.max()) - low + 1 for k, low in zip(keys, lows, strict=True)]
    if np.prod(np.array(spans, dtype=object)) < 1 << 62:  # one integer key: a single sort
        composite = np.zeros(n, dtype=np.int64)
        for k, low, span in zip(keys, lows, spans, strict=True):
            composite = composite * span + (k.astype(np.int64) - low)
        _, first, group = np.unique(composite, return_index=True, return_inverse=True)
        return group.astype(np.int64), first.astype(np.int64), len(first)
    order = np.lexsort(keys[::-1])
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for k in keys:
        s = k[order]
        new[1:] |= s[1:] != s[:-1]
    group_sorted = np.cumsum(new) - 1
    group = np.empty(n, dtype=np.int64)
    group[order] = group_sorted
    return group, order[new], int(group_sorted[-1]) + 1


def misuse(office: Ints, device: Ints, t_us: Ints, hi: UInts, lo: UInts) -> Bools:
    """Presses flagged misuse (``counting.misuse``): per (office, device), in order of
    (time, event_id), less than 4 s after the previous press of that device."""
    n = len(t_us)
    flagged = np.zeros(n, dtype=bool)
    if n < 2:
        return flagged
    t = np.asarray(t_us, dtype=np.int64)
    which, _, _ = group_rows(office, device)  # one number per (office, device)
    order = np.lexsort((lo, hi, t, which))
    same = which[order][1:] == which[order][:-1]
    close = (t[order][1:] - t[order][:-1]) < MISUSE_GAP_US
    flagged[order[1:][same & close]] = True
    return flagged


def kiosk_buckets(office: Ints, t_us: Ints, scale: Ints, value: Ints, flagged: Bools) -> Buckets:
    """(office, hour) → (K_n, K_sat, misuse presses) (``counting.kiosk_buckets``, with
    the flags of :func:`misuse`)."""
    hour = hours(t_us)
    group, first, n = group_rows(office, hour // HOUR_US)
    counted = ~flagged
    satisfied = counted & (np.asarray(value, np.int64) >= np.asarray(scale, np.int64) - 1)
    return Buckets(
        (office[first], hour[first]),
        (
            np.bincount(group, counted, n).astype(np.int64),
            np.bincount(group, satisfied, n).astype(np.int64),
            np.bincount(group, flagged, n).astype(np.int64),
        ),
    )


def counted_submissions(token: Ints, t_us: Ints, hi: UInts, lo: UInts) -> Bools:
    """Per token, the one submission that counts: the earliest (time, event_id)
    (``counting.counted_submissions``; ids are distinct)."""
    n = len(token)
    counted = np.zeros(n, dtype=bool)
    if n:
        order = np.lexsort((lo, hi, t_us, token))
        first = np.ones(n, dtype=bool)
        first[1:] = token[order][1:] != token[order][:-1]
        counted[order[first]] = True
    return counted


def qr_buckets(
    office: Ints,
    t_us: Ints,
    questionnaire: Ints,
    counted: Bools,
    answer_of: Ints,
    aspect: Ints,
    criterion: Ints,
    value: Ints,
) -> tuple[Buckets, Buckets]:
    """(office, hour) → (Q_n, duplicates), and (office, hour, questionnaire, aspect,
    criterion) → (a_c, s_c) (``counting.qr_buckets``). Submissions are rows of the first
    four columns; answers rows of the last four, ``answer_of`` the submission's row."""
    hour = hours(t_us)
    group, first, n = group_rows(office, hour // HOUR_US)
    subs = Buckets(
        (office[first], hour[first]),
        (
            np.bincount(group, counted, n).astype(np.int64),
            np.bincount(group, ~counted, n).astype(np.int64),
        ),
    )
    a_office, a_hour, a_q = office[answer_of], hour[answer_of], questionnaire[answer_of]
    a_counted = counted[answer_of]
    group, first, n = group_rows(a_office, a_hour // HOUR_US, a_q, aspect, criterion)
    satisfied = a_counted & (np.asarray(value, np.int64) >= QR_SATISFIED_FROM)
    crit = Buckets(
        (a_office[first], a_hour[first], a_q[first], aspect[first], criterion[first]),
        (
            np.bincount(group, a_counted, n).astype(np.int64),
            np.bincount(group, satisfied, n).astype(np.int64),
        ),
    )
    return subs, crit


def camera_buckets(
    office: Ints,
    t_us: Ints,
    sentiment_kind: Bools,
    confidence: Floats,
    positive: Bools,
    queue_length: Ints,
    has_wait: Bools,
    wait_seconds: Floats,
) -> Buckets:
    """(office, hour) → (C_n, C_pos, low-confidence sentiments, queue observations, sum
    and max of queue_length, observations with wait_seconds, their sum)
    (``counting.camera_buckets``). A missing confidence or queue_length is 0 here, as
    there; ``wait_seconds`` counts where ``has_wait``. The sum of wait_seconds is added
    in row order, as there, so it is the same float."""
    hour = hours(t_us)
    group, first, n = group_rows(office, hour // HOUR_US)
    counted = sentiment_kind & (confidence >= CAMERA_MIN_CONFIDENCE)
    queue = ~sentiment_kind
    ql = np.where(queue, np.asarray(queue_length, np.int64), 0)
    q_max = np.zeros(n, dtype=np.int64)
    np.maximum.at(q_max, group, ql)
    waits = queue & has_wait
    return Buckets(
        (office[first], hour[first]),
        (
            np.bincount(group, counted, n).astype(np.int64),
            np.bincount(group, counted & positive, n).astype(np.int64),
            np.bincount(group, sentiment_kind & ~counted, n).astype(np.int64),
            np.bincount(group, queue, n).astype(np.int64),
            _int_sums(group, ql, n),
            q_max,
            np.bincount(group, waits, n).astype(np.int64),
            np.bincount(group, np.where(waits, wait_seconds, 0.0), n),
        ),
    )


def _int_sums(group: Ints, values: Ints, n: int) -> Ints:
    """Exact integer sums per group (bincount's weights are floats)."""
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, group, values)
    return out

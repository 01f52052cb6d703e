"""The reconciliation's recount (``warehouse/reconcile.py``): the hourly buckets of a
group of offices recomputed from the raw tables, apart from the stream worker's SQL
(``warehouse/sql/``), and the streamed buckets read to compare.

The raw rows are read as plain columns (``warehouse/columnar.py``): offices and devices
numbered, each QR submission's answers packed into one string. Every rule is applied in
numpy, not in the query: which copy of an event_id counts (``warehouse/owners.py``),
misuse, the first submission of a token, confidence, the hour (``hailong/counting_np.py``,
which gives exactly ``hailong/counting.py``'s buckets). The queries only select, number
and reshape rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hailong import counting_np as cn
from hailong.counting_np import Buckets
from warehouse.client import Warehouse
from warehouse.columnar import (
    HI,
    IN_GROUP,
    LO,
    OFFICE,
    Array,
    Raw,
    columns,
    named,
    raw_columns,
    unpack_hex,
)
from warehouse.owners import Disowned, drop

_KIOSK_WHERE = (
    "FROM kiosk_ratings_raw WHERE occurred_at_us >= %(lo)s - 4000000 "
    f"AND occurred_at_us < %(hi)s AND {IN_GROUP}"
)
_QR_FILTER = (
    "(office_id, token_id) IN (SELECT office_id, token_id FROM qr_surveys_raw WHERE "
    f"submitted_at_us >= %(lo)s AND submitted_at_us < %(hi)s AND {IN_GROUP}) AND {IN_GROUP}"
)
_QR_WHERE = f"FROM qr_surveys_raw WHERE {_QR_FILTER}"
_CAMERA_WHERE = (
    "FROM camera_observations_raw WHERE observed_at_us >= %(lo)s "
    f"AND observed_at_us < %(hi)s AND {IN_GROUP}"
)


def _codes(values: Array) -> tuple[Array, Array]:
    """(distinct values sorted, each value's number among them)."""
    names, codes = np.unique(values, return_inverse=True)
    return names, codes.astype(np.int64)


# An answer packed: (its criterion's number + 1) · 256 + value, plus a base that keeps
# the hex digits at 4 (up to 239 criteria) or 8.
_BASE4 = 4096
_BASE8 = 1 << 24


@dataclass(frozen=True)
class Recount:
    """A group's buckets recomputed from raw (keys: offices by their number in the
    group, 1-based; hours in µs; strings as bytes; misuse flags by (hi, lo, time))."""

    tables: dict[str, Buckets]
    raw_events: int


@dataclass(frozen=True)
class Group:
    """A group of offices as read: its raw rows (as columns) and its streamed buckets."""

    lo: int
    hi: int
    kiosk: Raw
    qr: Raw
    camera: Raw
    base: int  # of the packed answers
    pairs: list[tuple[str, str]]  # (aspect, criterion) of each answer's number - 1
    streamed: dict[str, Buckets]


def read_group(wh: Warehouse, lo: int, hi: int, offices: list[str]) -> Group:
    """The raw rows of [lo, hi) (UTC µs, whole hours) of these offices that the recount
    reads, as columns, and the streamed buckets (:func:`streamed`)."""
    p: dict[str, Any] = {"lo": lo, "hi": hi, **named(offices)}
    devices = [d for (d,) in wh.execute(f"SELECT DISTINCT device_id {_KIOSK_WHERE}", p)]
    keys = wh.execute(
        "SELECT DISTINCT aspect, code FROM qr_surveys_raw ARRAY JOIN answer_aspects AS "
        f"aspect, answer_codes AS code WHERE {_QR_FILTER}",
        p,
    )
    pairs = sorted({(a, c) for a, c in keys})
    width = 4 if len(pairs) < 240 else 8  # hex digits of an answer: key number · 256 + value
    # numbered from 1 (0: not in the list); an empty list is [''] → 0 (no rows to number)
    p["devices"] = devices or [""]
    p["device_codes"] = list(range(1, len(devices) + 1)) or [0]
    p["pairs"] = [f"{len(a.encode())}:{a}{c}" for a, c in pairs] or [""]  # length(a): bytes
    p["pair_codes"] = list(range(1, len(pairs) + 1)) or [0]
    base = _BASE4 if width == 4 else _BASE8
    kiosk = raw_columns(
        wh,
        f"{OFFICE}, transform(device_id, %(devices)s, %(device_codes)s, 0), occurred_at_us, "
        f"scale, value {_KIOSK_WHERE}",
        ("office", "device", "t", "scale", "value"),
        p,
    )
    qr = raw_columns(
        wh,
        f"{OFFICE}, token_id, submitted_at_us, questionnaire, arrayStringConcat(arrayMap("
        f"(a, c, v) -> hex(to{'UInt16' if width == 4 else 'UInt32'}({base} + transform("
        "concat(toString(length(a)), ':', a, c), %(pairs)s, %(pair_codes)s, 0) * 256 + v)), "
        f"answer_aspects, answer_codes, answer_values)) {_QR_WHERE}",
        ("office", "token", "t", "q", "answers"),
        p,
    )
    camera = raw_columns(
        wh,
        f"{OFFICE}, observed_at_us, kind, ifNull(sentiment, ''), "
        "ifNull(confidence, toFloat64(0)), ifNull(queue_length, 0), NOT isNull(wait_seconds), "
        "ifNull(wait_seconds, toFloat64(0)) "
        f"{_CAMERA_WHERE}",
        ("office", "t", "kind", "sentiment", "confidence", "queue_length", "has_wait", "wait"),
        p,
    )
    return Group(lo, hi, kiosk, qr, camera, base, pairs, streamed(wh, lo, hi, offices))


def reference(group: Group, disowned: Disowned) -> Recount:
    """The group's buckets recomputed from its raw rows (``hailong/counting_np.py``),
    without the rows that ``disowned`` names (those that don't count by the claims:
    ``warehouse/owners.py``)."""
    kiosk = drop(group.kiosk, disowned["kiosk"])
    if (kiosk.cols["device"] == 0).any():
        raise RawChanged("a kiosk device appeared while the group was read")
    qr, camera = drop(group.qr, disowned["qr"]), drop(group.camera, disowned["camera"])
    return _recount(kiosk, qr, camera, group.lo, group.hi, group.base, group.pairs)


class RawChanged(Exception):
    """Raw rows changed between a group's queries: read the group again."""


def _recount(
    kiosk: Raw, qr: Raw, camera: Raw, lo: int, hi: int, base: int, pairs: list[tuple[str, str]]
) -> Recount:
    k = kiosk.cols
    k_office, k_t = k["office"].astype(np.int64), k["t"].astype(np.int64)
    flagged = cn.misuse(k_office, k["device"].astype(np.int64), k_t, kiosk.hi, kiosk.lo)
    kb = cn.kiosk_buckets(
        k_office, k_t, k["scale"].astype(np.int64), k["value"].astype(np.int64), flagged
    )
    misuse = flagged & (k_t >= lo)
    q = qr.cols
    q_office, q_t = q["office"].astype(np.int64), q["t"].astype(np.int64)
    _, token = _codes(q["token"])
    q_names, q_code = _codes(q["q"])
    counted = cn.counted_submissions(token, q_t, qr.hi, qr.lo)
    rows, tokens = unpack_hex(q["answers"], 4 if base == _BASE4 else 8)
    tokens -= base
    pair = tokens // 256 - 1
    if (pair < 0).any() or (pair >= len(pairs)).any():
        raise RawChanged("a QR criterion appeared while the group was read")
    aspects = np.array([a.encode() for a, _ in pairs] or [b""])
    criteria = np.array([c.encode() for _, c in pairs] or [b""])
    subs, crit = cn.qr_buckets(q_office, q_t, q_code, counted, rows, pair, pair, tokens % 256)
    c = camera.cols
    cb = cn.camera_buckets(
        c["office"].astype(np.int64),
        c["t"].astype(np.int64),
        c["kind"] == b"sentiment",
        c["confidence"].astype(np.float64),
        c["sentiment"] == b"positive",
        c["queue_length"].astype(np.int64),
        c["has_wait"].astype(bool),
        c["wait"].astype(np.float64),
    )
    crit_keys = crit.keys
    crit = Buckets(
        (
            crit_keys[0],
            crit_keys[1],
            q_names[crit_keys[2]] if len(q_names) else crit_keys[2],
            aspects[crit_keys[3]],
            criteria[crit_keys[4]],
        ),
        crit.values,
    )
    return Recount(
        {
            "kiosk_hourly": _within(kb, lo, hi),
            "kiosk_misuse": Buckets(
                (kiosk.hi[misuse], kiosk.lo[misuse], k_t[misuse]),
                (np.ones(int(misuse.sum()), dtype=np.int64),),
            ),
            "qr_hourly": _within(subs, lo, hi),
            "qr_criteria_hourly": _within(crit, lo, hi),
            "camera_hourly": _within(cb, lo, hi),
        },
        int((k_t >= lo).sum() + ((q_t >= lo) & (q_t < hi)).sum() + len(camera.hi)),
    )


def _within(b: Buckets, lo: int, hi: int) -> Buckets:
    keep = (b.keys[1] >= lo) & (b.keys[1] < hi)
    return Buckets(tuple(k[keep] for k in b.keys), tuple(v[keep] for v in b.values))


def streamed(wh: Warehouse, lo: int, hi: int, offices: list[str]) -> dict[str, Buckets]:
    """The buckets of [lo, hi) of these offices as the stream worker left them, keyed as
    :func:`reference`'s."""
    p = {"lo": lo // 1_000_000, "hi": hi // 1_000_000, **named(offices)}
    where = f"WHERE hour >= toDateTime(%(lo)s) AND hour < toDateTime(%(hi)s) AND {IN_GROUP}"
    head = f"SELECT {OFFICE}, toInt64(toUInt32(hour)) * 1000000"

    def read(q: str, keys: int, params: dict[str, Any] = p, ids: int = 0) -> Buckets:
        """Integers as int64, as the recount's, but the first ``ids`` columns (halves)."""
        cols = columns(wh, q, params)
        cols[ids:] = [c if c.dtype.kind in "Sf" else c.astype(np.int64) for c in cols[ids:]]
        return Buckets(tuple(cols[:keys]), tuple(cols[keys:]))

    return {
        "kiosk_hourly": read(f"{head}, k_n, k_sat, k_misuse FROM kiosk_hourly FINAL {where}", 2),
        "kiosk_misuse": read(
            f"SELECT {HI}, {LO}, occurred_at_us, toInt64(1) FROM kiosk_misuse_flags FINAL "
            "WHERE misuse = 1 AND occurred_at_us >= %(lo)s AND occurred_at_us < %(hi)s "
            f"AND {IN_GROUP}",
            3,
            {"lo": lo, "hi": hi, **named(offices)},
            ids=2,
        ),
        "qr_hourly": read(f"{head}, q_n, q_duplicates FROM qr_hourly FINAL {where}", 2),
        "qr_criteria_hourly": read(
            f"{head}, questionnaire, aspect, criterion, answered, satisfied "
            f"FROM qr_criteria_hourly FINAL {where}",
            5,
        ),
        "camera_hourly": read(
            f"{head}, c_n, c_pos, c_low_confidence, queue_obs, queue_length_sum, "
            f"queue_length_max, wait_obs, wait_seconds_sum FROM camera_hourly FINAL {where}",
            2,
        ),
    }

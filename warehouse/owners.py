"""Which raw rows count by the claims, for the reconciliation (``warehouse/reconcile.py``):
each event_id once, its owner the least (channel, offset, partition) of its uncontested
claims (``warehouse/claims.py``), decided here in numpy apart from the worker's SQL.

The claims are read a range of event_ids at a time (:func:`_id_parts`): each range is
a range of event_claims' primary key, so the claims of a month are read once, whatever
the number of office groups the buckets are then recounted in.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from warehouse.client import Warehouse
from warehouse.columnar import HI, LO, Array, Raw, columns, prefetched, raw_columns


def first_per_id(hi: Array, lo: Array, *order: Array) -> Array:
    """Indices of one row per event_id (hi, lo), sorted by id: the least by ``order``
    (columns, most significant first) of the id's rows. Ids are nearly all on one row:
    one sort by the high half, and a full sort of the few rows that share one."""
    if not len(hi):
        return np.zeros(0, dtype=np.int64)
    by_hi = np.argsort(hi, kind="stable")
    s = hi[by_hi]
    shared = np.zeros(len(s), dtype=bool)
    shared[1:] = s[1:] == s[:-1]
    shared[:-1] |= shared[1:]
    if not shared.any():
        return by_hi
    few = by_hi[shared]
    keys = [c[few] for c in order]
    sub = np.lexsort((*reversed(keys), lo[few], hi[few]))
    sh, sl = hi[few][sub], lo[few][sub]
    first = np.ones(len(sub), dtype=bool)
    first[1:] = (sh[1:] != sh[:-1]) | (sl[1:] != sl[:-1])
    chosen = np.concatenate([by_hi[~shared], few[sub[first]]])
    return chosen[np.lexsort((lo[chosen], hi[chosen]))]


def owners(claims: dict[str, Array]) -> dict[str, Array]:
    """Each claimed event_id's owner (``warehouse/claims.py``: the least (channel,
    offset, partition) of its uncontested claims), decided here apart from the SQL:
    columns hi, lo, channel, offset, partition, one row per id, sorted by id."""
    c = claims
    cand = c["uncontested"] != 0
    c_hi, c_lo, c_ch = c["hi"][cand], c["lo"][cand], c["channel"][cand]
    c_off, c_part = c["offset"][cand], c["partition"][cand]
    channels, ch_code = np.unique(c_ch, return_inverse=True)  # numbered in text order
    o = first_per_id(c_hi, c_lo, ch_code, c_off, c_part)
    return {
        "hi": c_hi[o],
        "lo": c_lo[o],
        "channel": channels[ch_code[o]] if len(o) else c_ch[o],
        "offset": c_off[o],
        "partition": c_part[o],
    }


def owned(raw: Raw, channel: str, claims: dict[str, Array]) -> Array:
    """Which rows of ``raw`` (one channel's) are their event_id's owner by the claims
    (:func:`owners` of them, or its result)."""
    found = claims if "uncontested" not in claims else owners(claims)
    o_hi, o_lo, o_off, o_part = found["hi"], found["lo"], found["offset"], found["partition"]
    o_ch = found["channel"]
    mine = channel.encode()
    if not len(o_hi):
        return np.zeros(len(raw.hi), dtype=bool)
    # each raw row against its id's owner: ids that share a high half are adjacent
    at = np.searchsorted(o_hi, raw.hi)
    ok = np.zeros(len(raw.hi), dtype=bool)
    pending = at < len(o_hi)
    while pending.any():
        idx = np.where(pending, at, 0)
        pending &= o_hi[idx] == raw.hi
        found = pending & (o_lo[idx] == raw.lo)
        ok |= (
            found
            & (o_ch[idx] == mine)
            & (o_off[idx] == raw.offset)
            & (o_part[idx] == raw.partition)
        )
        pending &= ~found & (o_lo[idx] < raw.lo)
        at = at + 1
        pending &= at < len(o_hi)
    return ok


def once(raw: Raw) -> Raw:
    """Each event_id once (the rows of one message are copies of one row)."""
    keep = np.zeros(len(raw.hi), dtype=bool)
    keep[first_per_id(raw.hi, raw.lo)] = True
    return raw.take(keep)


def _claims(wh: Warehouse, where: str, p: dict[str, Any]) -> dict[str, Array]:
    hi, lo, channel, partition, offset, uncontested = columns(
        wh,
        # not DISTINCT (a claim written twice is read twice: the same position, so the
        # same owner), which would cost more than all the rest of the query
        f"SELECT {HI}, {LO}, channel, kafka_partition, kafka_offset, uncontested "
        f"FROM event_claims WHERE {where}",
        p,
    )
    return {
        "hi": hi.astype(np.uint64),
        "lo": lo.astype(np.uint64),
        "channel": channel,
        "partition": partition.astype(np.int64),
        "offset": offset.astype(np.int64),
        "uncontested": uncontested,
    }


Part = tuple[dict[str, str], str, dict[str, Any]]  # windows, id range, parameters
Disowned = dict[str, set[tuple[int, int, int, int]]]  # channel → (hi, lo, partition, offset)
PART_ROWS = 1_000_000  # raw rows per part of the id space when the claims are read
_WINDOWS = {  # the rows of each channel a reconciliation of [lo, hi) reads
    "kiosk": "FROM kiosk_ratings_raw WHERE occurred_at_us >= %(lo)s - 4000000 "
    "AND occurred_at_us < %(hi)s",
    "qr": "FROM qr_surveys_raw WHERE submitted_at_us >= %(lo)s AND submitted_at_us < %(hi)s",
    "camera": "FROM camera_observations_raw WHERE observed_at_us >= %(lo)s "
    "AND observed_at_us < %(hi)s",
}
# ... and the QR submissions outside [lo, hi) whose token has one inside
_QR_SIBLINGS = (
    "FROM qr_surveys_raw WHERE (submitted_at_us < %(lo)s OR submitted_at_us >= %(hi)s) "
    "AND (office_id, token_id) IN (SELECT office_id, token_id FROM qr_surveys_raw "
    "WHERE submitted_at_us >= %(lo)s AND submitted_at_us < %(hi)s)"
)


def _id_parts(wh: Warehouse, rows: int, part_rows: int) -> list[tuple[str, str | None]]:
    """Ranges of event_ids, [from, to) as UUID text (None: no end), that split ``rows``
    random ids into parts of about ``part_rows``, in the engine's own UUID order (18.16
    compares the low half first), so that each part is a range of event_claims' primary
    key. Version 4 ids have 10 as the low half's top bits: that quarter is split evenly."""
    k = max(1, -(-rows // part_rows))
    low_first = wh.execute(
        "SELECT toUUID('00000000-0000-0001-0000-000000000000') "
        "< toUUID('00000000-0000-0000-0000-000000000001')"
    )[0][0]
    if low_first:  # below the version 4 quarter, k parts of it, above it
        cuts = [1 << 63, *((1 << 63) + (1 << 62) * i // k for i in range(1, k + 1))]
    else:
        cuts = [(1 << 64) * i // k for i in range(1, k)]

    def text(b: int) -> str:
        x = f"{b:016x}"
        if low_first:
            return f"00000000-0000-0000-{x[:4]}-{x[4:]}"
        return f"{x[:8]}-{x[8:12]}-{x[12:]}-0000-000000000000"

    ends: list[str | None] = [*(text(c) for c in cuts), None]
    return list(zip([text(0), *(text(c) for c in cuts)], ends, strict=True))


def disowned(wh: Warehouse, lo: int, hi: int, part_rows: int = PART_ROWS) -> Disowned:
    """Per channel, the positions of the raw rows a reconciliation of [lo, hi) reads that
    do not count by the claims (:func:`owned`): usually none. Read a part of the id space
    at a time (:func:`_id_parts`): each part's claims are a range of event_claims, so
    the claims are read once whatever the number of office groups."""
    p: dict[str, Any] = {"lo": lo, "hi": hi}
    rows = sum(wh.execute(f"SELECT count() {w}", p)[0][0] for w in _WINDOWS.values())
    out: Disowned = {name: set() for name in _WINDOWS}
    parts: list[Part] = []
    for a, b in _id_parts(wh, rows, part_rows):
        part = " AND event_id >= toUUID(%(id_from)s)"
        part += " AND event_id < toUUID(%(id_to)s)" if b is not None else ""
        windows = {n: w + part for n, w in _WINDOWS.items()}
        parts.append((windows, part, {**p, "id_from": a, "id_to": b}))
    parts.append(({"qr": _QR_SIBLINGS}, "", p))  # few: all at once

    def read(conn: Warehouse, part: Part) -> tuple[dict[str, Raw], dict[str, Array]]:
        windows, bounds, params = part
        raws = {n: raw_columns(conn, f"toUInt8(0) {w}", ("_",), params) for n, w in windows.items()}
        ids = " UNION ALL ".join(f"SELECT event_id {w}" for w in windows.values())
        return raws, _claims(conn, f"event_id IN ({ids}){bounds}", params)

    for _, (raws, claims) in prefetched(wh, parts, read):
        found = owners(claims)
        for name, raw in raws.items():
            bad = ~owned(raw, name, found)
            out[name].update(
                zip(
                    raw.hi[bad].tolist(),
                    raw.lo[bad].tolist(),
                    raw.partition[bad].tolist(),
                    raw.offset[bad].tolist(),
                    strict=True,
                )
            )
    return out


def drop(raw: Raw, positions: set[tuple[int, int, int, int]]) -> Raw:
    """``raw`` without the rows at these positions, each event_id once."""
    if positions:
        maybe = np.isin(raw.hi, np.array(sorted({p[0] for p in positions}), dtype=np.uint64))
        for i in np.flatnonzero(maybe):
            key = (int(raw.hi[i]), int(raw.lo[i]), int(raw.partition[i]), int(raw.offset[i]))
            maybe[i] = key in positions
        raw = raw.take(~maybe)
    return once(raw)

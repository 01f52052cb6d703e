"""The rankings' reads and writes in ClickHouse: every query of the ranking pipeline
(the pure code is ``pipelines/ranking.py`` and ``pipelines/bootstrap.py``).

Reads: each unit's counts of a period (:func:`unit_counts`), the civil servants' kiosk
counts (:func:`staff_scores`), each unit's counted events for the bootstrap
(:func:`unit_samples`), the offices that sent nothing (:func:`silent_offices`), the
registry's version, and a published ranking (:func:`read_ranking`). Writes: a period's
rows of ``rankings`` and ``staff_scores``, replaced whole (:func:`publish`,
:func:`publish_staff`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import astuple
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np

from pipelines.bootstrap import NOT_ANSWERED, SATISFIED, UNSATISFIED, UnitSample, encode_unit
from pipelines.packed import Rows
from pipelines.ranking import (
    RANKING_COLUMNS,
    STAFF_COLUMNS,
    Period,
    RankingRow,
    StaffRow,
    UnitCounts,
    staff_rows,
)
from warehouse.client import Warehouse, sql
from warehouse.columnar import Array, columns, prefetched, unpack_hex

# The QR submissions are read this many (about) at a time: a few units per query.
QR_CHUNK = 200_000


def period_params(period: Period, offices_of: Period | None = None) -> dict[str, Any]:
    """The query parameters of a period: its bounds in UTC seconds, and the day whose
    offices count (the last day of ``offices_of``, default: of the period)."""
    return {
        "start_s": period.start_s,
        "end_s": period.end_s,
        "last_day": (offices_of or period).last_day.isoformat(),
    }


def unit_counts(
    wh: Warehouse, period: Period, offices_of: Period | None = None
) -> list[UnitCounts]:
    """Every unit's counts in the period (all channels), from ClickHouse: the sums over
    the offices that belong to the unit on the last day of ``offices_of`` (default: the
    period itself; the previous period's counts over today's offices give the trend)."""
    p = period_params(period, offices_of)
    criteria: dict[str, list[tuple[str, str, str, int, int]]] = {}
    for unit, q, aspect, criterion, a, s in wh.execute(sql("unit_criteria"), p):
        criteria.setdefault(unit, []).append((q, aspect, criterion, int(a), int(s)))
    return [
        UnitCounts(
            group,
            code,
            name,
            int(offices),
            int(k_n),
            int(k_sat),
            int(q_n),
            int(c_n),
            int(c_pos),
            tuple(criteria.get(code, ())),
        )
        for group, code, name, offices, k_n, k_sat, q_n, c_n, c_pos in wh.execute(
            sql("unit_counts"), p
        )
    ]


def staff_scores(
    wh: Warehouse, period: Period, min_sample: int, computed_at: datetime
) -> list[StaffRow]:
    """Each civil servant's kiosk score in the period (:func:`pipelines.ranking.staff_rows`
    of their counts, ``warehouse/sql/staff_counts.sql``)."""
    p = {
        **period_params(period),
        "start_us": period.start_s * 1_000_000,
        "end_us": period.end_s * 1_000_000,
    }
    return staff_rows(period, wh.execute(sql("staff_counts"), p), min_sample, computed_at)


def unit_samples(
    wh: Warehouse, period: Period, counts: Sequence[UnitCounts] | None = None
) -> list[UnitSample]:
    """Every unit's counted events in the period, from ClickHouse: K_n, K_sat, C_n, C_pos
    of ``counts`` (read with :func:`unit_counts` when not given) and the counted QR
    submissions (``warehouse/sql/unit_qr_submissions.sql``).

    The submissions are read a few units at a time (two queries at once, while the
    chunk before is laid out), as two numpy columns, each submission's answers packed
    into one string by the query (:func:`_packed_columns`), and laid out in numpy as one
    byte per criterion (:func:`_lay_out`), never as Python lists of answers: a month of
    millions of submissions is read in seconds and fits in memory (bench figure 6). The
    samples are those of :meth:`UnitSample.with_submissions`, as :func:`encode_unit`
    makes them (which reads the rows when the packing can't: an answer the counts don't
    know)."""
    if counts is None:
        counts = unit_counts(wh, period)
    params = period_params(period)
    offices_of: dict[str, list[str]] = {}
    for office, unit, _ in wh.execute(sql("office_units"), params):
        offices_of.setdefault(unit, []).append(office)
    q_n = {c.unit_code: c.q_n for c in counts}
    keys = sorted({(a, f"{q}:{criterion}") for c in counts for q, a, criterion, _, _ in c.criteria})
    qr: dict[str, Encoded] = {}
    chunks = [
        {**params, "offices": tuple(o for u in units for o in offices_of[u])}
        for units in _chunks(sorted(offices_of), lambda u: 1 + q_n.get(u, 0), QR_CHUNK)
    ]

    def read(conn: Warehouse, p: dict[str, Any]) -> list[Array] | None:
        return _packed_columns(conn, p, keys)

    for p, read_columns in prefetched(wh, chunks, read, ahead=2):  # two queries at once
        packed = _lay_out(read_columns, keys) if read_columns is not None else None
        if packed is None:  # an answer the counts don't know: each row as it is
            rows = wh.iterate(sql("unit_qr_submissions"), p)
            packed = {unit: encode_unit(rs) for unit, rs in groupby(rows, key=itemgetter(0))}
        qr.update(packed)
    return [
        UnitSample(
            c.unit_code,
            c.peer_group,
            c.k_n,
            c.k_sat,
            c.c_n,
            c.c_pos,
            *qr.get(c.unit_code, ((), ())),
        )
        for c in counts
    ]


Encoded = tuple[tuple[tuple[str, str], ...], Sequence[bytes]]
_BASE = 4096  # an answer: hex(4096 + its key's number · 2 + satisfied), 4 digits


def _packed_columns(
    wh: Warehouse, params: dict[str, Any], keys: Sequence[tuple[str, str]]
) -> list[Array] | None:
    """The units' counted submissions (``unit_qr_submissions.sql``) as two columns: unit,
    and the answers packed into one string by the query (hex of 4096 + the number of
    its criterion in ``keys``, the criteria of the units' counts, · 2 + satisfied). None
    when ``keys`` can't be numbered so (then :func:`encode_unit` reads the rows)."""
    if not keys or 2 * len(keys) + 1 >= (1 << 16) - _BASE:
        return None
    words = [f"{len(a.encode())}:{a}{key}" for a, key in keys]  # length(): bytes
    return columns(
        wh,
        "SELECT unit_code, arrayStringConcat(arrayMap((a, c, s, q) -> hex(toUInt16("
        f"{_BASE} + transform(concat(toString(length(a)), ':', a, q, ':', c), "
        "%(words)s, %(numbers)s, 0) * 2 + s)), answer_aspects, answer_codes, answer_satisfied, "
        # 18.16's lambdas see only their arguments: the questionnaire once per answer
        "arrayResize([questionnaire], length(answer_codes), questionnaire))) "
        f"FROM ({sql('unit_qr_submissions')})",
        {**params, "words": words, "numbers": list(range(1, len(words) + 1))},
    )


def _lay_out(read: list[Array], keys: Sequence[tuple[str, str]]) -> dict[str, Encoded] | None:
    """The units' (criteria, submissions) of :func:`pipelines.bootstrap.encode_unit` from
    :func:`_packed_columns`, laid out with numpy. None when an answer's criterion is not
    in ``keys`` or a submission repeats or lacks answers (then :func:`encode_unit` reads
    the rows)."""
    if not read:
        return {}
    unit_col, packed = read
    rows, numbers = unpack_hex(packed, 4)
    numbers -= _BASE
    key, satisfied = numbers >> 1, numbers & 1
    if len(key) and key.min() < 1:
        return None
    out: dict[str, Encoded] = {}
    n = len(unit_col)
    starts: list[int] = (
        np.flatnonzero(np.r_[True, unit_col[1:] != unit_col[:-1]]).tolist() if n else []
    )
    ends = [*starts[1:], n]
    bounds: list[int] = np.searchsorted(rows, np.array([*starts, n])).tolist()
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        a, b = bounds[i], bounds[i + 1]
        used, column = np.unique(key[a:b], return_inverse=True)
        m, row = len(used), rows[a:b] - start
        cells = row * m + column
        if m == 0 or len(np.unique(cells)) != len(cells) or len(np.unique(row)) != end - start:
            return None
        matrix = np.full((end - start) * m, NOT_ANSWERED, dtype=np.uint8)
        matrix[cells] = np.where(satisfied[a:b] == 1, SATISFIED, UNSATISFIED)
        ordered = matrix.view(f"V{m}")
        ordered.sort()
        out[unit_col[start].decode()] = (
            tuple(keys[k - 1] for k in used.tolist()),
            Rows(ordered.tobytes(), m),
        )
    return out


def _chunks(items: Sequence[str], weight: Callable[[str], int], limit: int) -> list[list[str]]:
    """``items`` in order, in runs whose weights add up to at most ``limit`` (an item
    heavier than that is a run of its own)."""
    out: list[list[str]] = []
    total = 0
    for item in items:
        if not out or total + weight(item) > limit:
            out.append([])
            total = 0
        out[-1].append(item)
        total += weight(item)
    return out


def silent_offices(wh: Warehouse, period: Period) -> list[tuple[str, str]]:
    """(office_id, unit_code) of each office registered in a unit that sent nothing in
    the whole period (``warehouse/sql/silent_offices.sql``)."""
    return wh.execute(sql("silent_offices"), period_params(period))


def registry_version(wh: Warehouse) -> int:
    """The registry's current version (0: none loaded)."""
    version = wh.execute("SELECT max(version) FROM registry_versions")[0][0]
    return int(version or 0)


def _replace(
    wh: Warehouse, table: str, period: Period, columns: Sequence[str], rows: Sequence[Any]
) -> None:
    """Replace the period's rows of ``table``: drop its partition, insert the new rows."""
    wh.drop_partition(table, period.key)
    wh.insert(table, columns, [astuple(r) for r in rows])


def publish(wh: Warehouse, period: Period, rows: Sequence[RankingRow]) -> None:
    """Replace the period's ranking (table ``rankings``)."""
    _replace(wh, "rankings", period, RANKING_COLUMNS, rows)


def publish_staff(wh: Warehouse, period: Period, rows: Sequence[StaffRow]) -> None:
    """Replace the period's staff scores (table ``staff_scores``)."""
    _replace(wh, "staff_scores", period, STAFF_COLUMNS, rows)


def read_ranking(wh: Warehouse, period: Period) -> list[RankingRow]:
    """The published rows of a period, ranked first (by peer group, then rank, the
    unranked last, then unit code)."""
    return [
        RankingRow(**dict(zip(RANKING_COLUMNS, row, strict=True)))
        for row in wh.execute(
            f"SELECT {', '.join(RANKING_COLUMNS)} FROM rankings WHERE period = %(period)s "
            "ORDER BY peer_group, isNull(rank), rank, unit_code",
            {"period": period.key},
        )
    ]

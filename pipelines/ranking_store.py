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

from pipelines.bootstrap import UnitSample, encode_unit
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

    The submissions stream in unit by unit and each is kept as a few bytes at once (not
    as Python lists of answers, :func:`pipelines.bootstrap.encode_unit`): a month of
    millions of submissions fits in memory (bench figure 6). The samples are those of
    :meth:`UnitSample.with_submissions`."""
    if counts is None:
        counts = unit_counts(wh, period)
    params = period_params(period)
    offices_of: dict[str, list[str]] = {}
    for office, unit, _ in wh.execute(sql("office_units"), params):
        offices_of.setdefault(unit, []).append(office)
    q_n = {c.unit_code: c.q_n for c in counts}
    qr: dict[str, tuple[tuple[tuple[str, str], ...], tuple[bytes, ...]]] = {}
    for units in _chunks(sorted(offices_of), lambda u: 1 + q_n.get(u, 0), QR_CHUNK):
        offices = tuple(o for u in units for o in offices_of[u])
        rows = wh.iterate(sql("unit_qr_submissions"), {**params, "offices": offices})
        for unit, unit_rows in groupby(rows, key=itemgetter(0)):
            qr[unit] = encode_unit(unit_rows)
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
    wh.execute(f"ALTER TABLE {table} DROP PARTITION %(period)s", {"period": period.key})
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

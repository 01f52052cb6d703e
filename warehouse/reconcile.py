"""Reconciliation (``hailong reconcile``): recompute the hourly buckets of a time range
from the raw tables, apart from the stream worker's SQL, compare them with the buckets
the worker keeps, and optionally repair.

The recount applies the rules of ``hailong/counting.py`` (the pure Python reference the
unit tests pin) in numpy over columns read from ClickHouse, with the same results
(``hailong/counting_np.py``, checked against it on generated events; the reads:
``warehouse/recount.py``). First, which raw rows of the range count by the claims
(``warehouse/owners.py``: usually all), reading the claims once, a range of event_ids
at a time; then the buckets, a group of offices at a time, and the comparison, in
columns too (:func:`compare`): a month of 10M events is checked in under half a
minute (bench figure 6), where the rows as Python objects took six.

A difference means a bucket was not refreshed after its events landed (it should not
happen: the worker refreshes before it acknowledges a batch) or a bug in one of the two
implementations. Repair recomputes the differing buckets with the worker's own SQL.

Offices are independent (a bucket, a device's misuse and a token's duplicates all
belong to one office), so the buckets are recounted a group of offices at a time, each
group holding at most ``max_rows`` raw events: memory stays bounded whatever the size
of the month. Rows that land while a range is reconciled may be counted without their
claims having been read (the check is meant for ended periods).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hailong.counting import HOUR_US
from hailong.counting_np import Buckets, group_rows
from warehouse import owners, recount
from warehouse.buckets import epoch_us, hour_spans
from warehouse.channels import BY_NAME
from warehouse.client import Warehouse
from warehouse.columnar import prefetched

MAX_ROWS = 500_000  # raw events per group of offices (about 100 MB of columns at most)
MAX_OFFICES = 500  # offices per group (each is named in the queries: max_query_size)


@dataclass
class TableReport:
    """How one bucket table compares with the reference."""

    table: str
    checked: int = 0
    differing: dict[Any, tuple[Any, Any]] = field(default_factory=dict)  # key → (streamed, ref)


@dataclass
class Report:
    start_us: int
    end_us: int
    tables: list[TableReport]
    raw_events: int

    @property
    def clean(self) -> bool:
        return not any(t.differing for t in self.tables)


def _key(table: str, parts: list[Any], offices: list[str]) -> tuple[Any, ...]:
    """A bucket's key as people and the repair read it (from its key columns' values)."""
    if table == "kiosk_misuse":
        hi, lo, t = (int(x) for x in parts)
        return (uuid.UUID(int=hi << 64 | lo), t)
    office, hour, *names = parts
    return (offices[int(office) - 1], int(hour), *(n.decode() for n in names))


def _value(table: str, row: list[Any]) -> Any:
    if table == "kiosk_misuse":
        return bool(row[0])
    if table == "camera_hourly":
        return (*(int(x) for x in row[:-1]), round(float(row[-1]), 6))
    return tuple(int(x) for x in row)


def compare(table: str, got: Buckets, want: Buckets, offices: list[str]) -> TableReport:
    """The buckets of one table, streamed and recomputed, compared key by key (a key
    missing on one side is zero there; camera's wait sums to 6 decimals)."""
    report = TableReport(table)
    n_got = len(got)
    columns = [
        np.unique(np.concatenate([g, w]), return_inverse=True)
        for g, w in zip(got.keys, want.keys, strict=True)
    ]
    group, first, report.checked = group_rows(*(inv.astype(np.int64) for _, inv in columns))
    sides = []
    for side, rows in ((got, group[:n_got]), (want, group[n_got:])):
        values = [np.zeros(report.checked, dtype=v.dtype) for v in side.values]
        for out, v in zip(values, side.values, strict=True):
            out[rows] = v
        sides.append(values)
    differ = np.zeros(report.checked, dtype=bool)
    for g, w in zip(*sides, strict=True):
        differ |= g != w
    for i in np.flatnonzero(differ):
        got_v, want_v = (_value(table, [v[i] for v in side]) for side in sides)
        if got_v != want_v:  # floats equal to 6 decimals are equal
            row = first[i]
            parts = [names[inv[row]] for names, inv in columns]
            report.differing[_key(table, parts, offices)] = (got_v, want_v)
    return report


TABLES = ("kiosk_hourly", "kiosk_misuse", "qr_hourly", "qr_criteria_hourly", "camera_hourly")
# The two sides, looked up here when called so that the bench can time each.
disowned = owners.disowned
reference = recount.reference


def office_groups(
    wh: Warehouse, lo: int, hi: int, max_rows: int = MAX_ROWS, max_offices: int = MAX_OFFICES
) -> list[list[str]]:
    """Every office with raw events or buckets in [lo, hi), in groups of at most
    ``max_rows`` raw events and ``max_offices`` offices (an office with more raw events
    than ``max_rows`` is a group of its own)."""
    p = {"lo": lo, "hi": hi, "lo_s": lo // 1_000_000, "hi_s": hi // 1_000_000}
    rows: dict[str, int] = {}
    for table, column in (
        ("kiosk_ratings_raw", "occurred_at_us"),
        ("qr_surveys_raw", "submitted_at_us"),
        ("camera_observations_raw", "observed_at_us"),
    ):
        for office, n in wh.execute(
            f"SELECT office_id, count() FROM {table} WHERE {column} "
            f">= %(lo)s - 4000000 AND {column} < %(hi)s "
            "GROUP BY office_id",
            p,
        ):
            rows[office] = rows.get(office, 0) + n
    for table in ("kiosk_hourly", "qr_hourly", "camera_hourly"):
        for (office,) in wh.execute(
            f"SELECT DISTINCT office_id FROM {table} WHERE hour >= "
            "toDateTime(%(lo_s)s) AND hour < toDateTime(%(hi_s)s)",
            p,
        ):
            rows.setdefault(office, 0)
    groups: list[list[str]] = []
    size = 0
    for office in sorted(rows):
        if not groups or size + rows[office] > max_rows or len(groups[-1]) >= max_offices:
            groups.append([])
            size = 0
        groups[-1].append(office)
        size += rows[office]
    return groups


def reconcile(
    wh: Warehouse,
    start: datetime,
    end: datetime,
    max_rows: int = MAX_ROWS,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Compare the streamed buckets of whole hours [start, end) with the reference, a
    group of offices at a time (see the module's docstring)."""
    lo = epoch_us(start) - epoch_us(start) % HOUR_US
    hi = epoch_us(end) + (-epoch_us(end)) % HOUR_US
    tables = {name: TableReport(name) for name in TABLES}
    raw_events = 0
    groups = office_groups(wh, lo, hi, max_rows)
    not_counted = disowned(wh, lo, hi)

    def read(conn: Warehouse, offices: list[str]) -> recount.Group:
        return recount.read_group(conn, lo, hi, offices)

    for i, (offices, group) in enumerate(prefetched(wh, groups, read), 1):
        ref = reference(group, not_counted)
        for name, total in tables.items():
            part = compare(name, group.streamed[name], ref.tables[name], offices)
            total.checked += part.checked
            total.differing.update(part.differing)
        raw_events += ref.raw_events
        if progress is not None and len(groups) > 1:
            progress(f"reconciled {i} of {len(groups)} office groups ({raw_events:,} raw events)")
    return Report(lo, hi, list(tables.values()), raw_events)


def repair(wh: Warehouse, report: Report) -> None:
    """Recompute every differing bucket with the stream worker's own SQL."""
    spans: dict[str, list[tuple[str, int]]] = {"kiosk": [], "qr": [], "camera": []}
    for t in report.tables:
        channel = t.table.split("_")[0]
        for key in t.differing:
            if t.table == "kiosk_misuse":
                continue  # flags are rewritten with the kiosk buckets below
            spans[channel].append((key[0], key[1]))
    misuse = next(t for t in report.tables if t.table == "kiosk_misuse")
    if misuse.differing:  # a whole-range kiosk refresh also rewrites the flags
        offices = wh.execute(
            "SELECT DISTINCT office_id FROM kiosk_ratings_raw "
            "WHERE occurred_at_us >= %(lo)s AND occurred_at_us < %(hi)s",
            {"lo": report.start_us, "hi": report.end_us},
        )
        spans["kiosk"] += [
            (o, t) for (o,) in offices for t in range(report.start_us, report.end_us, HOUR_US)
        ]
    for name, items in spans.items():
        if items:
            BY_NAME[name].refresh_ranges(wh, hour_spans(items))


def describe(report: Report, out: Callable[[str], None] = print, examples: int = 5) -> None:
    """Print a report for people."""

    def fmt(us: int) -> str:
        return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M")

    out(
        f"reconcile {fmt(report.start_us)} .. {fmt(report.end_us)} UTC: "
        f"{report.raw_events} raw events"
    )
    for t in report.tables:
        state = "equal" if not t.differing else f"{len(t.differing)} DIFFER"
        out(f"  {t.table:<20} {t.checked:>7} buckets checked, {state}")
        for key, (got, want) in list(t.differing.items())[:examples]:
            out(f"    {key}: streamed {got}, recomputed {want}")

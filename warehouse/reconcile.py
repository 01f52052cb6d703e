"""Reconciliation (``hailong reconcile``): recompute the hourly buckets of a time range
from the raw tables with the independent Python reference (``hailong/counting.py``),
compare them with the buckets the stream worker keeps, and optionally repair.

A difference means a bucket was not refreshed after its events landed (it should not
happen: the worker refreshes before it acknowledges a batch) or a bug in one of the two
implementations. Repair recomputes the differing buckets with the worker's own SQL.

Offices are independent (a bucket, a device's misuse and a token's duplicates all
belong to one office), so a range is reconciled a group of offices at a time, each
group holding at most ``max_rows`` raw events: memory stays bounded whatever the size
of the month (bench figure 6 ran a month of 30M events; loaded at once, the reference
needed far more memory than the machine had).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hailong import counting
from hailong.counting import HOUR_US
from warehouse import claims
from warehouse.buckets import epoch_us, hour_spans
from warehouse.channels import BY_NAME
from warehouse.client import Warehouse

_POSITION = "kafka_partition, kafka_offset"
_OFFICES = "AND office_id IN %(offices)s"
MAX_ROWS = 200_000  # raw events per group of offices (~0.7 GB of Python objects)
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


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _hour(value: Any) -> int:
    if isinstance(value, datetime):
        return epoch_us(value if value.tzinfo else value.replace(tzinfo=UTC))
    return epoch_us(datetime.fromisoformat(str(value)).replace(tzinfo=UTC))


def _compare(
    table: str, streamed: dict[Any, Any], reference: dict[Any, Any], zero: Any
) -> TableReport:
    report = TableReport(table)
    for key in set(streamed) | set(reference):
        report.checked += 1
        got, want = streamed.get(key, zero), reference.get(key, zero)
        if got != want:
            report.differing[key] = (got, want)
    return report


def _in_range(buckets: dict[Any, Any], lo: int, hi: int) -> dict[Any, Any]:
    return {k: v for k, v in buckets.items() if lo <= k[1] < hi}


def owned(wh: Warehouse, channel: str, query: str, p: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a raw query ``SELECT event_id, kafka_partition, kafka_offset, ...`` of
    one channel that count, without the position: each event_id once, its owner by the
    claims (``warehouse/claims.py``), decided here in Python, apart from the SQL."""
    rows = wh.execute(query, p)
    found = claims.lookup_in(wh, f"(SELECT event_id FROM ({query}))", p)
    out: dict[uuid.UUID, tuple[Any, ...]] = {}
    for r in rows:
        eid = _uuid(r[0])
        if claims.owner(found.get(eid, [])) == claims.Position(channel, r[2], r[1]):
            out[eid] = (eid, *r[3:])
    return list(out.values())


def reference(wh: Warehouse, lo: int, hi: int, offices: list[str]) -> dict[str, Any]:
    """The buckets of [lo, hi) (UTC µs, whole hours) of these offices, recomputed from raw
    in Python."""
    p = {"lo": lo, "hi": hi, "offices": tuple(offices)}
    presses = [
        counting.Press(e, o, d, t, s, v)
        for e, o, d, t, s, v in owned(
            wh,
            "kiosk",
            (
                f"SELECT event_id, {_POSITION}, office_id, device_id, occurred_at_us, scale, value "
                "FROM kiosk_ratings_raw WHERE occurred_at_us >= %(lo)s - 4000000 "
                f"AND occurred_at_us < %(hi)s {_OFFICES}"
            ),
            p,
        )
    ]
    in_range_presses = [p for p in presses if p.t_us >= lo]
    flagged = counting.misuse(presses)
    subs = [
        counting.Submission(e, o, tok, t, q, tuple(zip(asp, codes, vals, strict=True)))
        for e, o, tok, t, q, codes, asp, vals in owned(
            wh,
            "qr",
            (
                f"SELECT event_id, {_POSITION}, office_id, token_id, submitted_at_us, "
                "questionnaire, answer_codes, answer_aspects, answer_values "
                "FROM qr_surveys_raw WHERE (office_id, token_id) IN "
                "(SELECT office_id, token_id FROM qr_surveys_raw WHERE "
                f"submitted_at_us >= %(lo)s AND submitted_at_us < %(hi)s {_OFFICES}) {_OFFICES}"
            ),
            p,
        )
    ]
    observations = [
        counting.Observation(e, o, t, k, s, c, q, w)
        for e, o, t, k, s, c, q, w in owned(
            wh,
            "camera",
            (
                f"SELECT event_id, {_POSITION}, office_id, observed_at_us, kind, sentiment, "
                "confidence, queue_length, wait_seconds FROM camera_observations_raw "
                f"WHERE observed_at_us >= %(lo)s AND observed_at_us < %(hi)s {_OFFICES}"
            ),
            p,
        )
    ]
    qr_subs, qr_criteria = counting.qr_buckets(subs)
    return {
        "kiosk_hourly": _in_range(counting.kiosk_buckets(presses), lo, hi),
        "kiosk_misuse": {
            (p.event_id, p.t_us): True for p in in_range_presses if p.event_id in flagged
        },
        "qr_hourly": _in_range(qr_subs, lo, hi),
        "qr_criteria_hourly": _in_range(qr_criteria, lo, hi),
        "camera_hourly": _in_range(counting.camera_buckets(observations), lo, hi),
        "_raw_events": len(in_range_presses)
        + len([s for s in subs if lo <= s.t_us < hi])
        + len(observations),
    }


def streamed(wh: Warehouse, lo: int, hi: int, offices: list[str]) -> dict[str, Any]:
    """The buckets of [lo, hi) of these offices as the stream worker left them."""
    p = {"lo": lo // 1_000_000, "hi": hi // 1_000_000, "offices": tuple(offices)}
    where = f"WHERE hour >= toDateTime(%(lo)s) AND hour < toDateTime(%(hi)s) {_OFFICES}"
    return {
        "kiosk_hourly": {
            (o, _hour(h)): (n, s, m)
            for o, h, n, s, m in wh.execute(
                f"SELECT office_id, hour, k_n, k_sat, k_misuse FROM kiosk_hourly FINAL {where}", p
            )
        },
        "kiosk_misuse": {
            (_uuid(e), t): True
            for e, t in wh.execute(
                "SELECT event_id, occurred_at_us FROM kiosk_misuse_flags FINAL WHERE misuse = 1 "
                f"AND occurred_at_us >= %(lo)s AND occurred_at_us < %(hi)s {_OFFICES}",
                {"lo": lo, "hi": hi, "offices": tuple(offices)},
            )
        },
        "qr_hourly": {
            (o, _hour(h)): (n, d)
            for o, h, n, d in wh.execute(
                f"SELECT office_id, hour, q_n, q_duplicates FROM qr_hourly FINAL {where}", p
            )
        },
        "qr_criteria_hourly": {
            (o, _hour(h), q, a, c): (n, s)
            for o, h, q, a, c, n, s in wh.execute(
                "SELECT office_id, hour, questionnaire, aspect, "
                "criterion, answered, satisfied "
                f"FROM qr_criteria_hourly FINAL {where}",
                p,
            )
        },
        "camera_hourly": {
            (r[0], _hour(r[1])): (*r[2:9], round(r[9], 6))
            for r in wh.execute(
                "SELECT office_id, hour, c_n, c_pos, c_low_confidence, queue_obs, "
                "queue_length_sum, queue_length_max, wait_obs, wait_seconds_sum "
                f"FROM camera_hourly FINAL {where}",
                p,
            )
        },
    }


_ZERO = {
    "kiosk_hourly": (0, 0, 0),
    "kiosk_misuse": False,
    "qr_hourly": (0, 0),
    "qr_criteria_hourly": (0, 0),
    "camera_hourly": (0, 0, 0, 0, 0, 0, 0, 0.0),
}


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
    tables = {name: TableReport(name) for name in _ZERO}
    raw_events = 0
    groups = office_groups(wh, lo, hi, max_rows)
    for i, offices in enumerate(groups, 1):
        ref = reference(wh, lo, hi, offices)
        ref["camera_hourly"] = {
            k: (*v[:7], round(v[7], 6)) for k, v in ref["camera_hourly"].items()
        }
        got = streamed(wh, lo, hi, offices)
        for name, total in tables.items():
            part = _compare(name, got[name], ref[name], _ZERO[name])
            total.checked += part.checked
            total.differing.update(part.differing)
        raw_events += ref["_raw_events"]
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

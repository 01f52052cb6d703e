"""Alerts in ClickHouse (issue 14): each change of an alert's life in ``alert_changes``,
each alert as it stands in the view ``alerts`` (migration 0013)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

COLUMNS = (
    "alert_id",
    "office_id",
    "rule",
    "kind",
    "state",
    "hour",
    "raised_hour",
    "by",
    "comment",
    "numbers",
    "recorded_at",
)


class ChangeRow(NamedTuple):
    """One row of ``alert_changes`` (hours as hours since the epoch, UTC)."""

    alert_id: str
    office_id: str
    rule: str
    kind: str
    state: str
    hour: int
    raised_hour: int
    by: str
    comment: str
    numbers: dict[str, float]


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def record(wh: Any, changes: Iterable[ChangeRow], now: datetime) -> int:
    """Write changes (again, after a restart: the same rows merge)."""
    rows = [
        (
            c.alert_id,
            c.office_id,
            c.rule,
            c.kind,
            c.state,
            _at(c.hour),
            _at(c.raised_hour),
            c.by,
            c.comment,
            json.dumps(c.numbers, sort_keys=True),
            now,
        )
        for c in changes
    ]
    return int(wh.insert("alert_changes", COLUMNS, rows)) if rows else 0


class Stored(NamedTuple):
    alert_id: str
    office_id: str
    rule: str
    state: str
    raised_at: datetime
    numbers: dict[str, float]
    acknowledged_by: str
    comment: str


def current(wh: Any, open_only: bool = True) -> list[Stored]:
    """Alerts as they stand (open ones: raised or acknowledged), oldest first."""
    rows = wh.execute(
        "SELECT alert_id, office_id, rule, current_state, toUInt32(raised_at), latest_numbers, "
        "acknowledged_by, latest_comment FROM alerts "
        + ("WHERE current_state != 'resolved' " if open_only else "")
        + "ORDER BY raised_at, alert_id"
    )
    return [
        Stored(a, o, r, s, datetime.fromtimestamp(int(at), UTC), json.loads(n), by, c)
        for a, o, r, s, at, n, by, c in rows
    ]

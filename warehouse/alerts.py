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


class AlertError(ValueError):
    """A person's action that does not apply to the alert as it is."""


def hour_of(at: datetime) -> int:
    """An instant's hour, as hours since the epoch (UTC): how alerts count time."""
    return int(at.timestamp()) // 3600


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


def act(
    wh: Any,
    alert_id: str,
    kind: str,
    by: str,
    comment: str,
    now: datetime,
    until: datetime | None = None,
) -> ChangeRow:
    """A person acknowledges, resolves or snoozes an alert (``hailong alerts``): checked
    against the alert as it stands, recorded in ``alert_changes``; the engine applies it
    on its next run and delivers it (topic, routes) like its own changes."""
    rows = wh.execute(
        "SELECT office_id, rule, current_state, toUInt32(raised_at), latest_numbers "
        "FROM alerts WHERE alert_id = %(a)s",
        {"a": alert_id},
    )
    if not rows:
        raise AlertError(f"no alert {alert_id}")
    office_id, rule, state, raised, numbers = rows[0]
    if not by.strip():
        raise AlertError("say who you are (--by)")
    if kind == "acknowledged" and state != "raised":
        raise AlertError(f"only a raised alert can be acknowledged; {alert_id} is {state}")
    if kind in ("resolved", "snoozed") and state == "resolved":
        raise AlertError(f"{alert_id} is already resolved")
    hour = hour_of(now)
    values = json.loads(numbers)
    if kind == "snoozed":
        if until is None or hour_of(until) <= hour:
            raise AlertError("snooze until a later hour (--until)")
        values["until_hour"] = float(hour_of(until))
    new_state = {"acknowledged": "acknowledged", "resolved": "resolved"}.get(kind, state)
    row = ChangeRow(
        alert_id, office_id, rule, kind, new_state, hour, int(raised) // 3600, by, comment, values
    )
    record(wh, [row], now)
    return row

"""The life of an alert (issue 14), as pure state transitions: raised, acknowledged (by
whom, with a comment), resolved (automatically when the numbers recover, or by a
person); snoozed until a time; reminded while nobody acknowledges it.

One :class:`Track` per (office, rule) remembers how many evaluations in a row found the
rule holding (``streak``) or not (``calm``), and the open alert if any. :func:`step`
takes the track and this evaluation's finding and returns the new track and what
changed, which the engine publishes (``satisfaction.alerts.v1``) and stores. Nothing
here reads a clock: hours come in as numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from streams.alert_rules import Finding
from warehouse.alerts import AlertError

RAISED, ACKNOWLEDGED, RESOLVED = "raised", "acknowledged", "resolved"


@dataclass(frozen=True)
class Policy:
    """How long a rule must hold before raising (``min_hours``), stay away before an
    alert resolves itself (``recover_hours``), and how often an unacknowledged alert is
    sent again (``repeat_hours``; 0 = never)."""

    min_hours: int = 1
    recover_hours: int = 2
    repeat_hours: int = 24


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule: str
    office_id: str
    state: str
    raised_hour: int
    numbers: Mapping[str, float]
    last_sent_hour: int
    acknowledged_by: str = ""
    comment: str = ""
    resolved_hour: int | None = None
    resolved_by: str = ""


@dataclass(frozen=True)
class Track:
    streak: int = 0
    calm: int = 0
    alert: Alert | None = None
    snoozed_until_hour: int = 0


@dataclass(frozen=True)
class Change:
    """What an evaluation or a person did to an alert: ``raised``, ``reminded``,
    ``acknowledged``, ``resolved`` or ``snoozed``."""

    kind: str
    alert: Alert
    by: str = "hailong"
    extra: Mapping[str, object] = field(default_factory=dict)


def alert_id(office_id: str, rule: str, raised_hour: int) -> str:
    """Deterministic: a worker that evaluates the same hour again (after a restart)
    makes the same id, so an alert is never duplicated downstream."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hailong-alert/{office_id}/{rule}/{raised_hour}"))


def step(
    track: Track, finding: Finding | None, now_hour: int, policy: Policy, rule: str, office_id: str
) -> tuple[Track, list[Change]]:
    """One evaluation of one rule at one office."""
    changes: list[Change] = []
    open_alert = track.alert if track.alert and track.alert.state != RESOLVED else None
    if finding is not None:
        track = replace(track, streak=track.streak + 1, calm=0)
        if open_alert is None:
            if track.streak >= policy.min_hours and now_hour >= track.snoozed_until_hour:
                raised = Alert(
                    alert_id(office_id, rule, now_hour),
                    rule,
                    office_id,
                    RAISED,
                    now_hour,
                    dict(finding.numbers),
                    now_hour,
                )
                track = replace(track, alert=raised)
                changes.append(Change("raised", raised))
        else:
            updated = replace(open_alert, numbers=dict(finding.numbers))
            if (
                updated.state == RAISED
                and policy.repeat_hours
                and now_hour - updated.last_sent_hour >= policy.repeat_hours
                and now_hour >= track.snoozed_until_hour
            ):
                updated = replace(updated, last_sent_hour=now_hour)
                changes.append(Change("reminded", updated))
            track = replace(track, alert=updated)
        return track, changes
    track = replace(track, streak=0, calm=track.calm + 1)
    if open_alert is not None and track.calm >= policy.recover_hours:
        resolved = replace(
            open_alert, state=RESOLVED, resolved_hour=now_hour, resolved_by="recovered"
        )
        track = replace(track, alert=resolved)
        changes.append(Change("resolved", resolved, "hailong", {"why": "the numbers recovered"}))
    return track, changes


def acknowledge(track: Track, by: str, comment: str, now_hour: int) -> tuple[Track, Change]:
    a = track.alert
    if a is None or a.state != RAISED:
        raise AlertError(
            "only a raised alert can be acknowledged" + (f" (it is {a.state})" if a else "")
        )
    if not by.strip():
        raise AlertError("say who acknowledges it")
    done = replace(
        a, state=ACKNOWLEDGED, acknowledged_by=by, comment=comment, last_sent_hour=now_hour
    )
    return replace(track, alert=done), Change("acknowledged", done, by, {"comment": comment})


def resolve(track: Track, by: str, comment: str, now_hour: int) -> tuple[Track, Change]:
    a = track.alert
    if a is None or a.state == RESOLVED:
        raise AlertError("no open alert to resolve")
    if not by.strip():
        raise AlertError("say who resolves it")
    done = replace(
        a, state=RESOLVED, resolved_hour=now_hour, resolved_by=by, comment=comment or a.comment
    )
    # A person's resolution starts a fresh streak: the rule must hold again to re-raise.
    return (
        replace(track, alert=done, streak=0, calm=0),
        Change("resolved", done, by, {"comment": comment}),
    )


def snooze(track: Track, until_hour: int, by: str, now_hour: int) -> tuple[Track, Change]:
    if until_hour <= now_hour:
        raise AlertError("snooze until a later hour")
    if track.alert is None:
        raise AlertError("nothing to snooze")
    return (
        replace(track, snoozed_until_hour=until_hour),
        Change("snoozed", track.alert, by, {"until_hour": until_hour}),
    )

"""The alert engine's evaluation (issue 14): read what the worker landed, apply each
office's rules, step each alert's life.

:func:`office_hours` is the one read: each office's hourly kiosk counts as landed
(``kiosk_hourly``, exact, each event once). :func:`evaluate` is pure: given those hours,
the city's :class:`RuleBook`, the tracks of the alerts so far and the hour of the
evaluation, it returns the new tracks and the changes to publish. The engine that calls
it every hour from the stream worker, stores the tracks and sends the changes
(``satisfaction.alerts.v1``, ClickHouse, webhooks, e-mail) is the next part of issue 14.

**Restarts.** A track is a function of the hours behind it: :func:`catch_up` rebuilds the
tracks by evaluating the last ``REPLAY_HOURS`` again from nothing, and alert ids are
derived from (office, rule, hour raised). A worker that starts again therefore finds
the same open alerts, under the same ids, as one that never stopped: nothing lost, and
an alert re-sent after a restart is the same alert (receivers keep one per id and kind).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.alert_life import Change, Policy, Track, step
from streams.alert_rules import (
    Finding,
    Hour,
    RuleBook,
    RuleSet,
    credible_drop,
    index_below,
    volume_drop,
)

HOURS_SQL = """
SELECT office_id, intDiv(toUInt32(hour), 3600) AS h, k_n, k_sat
FROM kiosk_hourly FINAL
WHERE hour >= toDateTime(%(first)s, 'UTC') AND hour < toDateTime(%(end)s, 'UTC')
  AND k_n > 0
ORDER BY office_id, h
"""
# How many hours a restart evaluates again to rebuild the tracks: longer than any rule's
# minimum duration and recovery, and than a snooze is remembered (snoozes are people's
# actions, kept with the alerts, not rebuilt here).
REPLAY_HOURS = 24 * 7


def office_hours(wh: Any, first_hour: int, last_hour: int) -> dict[str, list[Hour]]:
    """Every office's hours with ratings in [first_hour, last_hour], oldest first (hours
    since the epoch, UTC). ``wh``: a Warehouse (or chdb's, in tests)."""
    out: dict[str, list[Hour]] = {}
    for office_id, h, n, sat in wh.execute(HOURS_SQL, {"first": first_hour * 3600,
                                                       "end": (last_hour + 1) * 3600}):
        out.setdefault(office_id, []).append(Hour(int(h), int(n), int(sat)))
    return out


def findings(office_id: str, hours: list[Hour], now_hour: int, rules: RuleSet
             ) -> dict[str, Finding | None]:
    """Each hourly rule's finding at one office now (None: it does not hold)."""
    return {
        "credible_drop": credible_drop(office_id, hours, now_hour, rules.credible_drop),
        "index_below": index_below(office_id, hours, now_hour, rules.index_below),
        "volume_drop": volume_drop(office_id, hours, now_hour, rules.volume_drop),
    }


def policy(rule: str, rules: RuleSet) -> Policy:
    minimum = {"credible_drop": rules.credible_drop.min_hours,
               "index_below": rules.index_below.min_hours}.get(rule, 1)
    return Policy(min_hours=minimum)


def evaluate(hours: Mapping[str, list[Hour]], book: RuleBook, unit_of: Mapping[str, str],
             tracks: Mapping[tuple[str, str], Track], now_hour: int,
             offices: Iterable[str] | None = None
             ) -> tuple[dict[tuple[str, str], Track], list[Change]]:
    """One evaluation of every office (``offices``, default: those with hours or an
    alert): the new tracks by (office, rule), and what changed."""
    names = set(offices) if offices is not None else {*hours, *(o for o, _ in tracks)}
    new = dict(tracks)
    changes: list[Change] = []
    for office_id in sorted(names):
        rules = book.for_office(office_id, unit_of.get(office_id, ""))
        for rule, finding in findings(office_id, hours.get(office_id, []), now_hour,
                                      rules).items():
            track, changed = step(tracks.get((office_id, rule), Track()), finding, now_hour,
                                  policy(rule, rules), rule, office_id)
            new[(office_id, rule)] = track
            changes += changed
    return new, changes


def catch_up(hours: Mapping[str, list[Hour]], book: RuleBook, unit_of: Mapping[str, str],
             until_hour: int, replay_hours: int = REPLAY_HOURS, every: int = 1,
             ) -> tuple[dict[tuple[str, str], Track], list[Change]]:
    """The tracks as they stand at ``until_hour``, rebuilt by evaluating the
    ``replay_hours`` before it (every ``every`` hours, as the engine does) from nothing;
    and every change of that replay (the engine sends only those after its last
    evaluation)."""
    tracks: dict[tuple[str, str], Track] = {}
    changes: list[Change] = []
    start = until_hour - replay_hours
    for h in range(start + (until_hour - start) % every, until_hour + 1, every):
        tracks, changed = evaluate(hours, book, unit_of, tracks, h)
        changes += changed
    return tracks, changes

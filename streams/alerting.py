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
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from streams.alert_book import RuleBook, RuleSet
from streams.alert_life import Change, Policy, Track, step
from streams.alert_rules import (
    UNKNOWN,
    Finding,
    Hour,
    credible_drop,
    index_below,
    kiosk_gap,
    silent_office,
    volume_drop,
    volume_ratio,
    volume_surge,
)

KIOSK_SQL = """
SELECT office_id, intDiv(toUInt32(hour), 3600) AS h, k_n, k_sat
FROM kiosk_hourly FINAL
WHERE hour >= toDateTime(%(first)s, 'UTC') AND hour < toDateTime(%(end)s, 'UTC')
  AND k_n > 0
"""
QR_SQL = """
SELECT office_id, intDiv(toUInt32(hour), 3600) AS h, sum(answered), sum(satisfied)
FROM qr_criteria_hourly FINAL
WHERE hour >= toDateTime(%(first)s, 'UTC') AND hour < toDateTime(%(end)s, 'UTC')
GROUP BY office_id, h
HAVING sum(answered) > 0
"""
CAMERA_SQL = """
SELECT office_id, intDiv(toUInt32(hour), 3600) AS h, c_n, c_pos
FROM camera_hourly FINAL
WHERE hour >= toDateTime(%(first)s, 'UTC') AND hour < toDateTime(%(end)s, 'UTC')
  AND c_n > 0
"""
# How many hours a restart evaluates again to rebuild the tracks: longer than any rule's
# minimum duration and recovery, and than a snooze is remembered (snoozes are people's
# actions, kept with the alerts, not rebuilt here).
REPLAY_HOURS = 24 * 7
# Office hours for the hourly rules: an hour counts when it lies wholly inside the
# opening hours of warehouse/devices.py (Mon-Fri 07:30-17:00, Hanoi): 08:00 to 17:00.
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


# Rules about what is missing are judged in office hours; the others in each hour that
# brought the office something (ratings, anonymous answers), so that a
# rule's "3 hours in a row" means 3 hours of new evidence, not a night of the same.
ABSENCE_RULES = frozenset({"volume_drop", "silent_office"})


def office_hour(hour: int) -> bool:
    """Whether the UTC hour ``hour`` (hours since the epoch) is an office hour in Hanoi."""
    local = datetime.fromtimestamp(hour * 3600, UTC).astimezone(LOCAL)
    return local.isoweekday() <= 5 and 8 <= local.hour < 17


def office_hours(wh: Any, first_hour: int, last_hour: int) -> dict[str, list[Hour]]:
    """Every office's hours with kiosk ratings, QR answers or camera observations in
    [first_hour, last_hour], oldest first (hours since the epoch, UTC). ``wh``: a
    Warehouse (or chdb's, in tests)."""
    p = {"first": first_hour * 3600, "end": (last_hour + 1) * 3600}
    cells: dict[tuple[str, int], list[int]] = {}
    for office_id, h, n, sat in wh.execute(KIOSK_SQL, p):
        cells.setdefault((office_id, int(h)), [0] * 4)[:2] = [int(n), int(sat)]
    for sql in (QR_SQL, CAMERA_SQL):
        for office_id, h, n, pos in wh.execute(sql, p):
            cell = cells.setdefault((office_id, int(h)), [0] * 4)
            cell[2] += int(n)
            cell[3] += int(pos)
    out: dict[str, list[Hour]] = {}
    for (office_id, h), c in sorted(cells.items()):
        out.setdefault(office_id, []).append(Hour(h, *c))
    return out


def findings(
    office_id: str, hours: list[Hour], now_hour: int, rules: RuleSet, city_median_ratio: float = 1.0
) -> dict[str, Finding | None]:
    """Each hourly rule's finding at one office now (None: it does not hold)."""
    return {
        "credible_drop": credible_drop(office_id, hours, now_hour, rules.credible_drop),
        "index_below": index_below(office_id, hours, now_hour, rules.index_below),
        "volume_drop": volume_drop(office_id, hours, now_hour, rules.volume_drop),
        "silent_office": silent_office(
            office_id, hours, now_hour, rules.silent_office, office_hour
        ),
        "volume_surge": volume_surge(
            office_id, hours, now_hour, rules.volume_surge, city_median_ratio
        ),
        "kiosk_gap": kiosk_gap(office_id, hours, now_hour, rules.kiosk_gap),
    }


def city_median_ratio(hours: Mapping[str, list[Hour]], now_hour: int, rules: RuleSet) -> float:
    """The median over offices of this window's volume against each one's usual."""
    ratios = sorted(
        n / max(expected, 1.0)
        for n, expected in (
            volume_ratio(
                h, now_hour, rules.volume_surge.window_hours, rules.volume_surge.baseline_days
            )
            for h in hours.values()
        )
    )
    return ratios[len(ratios) // 2] if ratios else 1.0


def policy(rule: str, rules: RuleSet) -> Policy:
    """A rule's life policy: its minimum duration, if it has one, and its reminders."""
    settings = getattr(rules, rule)
    return Policy(min_hours=getattr(settings, "min_hours", 1), repeat_hours=settings.repeat_hours)


def evaluate(
    hours: Mapping[str, list[Hour]],
    book: RuleBook,
    unit_of: Mapping[str, str],
    tracks: Mapping[tuple[str, str], Track],
    now_hour: int,
    offices: Iterable[str] | None = None,
) -> tuple[dict[tuple[str, str], Track], list[Change]]:
    """One evaluation of every office (``offices``, default: those with hours or an
    alert): the new tracks by (office, rule), and what changed."""
    names = set(offices) if offices is not None else {*hours, *(o for o, _ in tracks)}
    new = dict(tracks)
    changes: list[Change] = []
    median = city_median_ratio(hours, now_hour, book.defaults)
    for office_id in sorted(names):
        rules = book.for_office(office_id, unit_of.get(office_id, ""))
        mine = hours.get(office_id, [])
        active = any(h.hour == now_hour for h in mine)
        for rule, finding in findings(office_id, mine, now_hour, rules, median).items():
            if (
                finding is UNKNOWN
                or (rule in ABSENCE_RULES and not office_hour(now_hour))
                or (rule not in ABSENCE_RULES and not active)
            ):
                continue  # nothing new to judge this hour: the track stays as it is
            track, changed = step(
                tracks.get((office_id, rule), Track()),
                finding,
                now_hour,
                policy(rule, rules),
                rule,
                office_id,
            )
            new[(office_id, rule)] = track
            changes += changed
    return new, changes


def catch_up(
    hours: Mapping[str, list[Hour]],
    book: RuleBook,
    unit_of: Mapping[str, str],
    until_hour: int,
    replay_hours: int = REPLAY_HOURS,
    every: int = 1,
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

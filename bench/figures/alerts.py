"""Figure 9: alert rules on simulated weeks of the 126 communes (issue 14).

Seeded simulation, no services. Each of 126 offices gets a volume (kiosk ratings per
office hour, from 1 to 40, log-uniform: small communes and big wards), a true satisfied
share (70-92 %) and anonymous answers (QR and camera:
half the kiosk's volume, 5 points less satisfied, as a kiosk watched by the civil
servant tends to be). Office hours are Hanoi's (Mon-Fri 08:00-17:00, on the real
calendar); each hour's counts are drawn binomially.

The kiosk's presses are drawn one by one (uniform in their hour), so the live rules a
kiosk can set off (silent device, misuse surge, negative share) are judged on the same
data every 5 minutes of office hours, as the engine's runs do (the held-events and
new-devices rules need held events or new devices, which a city without change has
none of). Every office hour of the evaluation weeks, after 6 weeks of history, the city is
evaluated the way the worker's alert engine does it (``streams/alerting.py``
``evaluate``: every hourly rule with its default settings, the rule's minimum duration,
recovery and repeat policy), beside the fixed-threshold rule of common products:

* **naive**: the last 8 hours' satisfied share under 70 % with at least 5 ratings,
  raised at once.

Two measurements on the same data:

* ``<rule>_false_per_office_week``: alerts raised where no office's true level, volume
  or behaviour changed (goal for the credible drop: <= 0.05);
* a real drop (85 % → 60 %, from the first office hour of week 2) at a small, a medium
  and a large office: the office hours until the credible-drop, index-below and naive
  rules raised (``*_delay_*_h``; the evaluation's length when it never did).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.core import Figure, Lab, Value
from streams.alert_book import RuleBook
from streams.alert_life import Policy, Track, step
from streams.alert_live import step_live
from streams.alert_rules import Finding, Hour, misuse_surge, negative_share, silent_device
from streams.alerting import LOCAL, evaluate, office_hour

OFFICES = 126
SEED = 20261129
LOOKBACK_DAYS = 36
WINDOW = 8
# Monday 6 January 2025, 00:00 UTC: the first hour of the simulated history.
FIRST = int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) // 3600
HOURLY_RULES = (
    "credible_drop",
    "index_below",
    "volume_drop",
    "silent_office",
    "volume_surge",
    "kiosk_gap",
)
LIVE_RULES = ("silent_device", "misuse_surge", "negative_share")


@dataclass(frozen=True)
class Press:
    """One kiosk press of the simulation: when (seconds since the epoch), and what."""

    at_s: float
    satisfied: bool
    negative: bool
    misuse: bool


def _simulate(
    rng: random.Random,
    per_hour: float,
    share: float,
    first: int,
    last: int,
    drop_at: int | None = None,
) -> tuple[list[Hour], list[Press]]:
    """An office's hours (what the hourly rules read) and its kiosk's presses (what the
    live rules read), from the same draws. Of the unsatisfied ratings, half are negative
    (the bottom two levels of five); 3 % of presses are misuse (not counted)."""
    hours, presses = [], []
    for h in range(first, last):
        # Offices open at 07:30 (warehouse/devices.py): a half hour before the first
        # whole office hour.
        opening = not office_hour(h) and office_hour(h + 1)
        if not office_hour(h) and not opening:
            continue
        scale = 0.5 if opening else 1.0
        n = max(0, round(rng.gauss(per_hour * scale, (per_hour * scale) ** 0.5)))
        p = 0.60 if drop_at is not None and h >= drop_at else share
        k = 0
        for at in sorted(rng.uniform(1800 if opening else 0, 3600) for _ in range(n)):
            sat = rng.random() < p
            k += sat
            presses.append(Press(h * 3600 + at, sat, not sat and rng.random() < 0.5, False))
        for _ in range(sum(rng.random() < 0.03 for _ in range(n))):
            presses.append(
                Press(h * 3600 + rng.uniform(1800 if opening else 0, 3600), False, False, True)
            )
        an = max(0, round(rng.gauss(per_hour * scale / 2, (per_hour * scale / 2) ** 0.5)))
        ak = sum(rng.random() < p - 0.05 for _ in range(an))
        if n + an:
            hours.append(Hour(h, n, k, an, ak))
    presses.sort(key=lambda x: x.at_s)
    return hours, presses


def _live(
    presses: dict[str, list[Press]], first_eval: int, last: int, lab: Lab
) -> list[tuple[str, str, int]]:
    """The live rules a kiosk's presses can set off (silent device, misuse surge,
    negative share), judged every 5 minutes of office hours as the engine's runs do,
    with the engine's live step; every alert raised (office, rule, hour)."""
    rules = RuleBook().defaults
    raised: list[tuple[str, str, int]] = []
    tracks: dict[tuple[str, str], Track] = {}
    for office, mine in presses.items():
        times = [p.at_s for p in mine]
        counted = [p for p in mine if not p.misuse]
        counted_times = [p.at_s for p in counted]
        first_day = [t for t in times if t < first_eval * 3600]
        pace = len(first_day) / max(1, sum(office_hour(h) for h in range(FIRST, first_eval)))
        for h in range(first_eval, last):
            if not office_hour(h):
                continue
            for minute in range(0, 60, 5):
                now_s = h * 3600 + minute * 60
                i = bisect.bisect_right(times, now_s)
                local = datetime.fromtimestamp(now_s, UTC).astimezone(LOCAL)
                opened = local.replace(hour=7, minute=30, second=0).timestamp()
                last_s = times[i - 1] if i else 0.0
                silent = (now_s - max(last_s, opened)) / 60
                window = mine[bisect.bisect_left(times, now_s - 8 * 3600) : i]
                c = bisect.bisect_right(counted_times, now_s)
                latest = [
                    p.negative for p in counted[max(0, c - 30) : c] if p.at_s >= now_s - 7 * 86_400
                ]
                found = [
                    f
                    for f in (
                        silent_device(office, "K", silent, pace, False, rules.silent_device),
                        misuse_surge(
                            office,
                            "K",
                            sum(p.misuse for p in window),
                            len(window),
                            rules.misuse_surge,
                        ),
                        negative_share(office, latest, rules.negative_share),
                    )
                    if f is not None
                ]
                tracks, changes = step_live(tracks, found, h)
                raised += [
                    (office, c.alert.rule.split("/")[0], h) for c in changes if c.kind == "raised"
                ]
        if len(raised) and office.endswith("0"):
            lab.progress(f"alerts (live rules): {office}, {len(raised)} raised so far")
    return raised


def naive(office_id: str, hours: Sequence[Hour], now: int) -> Finding | None:
    window = [h for h in hours if now - WINDOW < h.hour <= now]
    n = sum(h.n for h in window)
    k = sum(h.satisfied for h in window)
    if n >= 5 and k / n < 0.70:
        return Finding("naive", office_id, {"n": n, "share": k / n})
    return None


def _recent(city: dict[str, list[Hour]], now: int) -> dict[str, list[Hour]]:
    """Each office's hours in the engine's lookback before ``now``, up to ``now``."""
    out = {}
    for office, hours in city.items():
        keys = [h.hour for h in hours]
        lo = bisect.bisect_left(keys, now - 24 * LOOKBACK_DAYS)
        hi = bisect.bisect_right(keys, now)
        out[office] = hours[lo:hi]
    return out


def _run_city(
    city: dict[str, list[Hour]], first_eval: int, last: int, lab: Lab, label: str
) -> list[tuple[str, str, int]]:
    """Every alert raised (office, rule, hour): the engine's rules and the naive one."""
    book = RuleBook()
    tracks: dict[tuple[str, str], Track] = {}
    naive_tracks: dict[str, Track] = {}
    naive_policy = Policy(min_hours=1, recover_hours=2, repeat_hours=0)
    raised: list[tuple[str, str, int]] = []
    hours_done = 0
    evaluated = [h for h in range(first_eval, last) if office_hour(h)]
    for now in evaluated:
        recent = _recent(city, now)
        tracks, changes = evaluate(recent, book, {}, tracks, now)
        raised += [(c.alert.office_id, c.alert.rule, now) for c in changes if c.kind == "raised"]
        for office, hours in recent.items():
            track, changed = step(
                naive_tracks.get(office, Track()),
                naive(office, hours, now),
                now,
                naive_policy,
                "naive",
                office,
            )
            naive_tracks[office] = track
            raised += [(office, "naive", now) for c in changed if c.kind == "raised"]
        hours_done += 1
        if hours_done % 45 == 0:
            lab.progress(f"alerts ({label}): {hours_done} of {len(evaluated)} office hours")
    return raised


def run(lab: Lab) -> dict[str, float]:
    weeks = 2 if lab.quick else 4
    rng = random.Random(SEED)
    first_eval = FIRST + 24 * 42  # a Monday, after 6 weeks of history
    last = first_eval + weeks * 7 * 24
    drop_at = first_eval + 7 * 24 + 1  # the first office hour of week 2 (08:00 Hanoi)
    volumes = [2 ** rng.uniform(0, 5.32) for _ in range(OFFICES)]  # 1 to 40 an hour
    shares = [rng.uniform(0.70, 0.92) for _ in range(OFFICES)]
    simulated = {
        f"O{i:03d}": _simulate(rng, volumes[i], shares[i], FIRST, last) for i in range(OFFICES)
    }
    city = {office: hours for office, (hours, _) in simulated.items()}
    raised = _run_city(city, first_eval, last, lab, "no change")
    raised += _live({office: p for office, (_, p) in simulated.items()}, first_eval, last, lab)
    office_weeks = OFFICES * weeks
    out = {
        f"{rule}_false_per_office_week": sum(r == rule for _, r, _ in raised) / office_weeks
        for rule in (*HOURLY_RULES, *LIVE_RULES, "naive")
    }

    # The drop: three offices of the same city, each with its own history.
    sizes = (("small", 2.0), ("medium", 8.0), ("large", 30.0))
    for size, per_hour in sizes:
        city[f"drop-{size}"] = _simulate(rng, per_hour, 0.85, FIRST, last, drop_at=drop_at)[0]
    raised = _run_city(city, drop_at - 24, last, lab, "a drop at 3 offices")
    after = [h for h in range(drop_at, last) if office_hour(h)]
    for size, _ in sizes:
        for rule in ("credible_drop", "index_below", "naive"):
            at = [h for o, r, h in raised if o == f"drop-{size}" and r == rule and h >= drop_at]
            delay = after.index(at[0]) + 1 if at else len(after)
            out[f"{rule}_delay_{size}_h"] = float(delay)
    return out


FIGURES = [
    Figure(
        "9-alerts",
        "Alert rules on simulated weeks of 126 communes: false alarms per rule and detection delay",
        (
            Value(
                "credible_drop_false_per_office_week",
                "alerts/office-week",
                reference="9-alerts.naive_false_per_office_week",
                higher_is_better=False,
            ),
            *(
                Value(f"{r}_false_per_office_week", "alerts/office-week", higher_is_better=False)
                for r in (*HOURLY_RULES[1:], *LIVE_RULES, "naive")
            ),
            *(
                Value(f"{r}_delay_{s}_h", "office hours", higher_is_better=False)
                for s in ("small", "medium", "large")
                for r in ("credible_drop", "index_below", "naive")
            ),
        ),
        run,
        note="seeded; default rule settings, evaluated as the worker's engine does; "
        "a drop 85 % → 60 % at 3 offices",
    ),
]

"""Figure 9: alert rules on simulated weeks of the 126 communes (issue 14).

Seeded simulation, no services: each of 126 offices gets a volume (ratings per office
hour, from 1 to 40, log-uniform: small communes and big wards) and a true satisfied
share (70-92 %). Office hours are 9 a day, Monday to Friday; each hour's ratings are
drawn binomially. The rules are evaluated every office hour of the evaluation weeks,
after 30 days of history, with their default settings:

* **credible drop** (``streams/alert_rules.py``): the upper 99 % Wilson bound of the
  last 8 hours with ratings (stretched back until they hold 30 ratings) under the lower
  bound of the 30 days before, 3 evaluations in a row;
* **naive**: the fixed-threshold rule of common products: the last 8 hours' satisfied
  share under 70 % with at least 5 ratings.

Two measurements on the same data:

* ``*_false_per_office_week``: alerts raised where no office's true level changed;
* a real drop (85 % → 60 %, from the first hour of week 2) at a small, a medium and a
  large office: the office hours until each rule raised (``*_delay_*_h``; the
  evaluation's length when it never did).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from bench.core import Figure, Lab, Value
from streams.alert_life import Policy, Track, step
from streams.alert_rules import CredibleDrop, Finding, Hour, credible_drop

OFFICES = 126
SEED = 20261129
HISTORY_DAYS = 30
WINDOW = 8


def _is_office_hour(h: int) -> bool:
    day = h // 24
    return day % 7 < 5 and 1 <= h % 24 <= 9  # Mon-Fri (day 0 is a Monday), 08-16 Hanoi


def _simulate(rng: random.Random, per_hour: float, share: float, first: int, last: int,
              drop_at: int | None = None) -> list[Hour]:
    out = []
    for h in range(first, last):
        if not _is_office_hour(h):
            continue
        n = max(0, round(rng.gauss(per_hour, per_hour ** 0.5)))
        p = 0.60 if drop_at is not None and h >= drop_at else share
        k = sum(rng.random() < p for _ in range(n))
        out.append(Hour(h, n, k))
    return out


def naive(office_id: str, hours: Sequence[Hour], now: int) -> Finding | None:
    window = [h for h in hours if now - WINDOW < h.hour <= now]
    n = sum(h.n for h in window)
    k = sum(h.satisfied for h in window)
    if n >= 5 and k / n < 0.70:
        return Finding("naive", office_id, {"n": n, "share": k / n})
    return None


def _alerts(hours: list[Hour], first_eval: int, last: int,
            rule: Callable[[list[Hour], int], Finding | None], min_hours: int) -> list[int]:
    """The hours at which the rule raised an alert."""
    track, raised = Track(), []
    policy = Policy(min_hours=min_hours, recover_hours=2, repeat_hours=0)
    start = 0
    for now in range(first_eval, last):
        if not _is_office_hour(now):
            continue
        while start < len(hours) and hours[start].hour < now - 24 * (HISTORY_DAYS + 1):
            start += 1
        recent = [h for h in hours[start:] if h.hour <= now]
        track, changes = step(track, rule(recent, now), now, policy, "r", "o")
        raised += [now for c in changes if c.kind == "raised"]
    return raised


def run(lab: Lab) -> dict[str, float]:
    weeks = 2 if lab.quick else 4
    rng = random.Random(SEED)
    first, first_eval = 0, 24 * 35  # day 35 is a Monday, after 30+ days of history
    last = first_eval + weeks * 7 * 24
    drop_at = first_eval + 7 * 24 + 1  # the first office hour of week 2
    volumes = [2 ** rng.uniform(0, 5.32) for _ in range(OFFICES)]  # 1 to 40 an hour
    shares = [rng.uniform(0.70, 0.92) for _ in range(OFFICES)]
    rule = CredibleDrop()

    def credible(hours: list[Hour], now: int) -> Finding | None:
        return credible_drop("o", hours, now, rule)

    def nv(hours: list[Hour], now: int) -> Finding | None:
        return naive("o", hours, now)

    false = {"credible": 0, "naive": 0}
    for i in range(OFFICES):
        hours = _simulate(rng, volumes[i], shares[i], first, last)
        false["credible"] += len(_alerts(hours, first_eval, last, credible, rule.min_hours))
        false["naive"] += len(_alerts(hours, first_eval, last, nv, 1))
        if i % 42 == 41:
            lab.progress(f"alerts: {i + 1} of {OFFICES} offices, false alarms so far {false}")
    office_weeks = OFFICES * weeks
    out = {f"{k}_false_per_office_week": v / office_weeks for k, v in false.items()}
    office_hours_after = [h for h in range(drop_at, last) if _is_office_hour(h)]
    for size, per_hour in (("small", 2.0), ("medium", 8.0), ("large", 30.0)):
        hours = _simulate(rng, per_hour, 0.85, first, last, drop_at=drop_at)
        for name, fn, m in (("credible", credible, rule.min_hours), ("naive", nv, 1)):
            raised = [h for h in _alerts(hours, first_eval, last, fn, m) if h >= drop_at]
            delay = (office_hours_after.index(raised[0]) + 1 if raised
                     else len(office_hours_after))
            out[f"{name}_delay_{size}_h"] = float(delay)
    return out


FIGURES = [
    Figure("9-alerts", "Alert rules on simulated weeks of 126 communes: false alarms and "
           "detection delay",
           (Value("credible_false_per_office_week", "alerts/office-week",
                  reference="9-alerts.naive_false_per_office_week", higher_is_better=False),
            Value("naive_false_per_office_week", "alerts/office-week", higher_is_better=False),
            *(Value(f"{r}_delay_{s}_h", "office hours", higher_is_better=False)
              for s in ("small", "medium", "large") for r in ("credible", "naive"))),
           run, note="seeded; default rule settings; a drop 85 % → 60 % at 3 offices"),
]

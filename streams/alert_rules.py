"""Alert rules (issue 14), as pure functions over an office's hourly counts: no Kafka,
no ClickHouse, no clock of their own. The alert engine feeds them; this module decides.

Over 400 lines on purpose: the rules of ALERTS.md side by side, each a small pure function,
so the module reads as their specification.

Fixed thresholds ("20 % negative", "index under 0.6") fire on noise at a commune with a
handful of ratings an hour and miss a slow slide at a big office. These rules weigh the
counts behind each share instead:

- **credible drop**: the satisfied share of the recent window is below the office's own
  baseline (its trailing days, the window excluded) *and* the window's upper Wilson
  bound (99 % by default) lies under the baseline's lower bound, with enough ratings (a
  small office's window stretches back until it has them), for ``min_hours``
  consecutive evaluations;
- **negative share**: of the last ``last_n`` ratings, at least ``threshold`` negative
  (with at least ``min_count`` of them);
- **index below**: the window's satisfied share under ``threshold``, ``min_hours`` in a
  row, with ``min_count`` ratings;
- **volume drop**: the window's ratings at most ``ratio`` of what the baseline leads one
  to expect for as many hours, when at least ``min_expected`` were expected;
- **silent office**: no rating in the latest office hours that usually hold ``min_expected``;
- **volume surge**: ``ratio`` times the office's usual volume and ``peer_ratio`` times
  the city's median ratio (stuffing lifts one office, a holiday rush lifts all);
- **kiosk gap**: over the trailing days, the kiosk (which the civil servant sees pressed)
  credibly more satisfied than the anonymous QR answers and camera observations;
- live rules, judged on the present by the engine (``streams/alert_engine.py``):
  **silent device** in office hours, **misuse surge** (of a device's presses),
  **held surge** (a device's events quarantined or
  dead-lettered), **new devices** (a large share of ratings from recently registered
  devices) and the **negative share** of an office's latest ratings.

Expectations ("usual volume") compare the same hours of the week over whole weeks, so a
Saturday morning is compared with Saturday mornings. A rule given too little to judge
(a closed office at night, a window short of its minimum count) answers :data:`UNKNOWN`:
the alert neither resolves overnight nor re-raises every morning.

Every finding carries the numbers behind it (counts, shares, bounds), so an alert says
why it fired. Rules are data (``streams/alert_book.py``): a city's defaults, overridden
per unit or office, loaded from a JSON file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from streams.alert_book import (
    Z95,
    CredibleDrop,
    HeldSurge,
    IndexBelow,
    KioskGap,
    MisuseSurge,
    NegativeShare,
    NewDevices,
    SilentDevice,
    SilentOffice,
    VolumeDrop,
    VolumeSurge,
)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a share ``k / n`` (0, 1 when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"a share needs 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # (exact at the ends, where rounding would leave 1e-17 above 0 or below 1)
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


@dataclass(frozen=True)
class Hour:
    """One office-hour as landed: ``n`` counted kiosk ratings, ``satisfied`` of them,
    and the anonymous signals of the same office: ``anon_n`` QR answers and camera
    observations, ``anon_satisfied`` of them satisfied (QR 4-5) or positive (camera)."""

    hour: int  # hours since the epoch (UTC)
    n: int
    satisfied: int
    anon_n: int = 0
    anon_satisfied: int = 0


@dataclass(frozen=True)
class Finding:
    """A rule that holds now, with the numbers behind it."""

    rule: str
    office_id: str
    numbers: Mapping[str, float]


# What a rule answers when the hour gives it too little to judge (an office closed for
# the night, a window short of its minimum count): neither holding nor recovered, so an
# open alert neither resolves overnight nor re-raises each morning.
UNKNOWN = Finding("", "", {})


def _sum(hours: Sequence[Hour], lo: int, hi: int) -> tuple[int, int]:
    """Ratings and satisfied ratings over hours in [lo, hi)."""
    picked = [h for h in hours if lo <= h.hour < hi]
    return sum(h.n for h in picked), sum(h.satisfied for h in picked)


def credible_drop(
    office_id: str, hours: Sequence[Hour], now_hour: int, rule: CredibleDrop
) -> Finding | None:
    """The window against the ``baseline_days`` before it. The window is the office's
    latest ``window_hours`` hours with ratings, up to ``now_hour``, stretched further
    back (at most ``max_window_hours`` calendar hours) until it holds ``min_window``
    ratings: a small commune is judged on as many ratings as a big office, only over a
    longer time."""
    if not rule.enabled:
        return None
    recent = sorted(
        (h for h in hours if now_hour - rule.max_window_hours < h.hour <= now_hour and h.n > 0),
        key=lambda h: h.hour,
        reverse=True,
    )
    n = k = taken = 0
    start = now_hour + 1
    for h in recent:
        if taken >= rule.window_hours and n >= rule.min_window:
            break
        n, k, taken, start = n + h.n, k + h.satisfied, taken + 1, h.hour
    bn, bk = _sum(hours, start - 24 * rule.baseline_days, start)
    if n < rule.min_window or bn < rule.min_baseline:
        return UNKNOWN
    lo, hi = wilson(k, n, rule.z)
    blo, bhi = wilson(bk, bn, rule.z)
    if hi >= blo:
        return None
    return Finding(
        "credible_drop",
        office_id,
        {
            "window_n": n,
            "window_hours": taken,
            "window_share": k / n,
            "window_lo": lo,
            "window_hi": hi,
            "baseline_n": bn,
            "baseline_share": bk / bn,
            "baseline_lo": blo,
            "baseline_hi": bhi,
        },
    )


def negative_share(office_id: str, last: Sequence[bool], rule: NegativeShare) -> Finding | None:
    """``last``: whether each of the office's latest ratings was negative, oldest first."""
    if not rule.enabled:
        return None
    recent = list(last)[-rule.last_n :]
    negative = sum(recent)
    if len(recent) < rule.min_count or negative < rule.threshold * len(recent):
        return None
    lo, hi = wilson(negative, len(recent))
    return Finding(
        "negative_share",
        office_id,
        {
            "n": len(recent),
            "negative": negative,
            "share": negative / len(recent),
            "share_lo": lo,
            "share_hi": hi,
            "threshold": rule.threshold,
        },
    )


def index_below(
    office_id: str, hours: Sequence[Hour], now_hour: int, rule: IndexBelow
) -> Finding | None:
    if not rule.enabled:
        return None
    n, k = _sum(hours, now_hour - rule.window_hours + 1, now_hour + 1)
    if n < rule.min_count:
        return UNKNOWN
    if k / n >= rule.threshold:
        return None
    lo, hi = wilson(k, n)
    return Finding(
        "index_below",
        office_id,
        {"n": n, "share": k / n, "share_lo": lo, "share_hi": hi, "threshold": rule.threshold},
    )


def volume_drop(
    office_id: str, hours: Sequence[Hour], now_hour: int, rule: VolumeDrop
) -> Finding | None:
    """Expected volume: the baseline's ratings in the same hours of the week."""
    if not rule.enabled:
        return None
    n, expected = volume_ratio(hours, now_hour, rule.window_hours, rule.baseline_days)
    if expected < rule.min_expected:
        return UNKNOWN
    if n > rule.ratio * expected:
        return None
    return Finding(
        "volume_drop",
        office_id,
        {"n": n, "expected": expected, "ratio": n / expected, "threshold": rule.ratio},
    )


def _expected(hours: Sequence[Hour], start: int, end: int, days: int) -> float:
    """Ratings the office usually has in the hours [start, end): the mean over the
    whole weeks of the ``days`` before ``start`` of the same hours of the week (a
    Saturday morning is compared with Saturday mornings)."""
    weeks = max(1, days // 7)
    of_week = {h % 168 for h in range(start, end)}
    return (
        sum(h.n for h in hours if start - 168 * weeks <= h.hour < start and h.hour % 168 in of_week)
        / weeks
    )


def silent_office(
    office_id: str,
    hours: Sequence[Hour],
    now_hour: int,
    rule: SilentOffice,
    office_hour: Callable[[int], bool],
) -> Finding | None:
    """No rating in the latest office hours (``office_hour(h)``) up to ``now_hour``,
    taken back (at most ``max_window_hours`` of them) until they usually hold
    ``min_expected`` ratings: a big office is silent after an hour, a small commune only
    after a day. Silence with fewer expected means nothing (chance: e^-expected)."""
    if not rule.enabled or not office_hour(now_hour):
        return UNKNOWN if rule.enabled else None
    expected, taken, h = 0.0, 0, now_hour
    while taken < rule.max_window_hours and expected < rule.min_expected and h > now_hour - 24 * 7:
        if office_hour(h):
            expected += _expected(hours, h, h + 1, rule.baseline_days)
            taken += 1
        h -= 1
    if expected < rule.min_expected:
        return UNKNOWN
    n, _ = _sum(hours, h + 1, now_hour + 1)
    if n > 0:
        return None
    return Finding(
        "silent_office", office_id, {"n": 0, "expected": expected, "office_hours": taken}
    )


def volume_ratio(
    hours: Sequence[Hour], now_hour: int, window_hours: int, days: int
) -> tuple[int, float]:
    """The window's ratings and what the office usually has in those hours."""
    start = now_hour - window_hours + 1
    n, _ = _sum(hours, start, now_hour + 1)
    return n, _expected(hours, start, now_hour + 1, days)


def volume_surge(
    office_id: str,
    hours: Sequence[Hour],
    now_hour: int,
    rule: VolumeSurge,
    city_median_ratio: float,
) -> Finding | None:
    """The window holds ``ratio`` times the office's usual volume, and ``peer_ratio``
    times the city's median ratio this hour (a holiday rush lifts every office; stuffing
    lifts one)."""
    if not rule.enabled:
        return None
    n, expected = volume_ratio(hours, now_hour, rule.window_hours, rule.baseline_days)
    if n == 0:
        return UNKNOWN
    ratio = n / max(expected, 1.0)
    if (
        n < rule.min_count
        or ratio < rule.ratio
        or ratio < rule.peer_ratio * max(city_median_ratio, 1e-9)
    ):
        return None
    return Finding(
        "volume_surge",
        office_id,
        {"n": n, "expected": expected, "ratio": ratio, "city_median_ratio": city_median_ratio},
    )


def kiosk_gap(
    office_id: str, hours: Sequence[Hour], now_hour: int, rule: KioskGap
) -> Finding | None:
    """The kiosk (which the civil servant sees pressed) far more satisfied than the
    anonymous QR answers and camera observations of the same office, for the counts
    behind both: the kiosk's lower 95 % bound at least ``gap`` above the anonymous
    share's upper bound, over the trailing ``days``."""
    if not rule.enabled:
        return None
    picked = [h for h in hours if now_hour - 24 * rule.days < h.hour <= now_hour]
    n, k = sum(h.n for h in picked), sum(h.satisfied for h in picked)
    an, ak = sum(h.anon_n for h in picked), sum(h.anon_satisfied for h in picked)
    if n < rule.min_kiosk or an < rule.min_anonymous:
        return UNKNOWN
    lo, hi = wilson(k, n)
    alo, ahi = wilson(ak, an)
    if lo - ahi < rule.gap:
        return None
    return Finding(
        "kiosk_gap",
        office_id,
        {
            "kiosk_n": n,
            "kiosk_share": k / n,
            "kiosk_lo": lo,
            "kiosk_hi": hi,
            "anonymous_n": an,
            "anonymous_share": ak / an,
            "anonymous_lo": alo,
            "anonymous_hi": ahi,
            "gap": rule.gap,
        },
    )


def silent_device(
    office_id: str,
    device_id: str,
    silent_minutes: float | None,
    per_office_hour: float,
    never_seen: bool,
    rule: SilentDevice,
) -> Finding | None:
    """``silent_minutes``: how long the device has been silent in office hours now
    (None: not office hours; ``warehouse/devices.py``); ``per_office_hour``: the events
    it usually sends in an office hour. Silent when that long a silence usually holds
    ``min_expected`` events, or when it has never sent anything."""
    if not rule.enabled or silent_minutes is None or silent_minutes <= rule.minutes:
        return None
    expected = per_office_hour * silent_minutes / 60
    if expected < rule.min_expected and not never_seen:
        return None
    return Finding(
        f"silent_device/{device_id}",
        office_id,
        {
            "silent_minutes": silent_minutes,
            "expected": expected,
            "never_seen": float(never_seen),
            "threshold": rule.minutes,
        },
    )


def misuse_surge(
    office_id: str, device_id: str, misuse: int, presses: int, rule: MisuseSurge
) -> Finding | None:
    """Of a device's ``presses`` in the window, ``misuse`` flagged misuse
    (``streams/plausible.py``: bursts, out of hours): at least ``share`` of them, and at
    least ``min_count``."""
    if not rule.enabled or misuse < rule.min_count or misuse < rule.share * presses:
        return None
    presses = max(presses, misuse)
    lo, hi = wilson(misuse, presses)
    return Finding(
        f"misuse_surge/{device_id}",
        office_id,
        {
            "misuse": misuse,
            "presses": presses,
            "share": misuse / presses,
            "share_lo": lo,
            "share_hi": hi,
        },
    )


def held_surge(office_id: str, device_id: str, held: int, rule: HeldSurge) -> Finding | None:
    """``held``: the device's events quarantined or dead-lettered in the window."""
    if not rule.enabled or held < rule.min_count:
        return None
    return Finding(
        f"held_surge/{device_id}", office_id, {"held": held, "window_hours": rule.window_hours}
    )


def new_devices(office_id: str, from_new: int, total: int, rule: NewDevices) -> Finding | None:
    """``from_new`` of the office's ``total`` ratings in the window came from devices
    registered in the last ``new_days``."""
    if not rule.enabled or total < rule.min_count or from_new < rule.share * total:
        return None
    lo, hi = wilson(from_new, total)
    return Finding(
        "new_devices",
        office_id,
        {
            "from_new": from_new,
            "n": total,
            "share": from_new / total,
            "share_lo": lo,
            "share_hi": hi,
        },
    )

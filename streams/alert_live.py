"""The live alert rules (streams/ALERTS.md): judged on every run of the engine from what
is there now, not from the hourly buckets: a silent device, a device's misuse surge, a surge
of held (quarantined) messages, traffic from new devices, a run of negative ratings. Each
run steps a live rule's track once: raised at once, resolved by the first run that finds it
no longer holding, reminded every ``repeat_hours``."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from datetime import datetime

from streams.alert_book import RuleBook
from streams.alert_life import RESOLVED, Change, Policy, Track, step
from streams.alert_rules import (
    Finding,
    held_surge,
    misuse_surge,
    negative_share,
    new_devices,
    silent_device,
)
from streams.alerting import office_hour
from warehouse import device_health, devices
from warehouse.alerts import hour_of
from warehouse.client import Warehouse

LIVE_RULES = ("silent_device", "misuse_surge", "held_surge", "new_devices", "negative_share")
# A device's usual pace: its events per office hour over this many days.
RATE_DAYS = 28


def base_rule(rule: str) -> str:
    """``silent_device/K-1`` → ``silent_device`` (a live alert's rule names its subject)."""
    return rule.split("/", 1)[0]


def live_findings(
    wh: Warehouse, book: RuleBook, unit_of: Mapping[str, str], now: datetime
) -> list[Finding]:
    """What the live rules find now (from the device registry, ``device_seen``, the
    raw tables and the quarantine)."""
    found: list[Finding] = []
    now_us = int(now.timestamp() * 1_000_000)
    keys = devices.keys(wh)
    first_us: dict[str, int] = {}
    for k in keys:
        first_us[k.device_id] = min(first_us.get(k.device_id, k.valid_from_us), k.valid_from_us)
    active = [k for k in keys if not k.revoked_at_us and k.valid_at(now_us)]
    seen = dict(
        wh.execute("SELECT device_id, max(last_seen_us) FROM device_seen GROUP BY device_id")
    )
    registered = {k.device_id: k for k in active}
    # Each device's events over the rate's days (its usual pace) and in the misuse
    # window; the office hours of those days, to turn a count into a pace.
    ms = book.defaults.misuse_surge
    sent = {
        d: (int(total), int(recent))
        for d, total, recent in wh.execute(
            DEVICE_EVENTS_SQL,
            {
                "since": seconds_ago(now, 24 * RATE_DAYS),
                "window": seconds_ago(now, ms.window_hours),
            },
        )
    }
    hours = [h for h in range(hour_of(now) - 24 * RATE_DAYS, hour_of(now)) if office_hour(h)]
    for k in active:
        if k.kind in ("kiosk", "camera") and k.office_id:
            rules = book.for_office(k.office_id, unit_of.get(k.office_id, ""))
            since_h = max(hour_of(now) - 24 * RATE_DAYS, first_us[k.device_id] // 3_600_000_000)
            office_hours_known = len(hours) - bisect.bisect_left(hours, since_h)
            pace = sent.get(k.device_id, (0, 0))[0] / max(office_hours_known, 1)
            f = silent_device(
                k.office_id,
                k.device_id,
                silent_minutes(int(seen.get(k.device_id, 0)), now),
                pace,
                k.device_id not in seen,
                rules.silent_device,
            )
            found += [f] if f else []
    for device, office, misuse in wh.execute(
        MISUSE_SQL, {"since_us": now_us - ms.window_hours * 3_600_000_000}
    ):
        rules = book.for_office(office, unit_of.get(office, ""))
        f = misuse_surge(
            office, device, int(misuse), sent.get(device, (0, 0))[1], rules.misuse_surge
        )
        found += [f] if f else []
    window = book.defaults.held_surge.window_hours
    held: dict[tuple[str, str], int] = {}
    for device, office, n in wh.execute(HELD_SQL, {"since": seconds_ago(now, window)}):
        # Ids the registry does not know are one subject, whatever an attacker makes up.
        key = registered.get(device)
        name = device if key is not None else "unregistered"
        office_id = key.office_id if key is not None and key.office_id else office
        if office_id not in unit_of:  # bytes may name anything: only known offices
            office_id = "unregistered"
        held[(office_id, name)] = held.get((office_id, name), 0) + int(n)
    for (office_id, name), n in held.items():
        rules = book.for_office(office_id, unit_of.get(office_id, ""))
        f = held_surge(office_id, name, n, rules.held_surge)
        found += [f] if f else []
    nd = book.defaults.new_devices
    for office, from_new, total in wh.execute(
        NEW_DEVICES_SQL,
        {
            "since": seconds_ago(now, nd.window_hours),
            "new_us": now_us - nd.new_days * 86_400_000_000,
        },
    ):
        rules = book.for_office(office, unit_of.get(office, ""))
        f = new_devices(office, int(from_new), int(total), rules.new_devices)
        found += [f] if f else []
    ns = book.defaults.negative_share
    latest: dict[str, list[bool]] = {}
    for office, value, scale in wh.execute(
        NEGATIVE_SQL.format(n=int(ns.last_n)), {"since": seconds_ago(now, 24 * 7)}
    ):
        latest.setdefault(office, []).append(int(value) * 2 < int(scale) + 1)
    for office, newest_first in latest.items():
        rules = book.for_office(office, unit_of.get(office, ""))
        f = negative_share(office, newest_first[::-1], rules.negative_share)
        found += [f] if f else []
    return found


def step_live(
    tracks: dict[tuple[str, str], Track],
    found: list[Finding],
    now_hour: int,
    repeat_hours: Callable[[str, str], int] = lambda _o, _r: 24,
) -> tuple[dict[tuple[str, str], Track], list[Change]]:
    """Step each live rule's track once: raised at once, resolved by the first run
    that finds it no longer holding, reminded every ``repeat_hours(office, rule)``."""
    holding = {(f.office_id, f.rule): f for f in found}
    keys = set(holding) | {k for k, t in tracks.items() if base_rule(k[1]) in LIVE_RULES}
    changes: list[Change] = []
    for key in sorted(keys):
        live = Policy(
            min_hours=1, recover_hours=1, repeat_hours=repeat_hours(key[0], base_rule(key[1]))
        )
        track = tracks.get(key, Track())
        finding = holding.get(key)
        if finding is None and (track.alert is None or track.alert.state == RESOLVED):
            continue
        # a raised live alert is not raised again within its hour
        track, changed = step(track, finding, now_hour, live, key[1], key[0])
        tracks[key] = track
        changes += changed
    return tracks, changes


def silent_minutes(last_seen_us: int, now: datetime) -> float | None:
    """Minutes a device has been silent in office hours now (None: not office hours);
    ``warehouse/device_health.py`` ``silent_seconds``."""
    seconds = device_health.silent_seconds(last_seen_us, now)
    return None if seconds is None else seconds / 60


def seconds_ago(now: datetime, hours_back: int) -> int:
    """The epoch second ``hours_back`` hours before ``now``."""
    return int(now.timestamp()) - hours_back * 3600


HELD_SQL = r"""
SELECT device, office, count() AS held
FROM
(
    SELECT extract(raw, '"device_id"\\s*:\\s*"([^"]{1,64})"') AS device,
           office_id AS office
    FROM quarantine FINAL WHERE quarantined_at >= toDateTime(%(since)s, 'UTC')
    UNION ALL
    SELECT extract(raw, '"device_id"\\s*:\\s*"([^"]{1,64})"') AS device,
           extract(raw, '"office_id"\\s*:\\s*"([^"]{1,64})"') AS office
    FROM dead_letters FINAL WHERE rejected_at >= toDateTime(%(since)s, 'UTC')
) AS held_events
GROUP BY device, office
ORDER BY held DESC
LIMIT 1000
"""
# Each kiosk's and camera's events since `since` (raw rows, no FINAL: a pace, where a
# copy not merged yet barely matters), and since `window`.
DEVICE_EVENTS_SQL = """
SELECT device, count(), countIf(at >= toDateTime(%(window)s, 'UTC'))
FROM
(
    SELECT device_id AS device, occurred_at AS at FROM kiosk_ratings_raw
    WHERE occurred_at >= toDateTime(%(since)s, 'UTC')
    UNION ALL
    SELECT camera_id AS device, observed_at AS at FROM camera_observations_raw
    WHERE observed_at >= toDateTime(%(since)s, 'UTC')
) AS sent
GROUP BY device
"""
# Each kiosk's presses flagged misuse since `since_us`.
MISUSE_SQL = """
SELECT device_id, any(office_id), countIf(misuse = 1) AS flagged
FROM kiosk_misuse_flags FINAL
WHERE occurred_at_us >= %(since_us)s
GROUP BY device_id
HAVING flagged > 0
"""
# Each office's counted kiosk ratings in the window, and how many came from a device whose
# first key is newer than new_us.
NEW_DEVICES_SQL = """
SELECT office_id, countIf(first_us >= %(new_us)s AND first_us > 0), count()
FROM
(
    SELECT office_id, device_id FROM kiosk_ratings_raw FINAL
    WHERE occurred_at >= toDateTime(%(since)s, 'UTC')
) AS rated
ANY LEFT JOIN
(
    SELECT device_id, min(valid_from_us) AS first_us FROM devices GROUP BY device_id
) AS registered USING (device_id)
GROUP BY office_id
"""
# Each office's latest ratings of the last week, newest first ({n} of them).
NEGATIVE_SQL = """
SELECT office_id, value, scale FROM kiosk_ratings_raw FINAL
WHERE occurred_at >= toDateTime(%(since)s, 'UTC')
ORDER BY office_id, occurred_at_us DESC
LIMIT {n} BY office_id
"""

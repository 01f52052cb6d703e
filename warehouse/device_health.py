"""Device health (view ``device_health``): when each kiosk and camera was last heard from,
its clock's offset, and whether it is silent in office hours (``hailong devices health``,
the alert rule ``silent_device``). The worker records what it sees (``device_seen``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from hailong.methodology import LOCAL_TZ
from warehouse.client import Warehouse

OPENS_MINUTE, CLOSES_MINUTE = 7 * 60 + 30, 17 * 60  # office hours, Mon-Fri, Hanoi time
SEEN_COLUMNS = ("device_id", "office_id", "channel", "last_seen_us", "last_event_us", "skew_s")


def seen_rows(
    messages: Iterable[tuple[str, str, str, int | None, int]], now_us: int
) -> list[tuple[Any, ...]]:
    """The ``device_seen`` rows of a batch's landed messages, given as (device_id,
    office_id, channel, broker µs or None, event µs): per device its latest message
    (the broker's time; ``now_us`` when none), that message's event time, and the largest
    event-minus-broker time of the batch in seconds (its clock's offset, seen live)."""
    latest: dict[str, tuple[Any, ...]] = {}
    skew: dict[str, float] = {}
    for device, office, channel, broker_us, at_us in messages:
        seen = broker_us if broker_us is not None and broker_us > 0 else now_us
        ahead = (at_us - seen) / 1e6
        skew[device] = max(skew.get(device, ahead), ahead)
        if device not in latest or seen >= latest[device][3]:
            latest[device] = (device, office, channel, seen, at_us)
    return [(*row, skew[d]) for d, row in sorted(latest.items())]


def record_seen(wh: Warehouse, rows: Sequence[tuple[Any, ...]]) -> int:
    if rows:
        wh.insert("device_seen", SEEN_COLUMNS, rows)
    return len(rows)


def silent_seconds(last_seen_us: int, now: datetime) -> int | None:
    """How long a device has been silent in office hours now, in whole seconds: since
    the later of ``last_seen_us`` (0: never) and today's opening; None out of office
    hours (the view ``device_health`` and the alert rule ``silent_device`` both)."""
    local = now.astimezone(LOCAL_TZ)
    minute = local.hour * 60 + local.minute
    if local.isoweekday() > 5 or not OPENS_MINUTE <= minute < CLOSES_MINUTE:
        return None
    opened = local.replace(
        hour=OPENS_MINUTE // 60, minute=OPENS_MINUTE % 60, second=0, microsecond=0
    )
    since = max(last_seen_us // 1_000_000, int(opened.timestamp()))
    return int(now.timestamp()) - since


def silent(last_seen_us: int, now: datetime, minutes: int) -> bool:
    """The rule of the view ``device_health``, for people and tests: in office hours
    now, and nothing for more than ``minutes`` since the later of ``last_seen_us`` (0:
    never) and today's opening."""
    seconds = silent_seconds(last_seen_us, now)
    return seconds is not None and seconds > minutes * 60


def record_silent_minutes(wh: Warehouse, minutes: int) -> bool:
    """Record the silence threshold the view uses, when it changed; True if written."""
    last = wh.execute("SELECT silent_minutes FROM health_settings ORDER BY valid_from DESC LIMIT 1")
    if last and int(last[0][0]) == minutes:
        return False
    wh.execute(
        "INSERT INTO health_settings (valid_from, silent_minutes) SELECT now(), %(m)s",
        {"m": minutes},
    )
    return True


class Health(NamedTuple):
    """A row of the view ``device_health``."""

    device_id: str
    kind: str
    office_id: str
    last_seen_us: int
    skew_s: float
    silent: int
    silent_minutes: int


def health(wh: Warehouse, office_id: str = "") -> list[Health]:
    """Each kiosk and camera (of one office, or all), the silent ones first."""
    return wh.records(
        Health,
        f"SELECT {', '.join(Health._fields)} FROM device_health "
        "WHERE %(o)s = '' OR office_id = %(o)s ORDER BY silent DESC, last_seen_us, device_id",
        {"o": office_id},
    )

"""Simulated traffic for the offices of a registry (``hailong simulate``, the demo).

Each office gets a known true satisfaction level drawn from a seeded generator, so
results can be checked: the share of satisfied kiosk ratings of an office converges to
its level. Presses fall in office hours (Mon-Fri, 07:30-17:00 local time) when the
window is long enough to hold some.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hailong.contract import KioskRating
from producers.kiosk import KioskDevice
from warehouse.registry import HANOI_2025, default_offices, read_units

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OPEN_MINUTES = (7 * 60 + 30, 17 * 60)  # 07:30-17:00 local


@dataclass(frozen=True)
class SimOffice:
    office_id: str
    name: str
    satisfaction: float  # true probability that a rating is in the top two levels
    devices: tuple[KioskDevice, ...]


def hanoi_offices(seed: int = 2025, devices_per_office: int = 3) -> list[SimOffice]:
    """The default office of each of Hanoi's 126 communes/wards, with seeded traits."""
    rng = random.Random(seed)
    offices = []
    for office in default_offices(read_units(HANOI_2025)):
        level = round(rng.uniform(0.55, 0.97), 3)
        scale = rng.choice((3, 4, 5))
        devices = tuple(
            KioskDevice(office.office_id, f"{office.office_id}-K{i + 1}", scale, f"Q{i + 1}")
            for i in range(devices_per_office)
        )
        offices.append(SimOffice(office.office_id, office.name, level, devices))
    return offices


def _in_office_hours(ts: datetime) -> bool:
    local = ts.astimezone(LOCAL_TZ)
    minute = local.hour * 60 + local.minute
    return local.weekday() < 5 and OPEN_MINUTES[0] <= minute < OPEN_MINUTES[1]


def kiosk_ratings(offices: list[SimOffice], per_office: int, start: datetime, end: datetime,
                  seed: int = 1) -> Iterator[KioskRating]:
    """``per_office`` ratings for each office at random times in [start, end)."""
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    office_hours_only = span >= 2 * 86400
    for office in offices:
        for _ in range(per_office):
            while True:
                at = start + timedelta(seconds=rng.uniform(0, span))
                if not office_hours_only or _in_office_hours(at):
                    break
            device = rng.choice(office.devices)
            top = rng.random() < office.satisfaction
            value = rng.randint(device.scale - 1, device.scale) if top else \
                rng.randint(1, device.scale - 2)
            yield device.press(value, at=at, event_id=uuid.UUID(int=rng.getrandbits(128),
                                                                 version=4))

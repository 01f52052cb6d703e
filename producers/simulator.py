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

from hailong.contract import CameraObservation, Event, KioskRating, QrSurvey
from hailong.methodology import LOCAL_TZ
from hailong.questionnaire import questionnaires
from producers.kiosk import KioskDevice
from warehouse.registry import HANOI_2025, default_offices, read_units

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


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def qr_surveys(offices: list[SimOffice], per_office: int, start: datetime, end: datetime,
               seed: int = 2) -> Iterator[QrSurvey]:
    """Survey submissions: each answers 5-22 criteria of sipas-5/1, each answer satisfied
    (4 or 5) with the office's true probability."""
    rng = random.Random(seed)
    codes = sorted(questionnaires()["sipas-5/1"].criterion_codes)
    span = (end - start).total_seconds()
    for office in offices:
        for _ in range(per_office):
            answered = rng.sample(codes, rng.randint(5, len(codes)))
            yield QrSurvey.model_validate({
                "schema": "qr_survey/1", "event_id": _uuid(rng),
                "token_id": f"T{rng.getrandbits(64):016x}", "office_id": office.office_id,
                "submitted_at": start + timedelta(seconds=rng.uniform(0, span)),
                "questionnaire": "sipas-5/1",
                "answers": {c: rng.randint(4, 5) if rng.random() < office.satisfaction
                            else rng.randint(1, 3) for c in answered},
                "overall": rng.randint(1, 5),
            })


def camera_observations(offices: list[SimOffice], per_office: int, start: datetime,
                        end: datetime, seed: int = 3) -> Iterator[CameraObservation]:
    """Two thirds sentiments (positive with the office's probability, confidence
    0.3-1.0, so some fall under the 0.6 threshold), one third queue observations."""
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    for office in offices:
        for _ in range(per_office):
            fields: dict[str, object] = (
                {"kind": "sentiment",
                 "sentiment": "positive" if rng.random() < office.satisfaction
                 else rng.choice(["neutral", "negative"]),
                 "confidence": round(rng.uniform(0.3, 1.0), 3)}
                if rng.random() < 2 / 3 else
                {"kind": "queue", "queue_length": rng.randint(0, 25),
                 "wait_seconds": round(rng.uniform(0, 1800), 1)})
            yield CameraObservation.model_validate({
                "schema": "camera_observation/1", "event_id": _uuid(rng),
                "office_id": office.office_id, "camera_id": f"{office.office_id}-C1",
                "observed_at": start + timedelta(seconds=rng.uniform(0, span)), **fields,
            })


# Invalid payloads of the kinds devices really send; each must be dead-lettered.
_INVALID = [
    b'{"schema": "kiosk_rating/1"}',
    b"not json at all",
    b'{"schema": "kiosk_rating/1", "event_id": "x", "office_id": "HN", "device_id": "k",'
    b' "occurred_at": "2026-11-24T09:00:00", "scale": 4, "value": 3}',
    b'{"schema": "camera_observation/1", "face_crop": "AAAA"}',
    b"\xff\xfe broken utf-8",
    b'{"schema": "qr_survey/2"}',
]


@dataclass
class Traffic:
    """Events to publish, and what was injected, so results can be checked exactly."""

    events: list[Event]
    invalid: list[tuple[str, bytes]]  # (channel, value)
    resent: list[Event]  # copies of events already in ``events``
    reused_tokens: list[QrSurvey]  # valid submissions with an already used token


def city_traffic(offices: list[SimOffice], total: int, start: datetime, end: datetime,
                 seed: int = 7, invalid: int = 0, resent: int = 0,
                 reused_tokens: int = 0) -> Traffic:
    """About ``total`` events: 60 % kiosk, 25 % QR, 15 % camera, plus the injections."""
    # A stream of its own: the generators above use random.Random(seed) too, and the same
    # stream would hand out the same UUIDs.
    rng = random.Random(f"{seed}/injections")
    per = max(1, total // len(offices))
    events: list[Event] = [
        *kiosk_ratings(offices, max(1, per * 60 // 100), start, end, seed),
        *qr_surveys(offices, max(1, per * 25 // 100), start, end, seed + 1),
        *camera_observations(offices, max(1, per * 15 // 100), start, end, seed + 2),
    ]
    qr = [e for e in events if isinstance(e, QrSurvey)]
    reused = [QrSurvey.model_validate({**q.model_dump(by_alias=True), "event_id": _uuid(rng),
                                       "submitted_at": q.submitted_at + timedelta(minutes=5)})
              for q in rng.sample(qr, reused_tokens)]
    channels = ["kiosk", "qr", "camera"]
    return Traffic(
        events=events,
        invalid=[(rng.choice(channels), _INVALID[i % len(_INVALID)]) for i in range(invalid)],
        resent=rng.sample(events, resent),
        reused_tokens=reused,
    )

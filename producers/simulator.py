"""Simulated city traffic (``hailong simulate``, the demo, the benchmarks).

Over 400 lines on purpose: a city's traffic (offices, devices, every channel's events and
each injected fault) from one seed; split, the seeded draws would have to be threaded through
modules.

Every office of a registry (default: Hanoi's 126 communes/wards of 2025 and the city's
departments) gets seeded traits: a true satisfaction level (the probability that a
rating is in the top two levels, that a QR answer is 4 or 5, that a camera sees a
positive face), a kiosk scale, and several counters, each with a kiosk, a civil servant
and, per office, a camera. The same seed gives the same events, so results can be
checked: an office's share of satisfied ratings converges to its level.

Events fall in office hours (Mon-Fri, 07:30-17:00 Asia/Ho_Chi_Minh) when the window is
long enough to hold some, and a kiosk's presses are at least a minute apart (one
citizen at a time), so the only misuse in the traffic is what is injected.

Injections, each produced in exactly the number asked for (:class:`Traffic` keeps them
apart so a test can count them back):

- ``invalid``: payloads that break the contract (must land in the dead-letter topic);
- ``duplicates``: events sent a second time, same bytes (must count once);
- ``reused_tokens``: QR submissions with an already used token (must count zero times);
- ``misuse_bursts``: bursts of :data:`BURST_PRESSES` presses 1-3 s apart on one kiosk
  (each burst has ``BURST_PRESSES - 1`` presses under the 4 s misuse gap);
- ``late``: kiosk ratings a device kept in its spool and delivers at the end of the
  run, after later presses of the same device;
- ``skewed_devices``: kiosks whose clock is ``skew_s`` seconds off: all their presses
  carry the shifted time.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hailong.contract import CameraObservation, Event, KioskRating, QrSurvey
from hailong.methodology import LOCAL_TZ
from hailong.questionnaire import questionnaires
from hailong.registry import HANOI_2025, HANOI_DEPARTMENTS, Office, default_offices, read_units
from hailong.settings import Settings
from hailong.signing import Keyring
from producers.kiosk import KioskDevice

OPEN_MINUTES = (7 * 60 + 30, 17 * 60)  # 07:30-17:00 local
MIN_PRESS_GAP = timedelta(seconds=60)  # one citizen at a time at a counter
BURST_PRESSES = 5


@dataclass(frozen=True)
class SimOffice:
    office_id: str
    name: str
    satisfaction: float  # true probability of a top-two rating / answer / positive face
    devices: tuple[KioskDevice, ...]
    cameras: tuple[str, ...]


def city_offices(
    offices: list[Office], seed: int = 2025, counters: tuple[int, int] = (2, 4)
) -> list[SimOffice]:
    """Seeded traits for each office: level, scale, 2-4 counters (kiosk + staff each),
    one camera per two counters."""
    rng = random.Random(seed)
    out = []
    for office in offices:
        level = round(rng.uniform(0.55, 0.97), 3)
        scale = rng.choice((3, 4, 5))
        n = rng.randint(*counters)
        oid = office.office_id
        devices = tuple(
            KioskDevice(oid, f"{oid}-K{i + 1}", scale, f"Q{i + 1}", f"{oid}-S{i + 1}")
            for i in range(n)
        )
        cameras = tuple(f"{oid}-C{i + 1}" for i in range((n + 1) // 2))
        out.append(SimOffice(oid, office.name, level, devices, cameras))
    return out


def hanoi_offices(seed: int = 2025, departments: bool = True) -> list[SimOffice]:
    """Hanoi's default offices: one per 2025 commune/ward (126), plus the departments'."""
    offices = default_offices(read_units(HANOI_2025))
    if departments:
        offices += default_offices(read_units(HANOI_DEPARTMENTS), level="department")
    return city_offices(offices, seed)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _in_office_hours(ts: datetime) -> bool:
    local = ts.astimezone(LOCAL_TZ)
    minute = local.hour * 60 + local.minute
    return local.weekday() < 5 and OPEN_MINUTES[0] <= minute < OPEN_MINUTES[1]


class _Clock:
    """Random moments in [start, end), in office hours when the window holds some."""

    def __init__(self, rng: random.Random, start: datetime, end: datetime) -> None:
        self.rng, self.start = rng, start
        self.span = (end - start).total_seconds()
        self.office_hours_only = self.span >= 2 * 86400

    def __call__(self) -> datetime:
        while True:
            at = self.start + timedelta(seconds=self.rng.uniform(0, self.span))
            if not self.office_hours_only or _in_office_hours(at):
                return at


def kiosk_ratings(
    offices: list[SimOffice], per_office: int, start: datetime, end: datetime, seed: int = 1
) -> Iterator[KioskRating]:
    """``per_office`` ratings for each office, its kiosks' presses >= 1 min apart."""
    rng = random.Random(seed)
    clock = _Clock(rng, start, end)
    for office in offices:
        times: dict[int, list[datetime]] = defaultdict(list)
        for _ in range(per_office):
            times[rng.randrange(len(office.devices))].append(clock())
        for d, device in enumerate(office.devices):
            last = None
            for at in sorted(times[d]):
                if last is not None and at < last + MIN_PRESS_GAP:
                    at = last + MIN_PRESS_GAP
                last = at
                top = rng.random() < office.satisfaction
                value = (
                    rng.randint(device.scale - 1, device.scale)
                    if top
                    else rng.randint(1, device.scale - 2)
                )
                yield device.press(value, at=at, event_id=_uuid(rng))


def qr_surveys(
    offices: list[SimOffice], per_office: int, start: datetime, end: datetime, seed: int = 2
) -> Iterator[QrSurvey]:
    """Survey submissions: each answers 5-22 criteria of sipas-5/1, each answer satisfied
    (4 or 5) with the office's true probability."""
    rng = random.Random(seed)
    clock = _Clock(rng, start, end)
    codes = sorted(questionnaires()["sipas-5/1"].criterion_codes)
    for office in offices:
        for _ in range(per_office):
            answered = rng.sample(codes, rng.randint(5, len(codes)))
            yield QrSurvey.model_validate(
                {
                    "schema": "qr_survey/1",
                    "event_id": _uuid(rng),
                    "token_id": f"T{rng.getrandbits(64):016x}",
                    "office_id": office.office_id,
                    "submitted_at": clock(),
                    "questionnaire": "sipas-5/1",
                    "answers": {
                        c: rng.randint(4, 5)
                        if rng.random() < office.satisfaction
                        else rng.randint(1, 3)
                        for c in answered
                    },
                    "overall": rng.randint(1, 5),
                }
            )


def camera_observations(
    offices: list[SimOffice], per_office: int, start: datetime, end: datetime, seed: int = 3
) -> Iterator[CameraObservation]:
    """Two thirds sentiments (positive with the office's probability, confidence
    0.3-1.0, so some fall under the 0.6 threshold), one third queue observations."""
    rng = random.Random(seed)
    clock = _Clock(rng, start, end)
    for office in offices:
        for _ in range(per_office):
            fields: dict[str, object] = (
                {
                    "kind": "sentiment",
                    "sentiment": "positive"
                    if rng.random() < office.satisfaction
                    else rng.choice(["neutral", "negative"]),
                    "confidence": round(rng.uniform(0.3, 1.0), 3),
                    "track_id": f"t{rng.getrandbits(32):08x}",
                }
                if rng.random() < 2 / 3
                else {
                    "kind": "queue",
                    "queue_length": rng.randint(0, 25),
                    "wait_seconds": round(rng.uniform(0, 1800), 1),
                }
            )
            yield CameraObservation.model_validate(
                {
                    "schema": "camera_observation/1",
                    "event_id": _uuid(rng),
                    "office_id": office.office_id,
                    "camera_id": rng.choice(office.cameras),
                    "observed_at": clock(),
                    **fields,
                }
            )


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
    """Events to publish, and what was injected, so results can be checked exactly.

    ``events`` holds the regular events in time order, misuse bursts and skewed presses
    included (they are regular events of their devices); the other lists are sent after
    them, as their names say."""

    events: list[Event]
    invalid: list[tuple[str, bytes]] = field(default_factory=list)  # (channel, value)
    resent: list[Event] = field(default_factory=list)  # copies of events in ``events``
    reused_tokens: list[QrSurvey] = field(default_factory=list)  # a used token again
    late: list[KioskRating] = field(default_factory=list)  # held back in a kiosk's spool
    misuse: list[KioskRating] = field(default_factory=list)  # the burst presses (in events)
    skewed: list[KioskRating] = field(default_factory=list)  # presses of skewed kiosks

    def messages(self) -> int:
        return (
            len(self.events)
            + len(self.late)
            + len(self.resent)
            + len(self.reused_tokens)
            + len(self.invalid)
        )


def _timestamp(event: Event) -> datetime:
    if isinstance(event, KioskRating):
        return event.occurred_at
    if isinstance(event, QrSurvey):
        return event.submitted_at
    return event.observed_at


def city_traffic(
    offices: list[SimOffice],
    total: int,
    start: datetime,
    end: datetime,
    seed: int = 7,
    invalid: int = 0,
    resent: int = 0,
    reused_tokens: int = 0,
    misuse_bursts: int = 0,
    late: int = 0,
    skewed_devices: int = 0,
    skew_s: float = 600.0,
) -> Traffic:
    """About ``total`` events: 60 % kiosk, 25 % QR, 15 % camera, plus the injections."""
    # A stream of its own: the generators above use random.Random(seed) too, and the same
    # stream would hand out the same UUIDs.
    rng = random.Random(f"{seed}/injections")
    per = max(1, total // len(offices))
    kiosk = list(kiosk_ratings(offices, max(1, per * 60 // 100), start, end, seed))
    qr = list(qr_surveys(offices, max(1, per * 25 // 100), start, end, seed + 1))
    camera = list(camera_observations(offices, max(1, per * 15 // 100), start, end, seed + 2))

    by_device: dict[str, list[KioskRating]] = defaultdict(list)
    for press in kiosk:
        by_device[press.device_id].append(press)
    devices = {d.device_id: d for o in offices for d in o.devices}

    # Misuse bursts: start 20 s after a regular press (the next is >= 60 s after it).
    bursts: list[KioskRating] = []
    for anchor in rng.sample(kiosk, misuse_bursts):
        at, device = anchor.occurred_at + timedelta(seconds=20), devices[anchor.device_id]
        for _ in range(BURST_PRESSES):
            bursts.append(device.press(rng.randint(1, device.scale), at=at, event_id=_uuid(rng)))
            at += timedelta(seconds=rng.uniform(1.0, 3.0))

    # Skewed clocks: every press of the chosen kiosks, bursts included, shifted.
    skewed_ids = set(rng.sample(sorted(by_device), skewed_devices))
    skewed: list[KioskRating] = []

    def skew(press: KioskRating) -> KioskRating:
        if press.device_id not in skewed_ids:
            return press
        shifted = press.model_copy(
            update={"occurred_at": press.occurred_at + timedelta(seconds=skew_s)}
        )
        skewed.append(shifted)
        return shifted

    kiosk = [skew(p) for p in kiosk]
    bursts = [skew(p) for p in bursts]
    # Late: presses held in a spool, so not a device's last one: a later press of the
    # same device goes out before them.
    last = {max(presses, key=lambda p: p.occurred_at).event_id for presses in by_device.values()}
    held = {p.event_id for p in rng.sample([p for p in kiosk if p.event_id not in last], late)}

    events: list[Event] = sorted(
        [*(p for p in kiosk if p.event_id not in held), *bursts, *qr, *camera], key=_timestamp
    )
    reused = [
        QrSurvey.model_validate(
            {
                **q.model_dump(by_alias=True),
                "event_id": _uuid(rng),
                "submitted_at": q.submitted_at + timedelta(minutes=5),
            }
        )
        for q in rng.sample(qr, reused_tokens)
    ]
    channels = ["kiosk", "qr", "camera"]
    return Traffic(
        events=events,
        invalid=[(rng.choice(channels), _INVALID[i % len(_INVALID)]) for i in range(invalid)],
        resent=rng.sample(events, resent),
        reused_tokens=reused,
        late=sorted((p for p in kiosk if p.event_id in held), key=_timestamp),
        misuse=bursts,
        skewed=skewed,
    )


@dataclass
class SendReport:
    """What ``send`` published, by kind, as Kafka confirmed it."""

    by_topic: Counter[str]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.by_topic.values())


def simulated_keyring(settings: Settings, offices: list[SimOffice]) -> Keyring:
    """The keys of the simulated kiosks and cameras and of a simulated QR gateway:
    registered in the device registry the first time (their private keys kept in
    ``<stack_dir>/keys/simulated-devices.json``, 0600), so simulated events count like
    a real device's (signed, ``hailong/signing.py``); QR surveys carry a token signed
    with the QR gateway's key, as the gateway sends them."""
    from warehouse.client import Warehouse
    from warehouse.devices import SIMULATOR_GATEWAY, provision

    wanted = [(d.device_id, "kiosk", o.office_id) for o in offices for d in o.devices]
    wanted += [(c, "camera", o.office_id) for o in offices for c in o.cameras]
    wanted.append((SIMULATOR_GATEWAY, "gateway", ""))
    with Warehouse(settings) as wh:
        ring = provision(
            wh, settings.stack_dir / "keys" / "simulated-devices.json", wanted, by="simulator"
        )
    ring.qr_secret = settings.key("gateway_secret")  # surveys carry tokens, as the gateway's
    return ring


def send(
    settings: Settings,
    traffic: Traffic,
    rate: float = 0.0,
    progress: Callable[[str], None] = print,
    keyring: Keyring | None = None,
) -> SendReport:
    """Publish the traffic: regular events in time order (``rate`` events/s, 0 = as fast
    as Kafka takes them), then the late ones, duplicates, reused tokens, invalid events.
    Returns once Kafka confirmed every message."""
    from producers.publisher import Publisher

    publisher = Publisher(settings, keyring)
    queue: list[Event] = [*traffic.events, *traffic.late, *traffic.resent, *traffic.reused_tokens]
    total = len(queue) + len(traffic.invalid)
    by_topic: Counter[str] = Counter()
    chunk = max(1, min(5000, int(rate / 10))) if rate > 0 else 5000
    t0 = last_report = time.monotonic()
    try:
        for i in range(0, len(queue), chunk):
            batch = queue[i : i + chunk]
            publisher.publish(batch)
            by_topic.update(publisher.topic_of(e) for e in batch)
            now = time.monotonic()
            if rate > 0:
                time.sleep(max(0.0, t0 + (i + len(batch)) / rate - now))
            if now - last_report >= 2 or i + chunk >= len(queue):
                done = i + len(batch)
                progress(f"  sent {done}/{total} ({done / max(now - t0, 1e-9):,.0f} events/s)")
                last_report = now
        for channel, value in traffic.invalid:
            topic = getattr(settings.topics, channel)
            publisher.publish_raw(topic, [(b"HN-00004", value)])
            by_topic[topic] += 1
    finally:
        publisher.close()
    return SendReport(by_topic, time.monotonic() - t0)


def summary(traffic: Traffic, report: SendReport) -> str:
    """The closing table of ``hailong simulate``."""
    kinds = Counter(type(e).__name__ for e in traffic.events)
    offices = {e.office_id for e in traffic.events}
    lines = [
        f"simulate: {report.total} messages confirmed by Kafka in {report.seconds:.1f} s "
        f"({report.total / max(report.seconds, 1e-9):,.0f}/s) from {len(offices)} offices",
        f"  kiosk ratings        {kinds['KioskRating'] + len(traffic.late):>9}"
        f"  (of which misuse-burst presses {len(traffic.misuse)}, late {len(traffic.late)}, "
        f"skewed clock {len(traffic.skewed)})",
        f"  QR surveys           {kinds['QrSurvey']:>9}",
        f"  camera observations  {kinds['CameraObservation']:>9}",
        f"  duplicates (resent)  {len(traffic.resent):>9}",
        f"  reused QR tokens     {len(traffic.reused_tokens):>9}",
        f"  invalid              {len(traffic.invalid):>9}",
    ]
    lines += [f"  topic {t:<32} {n:>9}" for t, n in sorted(report.by_topic.items())]
    return "\n".join(lines)

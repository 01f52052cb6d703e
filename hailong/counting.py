"""Which events count (methodology v1, "Which events count"), in plain Python.

The stream worker computes hourly buckets in ClickHouse SQL (``warehouse/sql/``);
this module is the independent reference: what the unit tests pin each rule on. The
reconciliation runs the same rules over numpy columns (``hailong/counting_np.py``, a
month of millions of events), checked to give exactly these buckets on generated
events (``tests/unit/test_counting_np.py``). Times are integer microseconds since the
epoch (UTC), so nothing here rounds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from uuid import UUID

MISUSE_GAP_US = 4_000_000  # a press < 4 s after the previous press of its device
HOUR_US = 3_600_000_000
CAMERA_MIN_CONFIDENCE = 0.6  # sentiment counts only at or above this confidence
QR_SATISFIED_FROM = 4  # a criterion answer counts as satisfied at 4 or 5


def hour_of(t_us: int) -> int:
    """Start of the UTC hour holding ``t_us`` (the event's bucket)."""
    return t_us - t_us % HOUR_US


@dataclass(frozen=True)
class Press:
    event_id: UUID
    office_id: str
    device_id: str
    t_us: int
    scale: int
    value: int

    @property
    def satisfied(self) -> bool:
        return self.value >= self.scale - 1


@dataclass(frozen=True)
class Submission:
    event_id: UUID
    office_id: str
    token_id: str
    t_us: int
    questionnaire: str
    # (aspect, criterion, value) per answer
    answers: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Observation:
    event_id: UUID
    office_id: str
    t_us: int
    kind: str
    sentiment: str | None = None
    confidence: float | None = None
    queue_length: int | None = None
    wait_seconds: float | None = None


def misuse(presses: Iterable[Press]) -> set[UUID]:
    """Event ids of presses flagged misuse: per device, in order of (time, event_id),
    less than 4 s after the previous press of that device, counted or not."""
    by_device: dict[tuple[str, str], list[Press]] = defaultdict(list)
    for p in presses:
        by_device[(p.office_id, p.device_id)].append(p)
    flagged = set()
    for device_presses in by_device.values():
        device_presses.sort(key=lambda p: (p.t_us, str(p.event_id)))
        for prev, cur in pairwise(device_presses):
            if cur.t_us - prev.t_us < MISUSE_GAP_US:
                flagged.add(cur.event_id)
    return flagged


def kiosk_buckets(presses: Iterable[Press]) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(office, hour) → (K_n, K_sat, misuse presses)."""
    presses = list(presses)
    flagged = misuse(presses)
    out: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in presses:
        b = out[(p.office_id, hour_of(p.t_us))]
        if p.event_id in flagged:
            b[2] += 1
        else:
            b[0] += 1
            b[1] += p.satisfied
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def counted_submissions(submissions: Iterable[Submission]) -> set[UUID]:
    """Per token, the one submission that counts: the earliest (time, event_id)."""
    first: dict[str, Submission] = {}
    for s in submissions:
        best = first.get(s.token_id)
        if best is None or (s.t_us, str(s.event_id)) < (best.t_us, str(best.event_id)):
            first[s.token_id] = s
    return {s.event_id for s in first.values()}


def qr_buckets(
    submissions: Iterable[Submission],
) -> tuple[
    dict[tuple[str, int], tuple[int, int]], dict[tuple[str, int, str, str, str], tuple[int, int]]
]:
    """(office, hour) → (Q_n, duplicates), and
    (office, hour, questionnaire, aspect, criterion) → (a_c, s_c)."""
    submissions = list(submissions)
    counted = counted_submissions(submissions)
    subs: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    crit: dict[tuple[str, int, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in submissions:
        hour = hour_of(s.t_us)
        is_counted = s.event_id in counted
        subs[(s.office_id, hour)][0 if is_counted else 1] += 1
        for aspect, criterion, value in s.answers:
            c = crit[(s.office_id, hour, s.questionnaire, aspect, criterion)]
            if is_counted:
                c[0] += 1
                c[1] += value >= QR_SATISFIED_FROM
    return ({k: (v[0], v[1]) for k, v in subs.items()}, {k: (v[0], v[1]) for k, v in crit.items()})


def camera_buckets(
    observations: Iterable[Observation],
) -> dict[tuple[str, int], tuple[int, int, int, int, int, int, int, float]]:
    """(office, hour) → (C_n, C_pos, low-confidence sentiments, queue observations,
    sum and max of queue_length, observations with wait_seconds, their sum)."""
    out: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0.0])
    for o in observations:
        b = out[(o.office_id, hour_of(o.t_us))]
        if o.kind == "sentiment":
            if (o.confidence or 0.0) >= CAMERA_MIN_CONFIDENCE:
                b[0] += 1
                b[1] += o.sentiment == "positive"
            else:
                b[2] += 1
        else:
            b[3] += 1
            b[4] += o.queue_length or 0
            b[5] = max(b[5], o.queue_length or 0)
            if o.wait_seconds is not None:
                b[6] += 1
                b[7] += o.wait_seconds
    return {
        k: (
            int(v[0]),
            int(v[1]),
            int(v[2]),
            int(v[3]),
            int(v[4]),
            int(v[5]),
            int(v[6]),
            float(v[7]),
        )
        for k, v in out.items()
    }

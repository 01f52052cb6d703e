"""The simulator without Kafka: its events satisfy the contract, injections come out in
exactly the numbers asked for, and a seed reproduces a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hailong.contract import KioskRating, parse_event
from hailong.errors import InvalidEvent
from hailong.settings import Topics
from producers.simulator import _in_office_hours, city_traffic, hanoi_offices
from tests.simulated import observe

TOPICS = Topics("")
END = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
START = END - timedelta(days=5)


def published(traffic):  # type: ignore[no-untyped-def]
    """(raw, parsed) in the order ``send`` publishes them, parsed by the contract."""
    out = []
    raws = [
        (e.to_json(), topic_of(e))
        for e in [*traffic.events, *traffic.late, *traffic.resent, *traffic.reused_tokens]
    ]
    raws += [(value, getattr(TOPICS, channel)) for channel, value in traffic.invalid]
    for raw, channel in raws:
        try:
            out.append((raw, parse_event(raw, channel)))
        except InvalidEvent:
            out.append((raw, None))
    return out


def topic_of(event) -> str:  # type: ignore[no-untyped-def]
    return getattr(
        TOPICS,
        {"KioskRating": "kiosk", "QrSurvey": "qr", "CameraObservation": "camera"}[
            type(event).__name__
        ],
    )


def test_offices_are_the_126_communes_and_the_departments_with_counters_and_staff() -> None:
    offices = hanoi_offices()
    assert len(offices) == 126 + 6
    assert {o.office_id for o in offices} >= {"HN-00004", "HN-SO-TP"}
    for o in offices:
        assert 2 <= len(o.devices) <= 4 and len(o.cameras) >= 1
        assert len({d.counter_id for d in o.devices}) == len(o.devices)
        assert all(d.staff_id and d.office_id == o.office_id for d in o.devices)
        assert 0.55 <= o.satisfaction <= 0.97
    assert [o.satisfaction for o in hanoi_offices()] == [o.satisfaction for o in offices]


def test_injections_come_out_exactly_as_asked() -> None:
    faults = {"invalid": 13, "resent": 17, "reused_tokens": 11, "misuse_bursts": 7, "late": 19}
    traffic = city_traffic(
        hanoi_offices(), 20_000, START, END, seed=5, **faults, skewed_devices=3, skew_s=-900
    )
    seen = observe(published(traffic))
    assert (seen.invalid, seen.duplicates, seen.reused_tokens, seen.late) == (13, 17, 11, 19)
    assert seen.misuse == 7 * 4  # 5 presses per burst, 4 of them < 4 s after the previous

    # The same run without skew differs exactly in three kiosks' timestamps.
    plain = city_traffic(hanoi_offices(), 20_000, START, END, seed=5, **faults)
    before = {e.event_id: e for e in [*plain.events, *plain.late] if isinstance(e, KioskRating)}
    shifted = {
        e.device_id
        for e in [*traffic.events, *traffic.late]
        if isinstance(e, KioskRating)
        and e.occurred_at == before[e.event_id].occurred_at - timedelta(seconds=900)
    }
    assert len(shifted) == 3
    assert {e.device_id for e in traffic.skewed} == shifted


def test_clean_traffic_is_valid_in_office_hours_and_reproducible() -> None:
    traffic = city_traffic(hanoi_offices(), 5_000, START, END, seed=9)
    seen = observe(published(traffic))
    assert (seen.invalid, seen.duplicates, seen.reused_tokens, seen.late, seen.misuse) == (
        0,
        0,
        0,
        0,
        0,
    )
    stamps = [
        getattr(e, "occurred_at", None) or getattr(e, "submitted_at", None) or e.observed_at
        for e in traffic.events
    ]
    assert stamps == sorted(stamps)
    # Kiosk presses are pushed >= 60 s after the previous one; that may cross 17:00.
    outside = [
        t
        for t in stamps
        if not _in_office_hours(t) and not _in_office_hours(t - timedelta(minutes=10))
    ]
    assert not outside
    again = city_traffic(hanoi_offices(), 5_000, START, END, seed=9)
    assert [e.to_json() for e in again.events] == [e.to_json() for e in traffic.events]

"""``hailong simulate`` through the real CLI into the real broker: everything it sends is
valid against the contract except what it injects, and each kind of injection is found
in Kafka in exactly the number asked for."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hailong.contract import KioskRating, parse_event
from hailong.errors import InvalidEvent
from hailong.settings import Settings
from producers.simulator import city_traffic, hanoi_offices
from tests.conftest import hailong, read_topic
from tests.simulated import observe

pytestmark = pytest.mark.integration

UNTIL = "2026-11-20T17:00:00+07:00"


def test_simulate_sends_exactly_the_injected_counts(settings: Settings) -> None:
    args = [
        "--per-office",
        "40",
        "--days",
        "6",
        "--until",
        UNTIL,
        "--seed",
        "31",
        "--invalid",
        "9",
        "--duplicates",
        "14",
        "--reused-tokens",
        "6",
        "--misuse-bursts",
        "5",
        "--late",
        "8",
        "--skewed-devices",
        "2",
        "--skew",
        "720",
    ]
    run = hailong(settings, "simulate", *args)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "sent " in run.stdout and "events/s" in run.stdout  # progress
    assert "invalid                      9" in run.stdout  # the closing summary

    messages = []
    for topic in settings.topics.events:
        messages += read_topic(settings, topic)
    messages.sort(key=lambda m: (m.topic(), m.partition(), m.offset()))
    published = []
    for m in messages:
        try:
            event = parse_event(m.value(), m.topic().removeprefix(settings.topic_prefix))
        except InvalidEvent:
            event = None
        published.append((m.value(), event))
    seen = observe(published)
    assert (seen.invalid, seen.duplicates, seen.reused_tokens, seen.late, seen.misuse) == (
        9,
        14,
        6,
        8,
        5 * 4,
    )

    # Clock skew: the same run without skew differs exactly in two kiosks' timestamps.
    until = datetime.fromisoformat(UNTIL)
    faults = {"invalid": 9, "resent": 14, "reused_tokens": 6, "misuse_bursts": 5, "late": 8}
    plain = city_traffic(
        hanoi_offices(seed=31), 40 * 132, until - timedelta(days=6), until, seed=31, **faults
    )
    truth = {
        e.event_id: e.occurred_at
        for e in [*plain.events, *plain.late]
        if isinstance(e, KioskRating)
    }
    kiosk = {e.event_id: e for _, e in published if isinstance(e, KioskRating)}
    assert set(kiosk) == set(truth)
    moved = {e.device_id for e in kiosk.values() if e.occurred_at != truth[e.event_id]}
    assert len(moved) == 2
    assert all(
        e.occurred_at - truth[e.event_id] == timedelta(seconds=720)
        for e in kiosk.values()
        if e.device_id in moved
    )

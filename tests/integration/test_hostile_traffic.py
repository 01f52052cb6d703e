"""Issue 12's fuzz run: at least 10,000 hostile messages, interleaved with valid sentinel
events, through the real broker to a real worker. Every hostile message ends in the
dead-letter table with a reason, every sentinel is counted, and landing never stalls."""

from __future__ import annotations

import json
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Producer

from hailong.contract import parse_event
from hailong.errors import InvalidEvent
from hailong.kafka import SIMULATOR, producer_config
from hailong.settings import Settings
from tests.unit.test_contract import CAMERA_QUEUE, CAMERA_SENTIMENT, KIOSK, QR
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration

TOPIC_SCHEMA = {"kiosk": KIOSK, "qr": QR, "camera": CAMERA_SENTIMENT}


TIME_FIELD = {"kiosk": "occurred_at", "qr": "submitted_at", "camera": "observed_at"}


def implausible(rng: random.Random, channel: str) -> tuple[bytes | None, bytes]:
    """One (key, value) that contract v1 accepts but the worker quarantines: a key that
    is not the office, or a time far ahead of the broker's (which is the real clock)."""
    base: dict[str, Any] = dict(TOPIC_SCHEMA[channel])
    base["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    if rng.random() < 0.5:
        key = rng.choice([None, b"", b"O", rng.randbytes(8), base["office_id"].encode() + b" "])
        return key, json.dumps(base).encode()
    ahead = datetime.now(UTC) + timedelta(hours=rng.uniform(1, 24 * 365))
    base[TIME_FIELD[channel]] = ahead.isoformat()
    return base["office_id"].encode(), json.dumps(base).encode()


def hostile(rng: random.Random, channel: str) -> tuple[bytes | None, bytes | None]:
    """One (key, value) that contract v1 rejects on ``channel``'s topic."""
    base: dict[str, Any] = dict(TOPIC_SCHEMA[channel])
    base["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    kind = rng.randrange(12)
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(1, 64)), rng.randbytes(rng.randrange(0, 300))
    if kind == 1:  # deep nesting
        d = rng.randrange(1_000, 20_000)
        return b"K", b'{"schema": "kiosk_rating/1", "x": ' + b"[" * d + b"]" * d + b"}"
    if kind == 2:  # a long number in any field
        field = rng.choice(sorted(base))
        return b"K", json.dumps({**base, field: 0}).replace(
            f'"{field}": 0', f'"{field}": {"9" * rng.randrange(41, 6_000)}'
        ).encode()
    if kind == 3:  # a time out of range or off the calendar
        ts = rng.choice(
            [
                "9999-12-31T23:59:59-23:59",
                "0001-01-01T00:00:00+00:01",
                "1969-12-31T23:59:59Z",
                "2106-02-07T06:28:16Z",
                "2026-02-30T00:00:00Z",
            ]
        )
        return b"O", json.dumps({**base, TIME_FIELD[channel]: ts}).encode()
    if kind == 4:  # a huge value
        return b"O", json.dumps({**base, "comment": "x" * rng.randrange(70_000, 900_000)}).encode()
    if kind == 5:  # a tombstone
        return rng.choice([None, b"O"]), None
    if kind == 6:  # another channel's event on this topic
        other = rng.choice([c for c in TOPIC_SCHEMA if c != channel])
        return b"O", json.dumps(TOPIC_SCHEMA[other]).encode()
    if kind == 7:  # unknown fields, biometric ones too
        return b"O", json.dumps({**base, rng.choice(["image", "face_crop", "x"]): "..."}).encode()
    if kind == 8:  # a value out of its column
        return b"O", json.dumps(
            {**CAMERA_QUEUE, "queue_length": 2**32 + 7}
            if channel == "camera"
            else {**base, "value": 300}
            if channel == "kiosk"
            else {**base, "overall": 6}
        ).encode()
    if kind == 9:  # invalid UTF-8 / BOM / NaN
        raw = json.dumps(base).encode()
        return b"O", rng.choice(
            [b"\xef\xbb\xbf" + raw, raw.replace(b"HN", b"H\xff"), raw[:-1] + b', "n": NaN}']
        )
    # random byte mutations of a valid event
    mutated = bytearray(json.dumps(base).encode())
    for _ in range(rng.randrange(1, 6)):
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
    return rng.choice([b"O", rng.randbytes(8), None]), bytes(mutated)


def test_ten_thousand_hostile_messages_with_sentinels(
    settings: Settings, worker: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(12)
    topics = {
        "kiosk": settings.topics.kiosk,
        "qr": settings.topics.qr,
        "camera": settings.topics.camera,
    }
    # topic, key, value, what must become of it: "dead" (letter), "held" (quarantine), "count"
    plan: list[tuple[str, bytes | None, bytes | None, str]] = []
    while len(plan) < 10_000:
        channel = rng.choice(list(topics))
        if rng.random() < 0.1:
            plan.append((topics[channel], *implausible(rng, channel), "held"))
            continue
        key, value = hostile(rng, channel)
        if value is not None:
            try:  # a mutation that happens to be valid is not hostile: leave it out
                parse_event(value, f"satisfaction.{channel}.v1")
                continue
            except InvalidEvent:
                pass
        plan.append((topics[channel], key, value, "dead"))
    offices = [f"SENT-{i:02d}" for i in range(12)]
    sentinels = 300
    for i in range(sentinels):
        office = offices[i % 12]
        sentinel = json.dumps(
            {
                **KIOSK,
                "event_id": str(uuid.uuid4()),
                "office_id": office,
                "device_id": f"{office}-K",
                "counter_id": "Q1",
                "staff_id": "s1",
                "occurred_at": f"2026-10-14T{8 + i % 8:02d}:{i % 60:02d}:00+07:00",
            }
        ).encode()
        plan.insert(rng.randrange(len(plan)), (topics["kiosk"], office.encode(), sentinel, "count"))
    producer = Producer(producer_config(settings, SIMULATOR, **{"message.max.bytes": 1_000_000}))
    for topic, key, value, _ in plan:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.2)
    assert producer.flush(120) == 0
    expected = (sum(x == "dead" for *_, x in plan), sum(x == "held" for *_, x in plan), sentinels)
    n_hostile = expected[0] + expected[1]
    assert n_hostile >= 10_000 and expected[1] >= 500

    wh = Warehouse(settings)

    def progress() -> tuple[int, int, int]:
        dead = wh.execute("SELECT count() FROM dead_letters FINAL")[0][0]
        held = wh.execute("SELECT count() FROM quarantine FINAL")[0][0]
        counted = (
            wh.execute(
                "SELECT sum(k_n + k_misuse) FROM kiosk_hourly FINAL WHERE office_id IN %(o)s",
                {"o": tuple(offices)},
            )[0][0]
            or 0
        )
        return int(dead), int(held), int(counted)

    start = last_change = time.monotonic()
    longest_pause, seen = 0.0, (0, 0, 0)
    while seen != expected:
        now = progress()
        t = time.monotonic()
        if now != seen:
            longest_pause, last_change, seen = max(longest_pause, t - last_change), t, now
        assert t - last_change < 60, f"landing stalled at {seen} of {expected}"
        assert worker.poll() is None, "the worker died"
        time.sleep(0.25)
    reasons = wh.execute("SELECT countIf(error = '') FROM dead_letters FINAL")[0][0]
    assert reasons == 0  # every dead letter says why
    held_reasons = wh.execute(
        "SELECT countIf(reason LIKE '%the Kafka key%' OR reason LIKE '%ahead of the broker%'),"
        " count() FROM quarantine FINAL"
    )[0]
    assert held_reasons[0] == held_reasons[1] == expected[1]  # every one says why
    # nothing implausible counts: only the sentinels' offices have counts
    counted = wh.execute("SELECT sum(k_n + k_misuse) FROM kiosk_hourly FINAL")[0][0]
    counted += wh.execute("SELECT sum(q_n) FROM qr_hourly FINAL")[0][0]
    counted += wh.execute("SELECT sum(c_n) FROM camera_hourly FINAL")[0][0]
    assert counted == sentinels
    with capsys.disabled():
        print(
            f"\n[hostile] sent {len(plan):,}: {n_hostile:,} hostile, {sentinels} sentinels; "
            f"dead-lettered {seen[0]:,}, quarantined {seen[1]:,}, sentinels counted "
            f"{seen[2]}/{sentinels}; {time.monotonic() - start:.0f} s, longest pause in "
            f"landing {longest_pause:.1f} s",
            end="",
        )

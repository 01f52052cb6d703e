"""Dead letters end to end on the real broker and server: a worker process publishes each
invalid event to the dead-letter topic and lands it in `dead_letters`; a replay of the
same messages (as after a kill) publishes them again but they stay one row each, and
dead_letter_summary counts each once."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.settings import Settings
from streams.ingest import Ingestor, Received
from tests.conftest import read_topic, wait_until
from tests.events import kiosk_press
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration

ICT = timedelta(hours=7)


def invalid_events(s: Settings) -> list[tuple[str, bytes | None, bytes | None, str]]:
    """(topic, key, value, the reason class dead_letter_summary gives it)."""
    bad_id = b'{"schema": "kiosk_rating/1", "event_id": "not-a-uuid", "office_id": "OA"}'
    return [
        (s.topics.kiosk, b"OA", b"not json", "not_json"),
        (s.topics.kiosk, b"OA", bad_id, "field:event_id"),
        (s.topics.kiosk, b"OA", b"\xff\xfe{}", "not_utf8"),  # not UTF-8: kept byte for byte
        (s.topics.kiosk, b"OB", None, "tombstone"),
        (s.topics.kiosk, b"OB", b'{"schema": "qr_survey/1"}', "wrong_topic"),
        (s.topics.qr, b"OA", b'{"schema": "qr_survey/1", "face_crop": "..."}', "unknown_field"),
        (s.topics.qr, None, b"[1, 2]", "not_object"),
        (
            s.topics.camera,
            b"OC",
            b'{"schema": "camera_observation/1", "a": 1, "a": 2}',
            "duplicate_key",
        ),
        (s.topics.camera, b"OC", b'{"schema": "nope/1"}', "unknown_schema"),
    ]


def as_bytes(v: Any) -> bytes:
    """A String value as read by clickhouse-driver: text if it is UTF-8, else bytes."""
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def test_dead_letters_land_once_each_even_after_a_replay(
    settings: Settings, worker: subprocess.Popen[bytes]
) -> None:
    cases = invalid_events(settings)
    valid = kiosk_press(
        "OA", "K1", "2026-11-24T09:00:00+07:00", event_id="00000000-0000-0000-0000-00000000d1e1"
    )
    producer = make_producer(settings, SIMULATOR)
    for topic, key, value, _ in cases:
        deliver(producer, topic, [(key, value)])  # type: ignore[list-item]  # a tombstone too
    deliver(producer, settings.topics.kiosk, [(b"OA", valid)])
    producer.flush(10)

    wh = Warehouse(settings)

    def landed() -> bool:
        dead = wh.execute("SELECT count() FROM dead_letters FINAL")[0][0]
        raw = wh.execute("SELECT count() FROM kiosk_ratings_raw FINAL")[0][0]
        return bool(dead == len(cases) and raw == 1) or worker.poll() is not None

    wait_until(landed, 90, "the worker to land every dead letter")
    assert worker.poll() is None, "the worker died"

    # Every source message once, as received: topic, partition, offset, key, exact bytes.
    source: list[Any] = [m for t in settings.topics.events for m in read_topic(settings, t)]
    by_value = {(m.topic(), m.value()): m for m in source}
    expected = {}
    for topic, key, value, reason in cases:
        m = by_value[(topic, value)]
        expected[(topic, m.partition(), m.offset())] = (
            None if key is None else key.decode(),
            value or b"",
            reason,
        )
    rows = wh.execute(
        "SELECT source_topic, kafka_partition, kafka_offset, key, raw, error, "
        "rejected_at FROM dead_letters FINAL"
    )
    assert {(t, p, o): (k, as_bytes(r)) for t, p, o, k, r, _e, _at in rows} == {
        pos: exp[:2] for pos, exp in expected.items()
    }

    # The same as the dead-letter topic: error and time of each rejection.
    published = [json.loads(m.value()) for m in read_topic(settings, settings.topics.deadletter)]
    assert len(published) == len(cases)
    for letter in published:
        pos = (letter["source_topic"], letter["partition"], letter["offset"])
        assert base64.b64decode(letter["raw"]) == expected[pos][1]
    topic_view = {
        (d["source_topic"], d["partition"], d["offset"]): (
            d["error"],
            datetime.fromisoformat(d["rejected_at"]).replace(microsecond=0),
        )
        for d in published
    }
    assert {(t, p, o): (e, at.replace(tzinfo=UTC)) for t, p, o, _k, _r, e, at in rows} == topic_view

    # The summary: per Hanoi day of the first rejection, topic and reason class.
    def local_day(t: datetime) -> date:
        return (t.replace(tzinfo=UTC) + ICT).date()

    first_at = {(t, p, o): at for t, p, o, _k, _r, _e, at in rows}
    want = Counter((local_day(first_at[pos]), pos[0], exp[2]) for pos, exp in expected.items())
    summary_query = (
        "SELECT day, source_topic, reason, dead_letters, first_rejected_at, "
        "last_rejected_at FROM dead_letter_summary "
        "ORDER BY day, source_topic, reason"
    )
    summary = wh.execute(summary_query)
    assert {(d, t, r): n for d, t, r, n, _f, _l in summary} == dict(want)
    assert sum(n for _d, _t, _r, n, _f, _l in summary) == len(cases)

    # A replay of the same messages (a worker killed before acknowledging them): the
    # dead letters are published again, and landed again as the same rows.
    received = [Received(m.topic(), m.partition(), m.offset(), m.key(), m.value()) for m in source]
    replay = asyncio.run(Ingestor(settings).process(received))
    assert len(replay.dead) == len(cases) and len(replay.kiosk) == 1
    assert len(read_topic(settings, settings.topics.deadletter)) == 2 * len(cases)
    assert wh.execute("SELECT count() FROM dead_letters")[0][0] == 2 * len(cases)  # unmerged
    assert wh.execute("SELECT count() FROM dead_letters FINAL")[0][0] == len(cases)
    assert wh.execute(summary_query) == summary  # counts, first and last times unchanged
    wh.execute("OPTIMIZE TABLE dead_letters FINAL")
    after_merge = wh.execute(
        "SELECT source_topic, kafka_partition, kafka_offset, key, raw, "
        "error, rejected_at FROM dead_letters"
    )
    assert sorted(after_merge, key=str) == sorted(rows, key=str)  # the first rejection won
    assert wh.execute("SELECT count() FROM kiosk_ratings_raw FINAL") == [(1,)]
    wh.close()

"""The camera adapter's pure logic: emotion labels → sentiment, the field allowlist,
mapping webhooks to ``camera_observation/1``, and error messages that never contain a
value of the payload."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from hailong.contract import CameraObservation, parse_event
from hailong.http import Refused
from producers.camera.webhook import (
    ALLOWED_FIELDS,
    EMOTIONS,
    read_observations,
    safe_name,
    sentiment_of,
    to_events,
)

MARK = "MARK-7f3a9c-never-echo"

EMOTION: dict[str, Any] = {
    "camera_id": "cam-3",
    "office_id": "HN-00004",
    "timestamp": "2026-11-24T09:15:02+07:00",
    "event_type": "emotion",
    "emotion": "happy",
    "score": 0.91,
    "track_id": "t-1",
    "observation_id": "obs-1",
}
QUEUE: dict[str, Any] = {
    "camera_id": "cam-1",
    "office_id": "HN-00004",
    "timestamp": "2026-11-24T02:15:00Z",
    "event_type": "queue",
    "people_waiting": 7,
    "estimated_wait_s": 420,
}


def body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def refused(raw: bytes) -> Refused:
    with pytest.raises(Refused) as info:
        to_events(read_observations(raw))
    return info.value


def echoed(exc: Refused) -> str:
    return json.dumps({"detail": exc.detail, **exc.extra}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("label", "sentiment"),
    [
        ("happy", "positive"),
        ("Happy", "positive"),
        (" JOY ", "positive"),
        ("neutral", "neutral"),
        ("surprised", "neutral"),
        ("calm", "neutral"),
        ("sad", "negative"),
        ("ANGRY", "negative"),
        ("disgust", "negative"),
        ("fear", "negative"),
        ("contempt", "negative"),
        ("confused", None),
        ("", None),
    ],
)
def test_emotion_labels(label: str, sentiment: str | None) -> None:
    assert sentiment_of(label) == sentiment


def test_every_label_maps_to_a_contract_sentiment() -> None:
    allowed = set(get_args(CameraObservation.model_fields["sentiment"].annotation)[0].__args__)
    assert set(EMOTIONS.values()) == allowed == {"positive", "neutral", "negative"}


def test_valid_webhook_maps_to_contract_events() -> None:
    sentiment, queue = to_events(read_observations(body([EMOTION, QUEUE])))
    assert sentiment.kind == "sentiment" and sentiment.sentiment == "positive"
    assert sentiment.confidence == 0.91 and sentiment.track_id == "t-1"
    assert sentiment.observed_at.isoformat() == "2026-11-24T02:15:02+00:00"
    assert queue.kind == "queue" and queue.queue_length == 7 and queue.wait_seconds == 420
    for event in (sentiment, queue):
        # the wire form passes the contract's own parser, on the camera topic
        assert parse_event(event.to_json(), "satisfaction.camera.v1") == event
        assert event.key == b"HN-00004"


def test_observation_id_makes_resends_idempotent() -> None:
    first = to_events(read_observations(body(EMOTION)))[0]
    again = to_events(read_observations(body(EMOTION)))[0]
    other = to_events(read_observations(body({**EMOTION, "observation_id": "obs-2"})))[0]
    assert first.event_id == again.event_id != other.event_id
    no_id = {k: v for k, v in EMOTION.items() if k != "observation_id"}
    a, b = (to_events(read_observations(body(no_id)))[0] for _ in range(2))
    assert a.event_id != b.event_id


@pytest.mark.parametrize(
    "field",
    [
        "image",
        "face_crop",
        "embedding",
        "snapshot_url",
        "faceEmbedding",
        "gender",
        "age",
        "vendor_debug",
    ],
)
def test_fields_outside_the_allowlist_fail_the_whole_request(field: str) -> None:
    bad = {**EMOTION, field: MARK}
    exc = refused(body([QUEUE, bad]))  # the valid one goes down with it
    assert exc.status == 422 and exc.slug == "field-not-allowed"
    assert exc.extra["fields"] == [field]
    assert set(exc.extra["allowed"]) == ALLOWED_FIELDS
    assert MARK not in echoed(exc)


def test_visual_fields_are_called_what_they_are() -> None:
    exc = refused(body({**EMOTION, "face_crop": MARK, "embedding": [0.1, MARK]}))
    assert exc.extra["fields"] == ["embedding", "face_crop"]
    assert "face crops, embeddings" in exc.detail and MARK not in echoed(exc)
    plain = refused(body({**EMOTION, "colour": "red"}))
    assert "biometric" not in plain.detail


def test_field_names_are_sanitized_and_truncated() -> None:
    assert safe_name("face crop<script>") == "face?crop?script?"
    assert safe_name("x" * 100) == "x" * 40 + "…"
    exc = refused(body({**EMOTION, "bad\nname\u202e": 1, "y" * 300: 2}))
    assert exc.extra["fields"] == ["bad?name?", "y" * 40 + "…"]


@pytest.mark.parametrize(
    "change",
    [
        {"camera_id": MARK + " with spaces"},
        {"office_id": MARK + "/x"},
        {"timestamp": MARK},
        {"timestamp": "2026-11-24T09:15:02"},
        {"timestamp": "2026-13-24T09:15:02+07:00"},
        {"event_type": MARK},
        {"emotion": MARK},
        {"score": MARK},
        {"score": 1.5},
        {"score": True},
        {"track_id": {"face": MARK}},
        {"observation_id": [MARK]},
        {"people_waiting": 3},
        {"emotion": None},
    ],
)
def test_invalid_values_are_refused_without_echo(change: dict[str, Any]) -> None:
    obj = {k: v for k, v in {**EMOTION, **change}.items() if v is not None}
    exc = refused(body(obj))
    assert exc.status == 422 and exc.extra["errors"]
    fields = [e["field"] for e in exc.extra["errors"]]
    key = next(iter(change))
    assert any(f.startswith(f"[0].{key}") for f in fields), fields
    assert MARK not in echoed(exc)


def test_queue_needs_its_fields_and_refuses_emotion_ones() -> None:
    exc = refused(body({**{k: v for k, v in QUEUE.items() if k != "people_waiting"}, "score": 0.5}))
    assert {e["field"] for e in exc.extra["errors"]} == {"[0].people_waiting", "[0].score"}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"not json " + MARK.encode(), 400),
        (b'{"camera_id": "a", "camera_id": "' + MARK.encode() + b'"}', 400),
        (b"[]", 422),
        (body([1, MARK]), 422),
        (body([QUEUE] * 501), 422),
        (b"\xff\xfe", 400),
    ],
)
def test_bodies_that_are_not_observations(raw: bytes, status: int) -> None:
    exc = refused(raw)
    assert exc.status == status and MARK not in echoed(exc)


def test_hostile_bodies_are_4xx_never_500() -> None:
    deep = refused(b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}")
    assert deep.status == 400 and "nested too deeply" in deep.detail
    long_number = refused(body({**QUEUE, "people_waiting": 0}).replace(b": 0", b": " + b"9" * 5000))
    assert long_number.status == 400
    for ts in (
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+00:01",
        "1969-07-20T20:17:40Z",
        "2107-01-01T00:00:00Z",
    ):
        exc = refused(body({**QUEUE, "timestamp": ts}))
        assert exc.status == 422, ts
    assert refused(body({**QUEUE, "people_waiting": 2**32 + 7})).status == 422

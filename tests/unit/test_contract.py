"""Every rule of wire contract v1 (shared/contract.md), one case at a time."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from hailong.contract import (
    CameraObservation,
    DeadLetter,
    KioskRating,
    QrSurvey,
    parse_event,
)
from hailong.errors import InvalidEvent

EID = "123e4567-e89b-12d3-a456-426614174000"

KIOSK: dict[str, Any] = {
    "schema": "kiosk_rating/1",
    "event_id": EID,
    "office_id": "HN-00004",
    "device_id": "K-1",
    "counter_id": "Q1",
    "staff_id": "cb.0042",
    "procedure_code": "1.001234",
    "dossier_id": "H01.2026.000123",
    "occurred_at": "2026-11-24T09:15:02+07:00",
    "scale": 4,
    "value": 3,
}
QR: dict[str, Any] = {
    "schema": "qr_survey/1",
    "event_id": EID,
    "token_id": "tok_9f8e",
    "office_id": "HN-00004",
    "submitted_at": "2026-11-24T02:15:02Z",
    "questionnaire": "sipas-5/1",
    "answers": {"A1": 5, "P2": 4, "S1": 1},
    "overall": 4,
    "comment": "Cán bộ nhiệt tình",
}
CAMERA_SENTIMENT: dict[str, Any] = {
    "schema": "camera_observation/1",
    "event_id": EID,
    "office_id": "HN-00004",
    "camera_id": "cam-1",
    "observed_at": "2026-11-24T09:15:02.5+07:00",
    "kind": "sentiment",
    "sentiment": "positive",
    "confidence": 0.8,
    "track_id": "t-77",
}
CAMERA_QUEUE: dict[str, Any] = {
    "schema": "camera_observation/1",
    "event_id": EID,
    "office_id": "HN-00004",
    "camera_id": "cam-1",
    "observed_at": "2026-11-24T09:15:02Z",
    "kind": "queue",
    "queue_length": 7,
    "wait_seconds": 420.5,
}


def raw(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def reject(obj: dict[str, Any] | bytes, *fragments: str, topic: str | None = None) -> str:
    """Assert the value is rejected and the reason names every fragment."""
    with pytest.raises(InvalidEvent) as info:
        parse_event(obj if isinstance(obj, bytes) else raw(obj), topic)
    for fragment in fragments:
        assert fragment in info.value.reason, info.value.reason
    return info.value.reason


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def without(base: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k not in keys}


# --- valid events ----------------------------------------------------------------------


def test_valid_kiosk_rating_is_parsed_and_stored_in_utc() -> None:
    e = parse_event(raw(KIOSK), "satisfaction.kiosk.v1")
    assert isinstance(e, KioskRating)
    assert e.event_id == uuid.UUID(EID)
    assert e.occurred_at == datetime(2026, 11, 24, 2, 15, 2, tzinfo=UTC)
    assert (e.scale, e.value, e.staff_id) == (4, 3, "cb.0042")


def test_kiosk_optional_fields_may_be_absent() -> None:
    e = parse_event(raw(without(KIOSK, "counter_id", "staff_id", "procedure_code", "dossier_id")))
    assert isinstance(e, KioskRating) and e.counter_id is None and e.dossier_id is None


@pytest.mark.parametrize(
    ("scale", "value", "satisfied"),
    [
        (3, 1, False),
        (3, 2, True),
        (3, 3, True),
        (4, 2, False),
        (4, 3, True),
        (4, 4, True),
        (5, 3, False),
        (5, 4, True),
        (5, 5, True),
    ],
)
def test_top_two_levels_of_any_scale_are_satisfied(scale: int, value: int, satisfied: bool) -> None:
    e = parse_event(raw(with_(KIOSK, scale=scale, value=value)))
    assert isinstance(e, KioskRating) and e.satisfied is satisfied


def test_valid_qr_survey_and_camera_events() -> None:
    q = parse_event(raw(QR), "satisfaction.qr.v1")
    assert isinstance(q, QrSurvey) and q.answers == {"A1": 5, "P2": 4, "S1": 1}
    s = parse_event(raw(CAMERA_SENTIMENT), "satisfaction.camera.v1")
    assert isinstance(s, CameraObservation) and s.confidence == 0.8
    assert s.observed_at == datetime(2026, 11, 24, 2, 15, 2, 500000, tzinfo=UTC)
    c = parse_event(raw(CAMERA_QUEUE))
    assert isinstance(c, CameraObservation) and c.queue_length == 7


def test_integer_confidence_and_wait_are_json_numbers() -> None:
    e = parse_event(raw(with_(CAMERA_SENTIMENT, confidence=1)))
    assert isinstance(e, CameraObservation) and e.confidence == 1.0
    e = parse_event(raw(with_(CAMERA_QUEUE, wait_seconds=0)))
    assert isinstance(e, CameraObservation) and e.wait_seconds == 0.0


def test_wire_form_round_trips() -> None:
    for obj in (KIOSK, QR, CAMERA_SENTIMENT, CAMERA_QUEUE):
        e = parse_event(raw(obj))
        assert parse_event(e.to_json()) == e
        assert json.loads(e.to_json())["schema"] == obj["schema"]
        assert e.key == b"HN-00004"


# --- timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T09:15:02+07:00", datetime(2026, 11, 24, 2, 15, 2, tzinfo=UTC)),
        ("2026-11-24T02:15:02Z", datetime(2026, 11, 24, 2, 15, 2, tzinfo=UTC)),
        ("2026-11-24t02:15:02z", datetime(2026, 11, 24, 2, 15, 2, tzinfo=UTC)),
        ("2026-11-23T21:15:02-05:00", datetime(2026, 11, 24, 2, 15, 2, tzinfo=UTC)),
        ("2026-11-24T02:15:02.123456789Z", datetime(2026, 11, 24, 2, 15, 2, 123456, tzinfo=UTC)),
        ("2026-07-01T00:00:00+07:00", datetime(2026, 6, 30, 17, 0, 0, tzinfo=UTC)),
    ],
)
def test_timestamps_with_an_offset_are_stored_in_utc(text: str, expected: datetime) -> None:
    e = parse_event(raw(with_(KIOSK, occurred_at=text)))
    assert isinstance(e, KioskRating) and e.occurred_at == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2026-11-24T09:15:02", "no offset"),
        ("2026-11-24T09:15:02.5", "no offset"),
        ("2026-11-24 09:15:02", "no offset"),
        ("2026-11-24", "RFC 3339"),
        ("24/11/2026 09:15", "RFC 3339"),
        ("2026-02-30T09:15:02Z", "not a valid date-time"),
        ("2026-11-24T25:00:00Z", "not a valid date-time"),
        (1795489107, "RFC 3339 timestamp string"),
        (None, "RFC 3339 timestamp string"),
    ],
)
def test_bad_timestamps_are_rejected(value: Any, fragment: str) -> None:
    reject(with_(KIOSK, occurred_at=value), "occurred_at", fragment)
    reject(with_(QR, submitted_at=value), "submitted_at", fragment)
    reject(with_(CAMERA_QUEUE, observed_at=value), "observed_at", fragment)


# --- identifiers and event_id -------------------------------------------------------------


@pytest.mark.parametrize("field", ["office_id", "device_id", "counter_id", "staff_id"])
@pytest.mark.parametrize("value", ["", "a" * 65, "có dấu", "a b", "a/b", "x\n", 42, None])
def test_kiosk_identifiers_follow_the_id_rule(field: str, value: Any) -> None:
    if value is None and field in ("counter_id", "staff_id"):
        return  # optional identifiers may be null
    reject(with_(KIOSK, **{field: value}), field)


@pytest.mark.parametrize(
    ("base", "field"),
    [
        (QR, "token_id"),
        (CAMERA_SENTIMENT, "camera_id"),
        (CAMERA_SENTIMENT, "track_id"),
    ],
)
def test_other_identifiers_follow_the_id_rule(base: dict[str, Any], field: str) -> None:
    reject(with_(base, **{field: "bad id!"}), field, "1-64 characters")
    e = parse_event(raw(with_(base, **{field: "A-z_0.9" + "x" * 57})))  # 64 characters
    assert getattr(e, field) == "A-z_0.9" + "x" * 57


@pytest.mark.parametrize(
    "value",
    [
        "123e4567e89b12d3a456426614174000",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "123e4567-e89b-12d3-a456-42661417400",
        "not-a-uuid",
        12345,
        "",
    ],
)
def test_event_id_must_be_a_uuid_string(value: Any) -> None:
    reject(with_(KIOSK, event_id=value), "event_id", "UUID")


def test_missing_required_fields_are_named() -> None:
    for field in ("event_id", "office_id", "device_id", "occurred_at", "scale", "value"):
        reject(without(KIOSK, field), field, "Field required")
    for field in ("token_id", "submitted_at", "questionnaire", "answers"):
        reject(without(QR, field), field, "Field required")
    for field in ("camera_id", "observed_at", "kind"):
        reject(without(CAMERA_QUEUE, field), field, "Field required")


# --- kiosk rules --------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 6, 0, 4.0, "4", True, None])
def test_scale_is_3_4_or_5(scale: Any) -> None:
    reject(with_(KIOSK, scale=scale, value=1), "scale", "3, 4 or 5")


@pytest.mark.parametrize(("scale", "value"), [(3, 4), (4, 5), (5, 6), (4, 0), (5, -1)])
def test_value_is_within_its_scale(scale: int, value: int) -> None:
    reject(with_(KIOSK, scale=scale, value=value), f"outside 1..{scale}")


@pytest.mark.parametrize("value", ["3", 3.0, True, None])
def test_value_must_be_an_integer(value: Any) -> None:
    reject(with_(KIOSK, value=value), "value")


def test_procedure_code_and_dossier_id_lengths() -> None:
    reject(with_(KIOSK, procedure_code="x" * 33), "procedure_code", "at most 32")
    reject(with_(KIOSK, dossier_id="x" * 65), "dossier_id", "at most 64")
    reject(with_(KIOSK, dossier_id=123), "dossier_id")
    assert parse_event(raw(with_(KIOSK, procedure_code="x" * 32, dossier_id="y" * 64)))


# --- QR rules -------------------------------------------------------------------------------


def test_answers_need_at_least_one_entry() -> None:
    reject(with_(QR, answers={}), "answers")


def test_answer_codes_belong_to_the_questionnaire() -> None:
    reject(with_(QR, answers={"A1": 5, "Z9": 3}), "['Z9']", "not criteria of sipas-5/1")
    reject(with_(QR, answers={"a1": 5}), "['a1']")


def test_unknown_questionnaire_is_rejected() -> None:
    reject(with_(QR, questionnaire="sipas-5/2"), "unknown questionnaire 'sipas-5/2'")
    reject(with_(QR, questionnaire="x" * 33), "questionnaire", "at most 32")


@pytest.mark.parametrize("value", [0, 6, "5", 4.5, True])
def test_answers_and_overall_are_integers_1_to_5(value: Any) -> None:
    reject(with_(QR, answers={"A1": value}), "answers.A1")
    reject(with_(QR, overall=value), "overall")


def test_comment_length_and_utf8() -> None:
    reject(with_(QR, comment="x" * 1001), "comment", "at most 1000")
    assert parse_event(raw(with_(QR, comment="ý" * 1000)))
    # a lone surrogate escape is valid JSON but not valid UTF-8 text
    reject(raw(QR).replace("Cán bộ nhiệt tình".encode(), b"\\ud800"), "comment", "UTF-8")


# --- camera rules ---------------------------------------------------------------------------


def test_sentiment_needs_sentiment_and_confidence() -> None:
    reject(without(CAMERA_SENTIMENT, "sentiment"), "requires sentiment")
    reject(without(CAMERA_SENTIMENT, "confidence"), "requires confidence")
    reject(with_(CAMERA_SENTIMENT, sentiment="happy"), "sentiment")


def test_queue_needs_queue_length() -> None:
    reject(without(CAMERA_QUEUE, "queue_length"), "requires queue_length")
    assert parse_event(raw(without(CAMERA_QUEUE, "wait_seconds")))


def test_fields_of_the_other_kind_are_refused() -> None:
    reject(with_(CAMERA_SENTIMENT, queue_length=3), "does not take queue_length")
    reject(with_(CAMERA_SENTIMENT, wait_seconds=3), "does not take wait_seconds")
    reject(with_(CAMERA_QUEUE, sentiment="neutral"), "does not take sentiment")
    reject(with_(CAMERA_QUEUE, confidence=0.9), "does not take confidence")


@pytest.mark.parametrize("value", [-0.01, 1.01, "0.7", True, None])
def test_confidence_is_a_number_from_0_to_1(value: Any) -> None:
    reject(with_(CAMERA_SENTIMENT, confidence=value), "confidence")


def test_queue_numbers_are_non_negative() -> None:
    reject(with_(CAMERA_QUEUE, queue_length=-1), "queue_length")
    reject(with_(CAMERA_QUEUE, queue_length=2.5), "queue_length")
    reject(with_(CAMERA_QUEUE, wait_seconds=-1), "wait_seconds")
    reject(with_(CAMERA_QUEUE, kind="crowd"), "kind")


@pytest.mark.parametrize("field", ["image", "face_crop", "embedding", "face_embedding", "jpeg"])
def test_biometric_fields_are_rejected_like_any_unknown_field(field: str) -> None:
    reject(with_(CAMERA_SENTIMENT, **{field: "AAAA"}), field, "unknown field")


@pytest.mark.parametrize("base", [KIOSK, QR, CAMERA_QUEUE])
def test_unknown_fields_are_rejected(base: dict[str, Any]) -> None:
    reject(with_(base, note="x"), "note", "unknown field")


# --- transport --------------------------------------------------------------------------------


def test_transport_level_rejections() -> None:
    reject(b"\xef\xbb\xbf" + raw(KIOSK), "byte order mark")
    reject(raw(KIOSK).replace(b"K-1", b"K-\xff"), "not valid UTF-8")
    reject(b"{not json", "not JSON")
    reject(b"", "not JSON")
    reject(b"[1, 2]", "JSON object")
    reject(b'"kiosk"', "JSON object")
    reject(raw(KIOSK)[:-1] + b', "value": 4}', "duplicate JSON key 'value'")
    reject(raw(CAMERA_SENTIMENT).replace(b"0.8", b"NaN"), "NaN is not a JSON number")
    reject(raw(CAMERA_SENTIMENT).replace(b"0.8", b"1e999"), "out of range")


def test_schema_must_be_known_and_match_the_topic() -> None:
    reject(without(KIOSK, "schema"), "unknown schema None")
    reject(with_(KIOSK, schema="kiosk_rating/2"), "unknown schema 'kiosk_rating/2'")
    reject(KIOSK, "not accepted on topic satisfaction.qr.v1", topic="satisfaction.qr.v1")
    reject(QR, "not accepted on topic satisfaction.kiosk.v1", topic="satisfaction.kiosk.v1")


def test_dead_letter_keeps_original_bytes_and_reason() -> None:
    original = b"\xff not even utf-8"
    at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    d = DeadLetter.for_message(
        topic="satisfaction.kiosk.v1",
        partition=3,
        offset=42,
        key=b"HN-1",
        value=original,
        error="value is not valid UTF-8",
        rejected_at=at,
    )
    wire = json.loads(d.to_json())
    assert wire == {
        "schema": "dead_letter/1",
        "source_topic": "satisfaction.kiosk.v1",
        "partition": 3,
        "offset": 42,
        "key": "HN-1",
        "raw": base64.b64encode(original).decode(),
        "error": "value is not valid UTF-8",
        "rejected_at": "2026-11-24T02:00:00Z",
    }
    assert base64.b64decode(wire["raw"]) == original

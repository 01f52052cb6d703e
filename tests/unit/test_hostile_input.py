"""Hostile bytes against the contract parser: each kind of poison message that used to
stop ingestion is a clear rejection, and no input of any kind makes the parser raise
anything but InvalidEvent (property tests with hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hailong import strictjson
from hailong.contract import parse_event
from hailong.errors import InvalidEvent
from hailong.http import json_loads_strict
from tests.unit.test_contract import CAMERA_QUEUE, CAMERA_SENTIMENT, KIOSK, QR

VALID = [KIOSK, QR, CAMERA_SENTIMENT, CAMERA_QUEUE]


def reason(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    return info.value.reason


def with_(base: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({**base, **fields}).encode()


def test_deep_nesting_is_a_rejection_not_a_recursion_error() -> None:
    for depth in (1_000, 5_000, 30_000):
        deep = b'{"schema": "kiosk_rating/1", "x": ' + b"[" * depth + b"]" * depth + b"}"
        assert "nested too deeply" in reason(deep) or "bytes (at most" in reason(deep)
    assert "nested too deeply" in reason(b"[" * 2_000 + b"]" * 2_000)


def test_a_huge_integer_anywhere_is_a_rejection() -> None:
    huge = "9" * 4_301
    raw = with_(KIOSK).replace(b'"value": 3', f'"value": {huge}'.encode())
    assert "a number of 4301 characters" in reason(raw)
    assert "a number of" in reason(b'{"x": ' + b"1" * 5_000 + b"}")
    assert "a number of" in reason(b'{"x": 1.' + b"1" * 100 + b"}")


def test_timestamps_whose_offset_leaves_the_calendar_are_rejections() -> None:
    for ts in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+00:01"):
        assert "occurred_at" in reason(with_(KIOSK, occurred_at=ts))


def test_times_outside_what_clickhouse_stores_are_rejections() -> None:
    for ts in (
        "1969-12-31T23:59:59Z",
        "1900-01-01T00:00:00+07:00",
        "2106-02-07T06:28:16Z",
        "9999-12-31T23:59:59Z",
    ):
        assert "outside the times the platform stores" in reason(with_(KIOSK, occurred_at=ts)), ts
    for ts in ("1970-01-01T00:00:00Z", "2106-02-07T06:28:15Z"):
        assert parse_event(with_(KIOSK, occurred_at=ts))
    assert "outside the times" in reason(with_(CAMERA_QUEUE, observed_at="2200-01-01T00:00:00Z"))


def test_a_queue_length_that_would_wrap_its_uint32_column_is_a_rejection() -> None:
    assert "queue_length" in reason(with_(CAMERA_QUEUE, queue_length=2**32 + 7))
    assert parse_event(with_(CAMERA_QUEUE, queue_length=2**32 - 1))


def test_a_value_over_the_size_limit_is_a_rejection_before_parsing() -> None:
    big = with_(QR, comment="x" * 800_000)
    assert f"{len(big):,} bytes (at most {strictjson.MAX_BYTES:,})" in reason(big)


def test_a_huge_unknown_schema_is_not_echoed_in_full() -> None:
    assert len(reason(with_(KIOSK, schema="s" * 50_000))) < 200


def test_http_bodies_get_the_same_limits_without_quoting_the_input() -> None:
    for body in (
        b"[" * 5_000 + b"]" * 5_000,
        b'{"n": ' + b"7" * 5_000 + b"}",
        b'{"secret-key": 1, "secret-key": 2}',
    ):
        with pytest.raises(ValueError) as info:
            json_loads_strict(body)
        assert "secret" not in str(info.value) and "777" not in str(info.value)


def _never_crashes(raw: bytes) -> None:
    try:
        parse_event(raw)
    except InvalidEvent:
        pass
    for topic in ("satisfaction.kiosk.v1", "satisfaction.qr.v1", "satisfaction.camera.v1"):
        try:
            parse_event(raw, topic)
        except InvalidEvent:
            pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2_000))
def test_any_bytes_give_an_event_or_a_rejection(raw: bytes) -> None:
    _never_crashes(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.sampled_from(sorted({k for v in VALID for k in v})), json_values)
def test_any_field_set_to_any_json_value_gives_an_event_or_a_rejection(
    base: dict[str, Any], field: str, value: Any
) -> None:
    _never_crashes(json.dumps({**base, field: value}).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.data())
def test_random_byte_mutations_of_valid_events_give_an_event_or_a_rejection(
    base: dict[str, Any], data: st.DataObject
) -> None:
    raw = bytearray(json.dumps(base).encode())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    _never_crashes(bytes(raw))

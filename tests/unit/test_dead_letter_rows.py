"""The dead_letters row the stream worker lands for each dead letter."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from streams.ingest import DEAD_LETTER_COLUMNS, Received, dead_letter_row, split

T = "test.x.satisfaction.kiosk.v1"


def test_a_row_keeps_the_exact_bytes_and_the_source_message() -> None:
    at = datetime(2026, 11, 24, 16, 59, 59, 250000, tzinfo=UTC)
    raw = b"\xff\xfe not UTF-8"
    dead = split([Received(T, 2, 41, b"OA", raw)], "test.x.", at).dead[0]
    row = dict(zip(DEAD_LETTER_COLUMNS, dead_letter_row(dead), strict=True))
    assert row == {
        "source_topic": T,
        "kafka_partition": 2,
        "kafka_offset": 41,
        "key": "OA",
        "raw": raw,
        "error": "value is not valid UTF-8 (byte 0)",
        "rejected_at": datetime(2026, 11, 24, 16, 59, 59, tzinfo=UTC),
        "rejected_at_us": 1795539599250000,
        "version": 2**64 - 1 - 1795539599250000,
    }


def test_the_first_rejection_of_a_message_has_the_highest_version() -> None:
    msg = Received(T, 0, 7, None, None)  # a tombstone: no key, no value
    at = datetime(2026, 11, 24, 3, tzinfo=UTC)
    first = dead_letter_row(split([msg], "test.x.", at).dead[0])
    replay = dead_letter_row(split([msg], "test.x.", at + timedelta(seconds=30)).dead[0])
    assert first[:6] == replay[:6] == (T, 0, 7, None, b"", first[5])
    assert first[-1] > replay[-1]  # ReplacingMergeTree keeps the first rejection


def test_a_dead_letter_too_large_for_the_topic_is_cut_with_its_size_and_digest() -> None:
    import hashlib

    from streams.ingest import DEAD_LETTER_RAW_MAX, dead_letter_message

    at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    small = b'{"x": 1}'
    big = b'{"dossier_id": "' + b"x" * 900_000 + b'"}'
    for raw in (small, big):
        dead = split([Received(T, 1, 9, b"OA", raw)], "test.x.", at).dead[0]
        key, value, headers = dead_letter_message(dead)
        letter = json.loads(value)
        assert key == b"OA" and len(value) < 400_000
        if raw is small:
            assert base64.b64decode(letter["raw"]) == small and headers == []
            continue
        digest = hashlib.sha256(big).hexdigest()
        assert base64.b64decode(letter["raw"]) == big[:DEAD_LETTER_RAW_MAX]
        assert dict(headers) == {
            "hailong-raw-bytes": b"900018",
            "hailong-raw-truncated": b"1",
            "hailong-raw-sha256": digest.encode(),
        }
        assert letter["error"].startswith(dead.error) and digest in letter["error"]
        assert base64.b64decode(dead.raw) == big  # the table keeps the whole value

"""The stream worker's pure parts: splitting a batch, and which buckets it touches."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

from hailong.contract import KioskRating
from hailong.counting import HOUR_US
from streams.ingest import Received, split
from tests.events import kiosk_press
from warehouse.buckets import epoch_us
from warehouse.kiosk import affected, raw_row

T = "test.x.satisfaction.kiosk.v1"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def rating(second: float, eid: int = 1, office: str = "O1") -> bytes:
    at = datetime(2026, 11, 24, 2, 59, 0, tzinfo=UTC).timestamp() + second
    return kiosk_press(
        office, "D1", datetime.fromtimestamp(at, UTC), value=4, event_id=uuid.UUID(int=eid)
    )


def test_split_routes_valid_and_invalid_and_keeps_every_copy() -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    msgs = [
        Received(T, 0, 10, b"O1", rating(0, 1)),
        Received(T, 0, 11, b"O1", b'{"schema": "kiosk_rating/1"}'),
        Received(T, 0, 12, b"O1", rating(0, 1)),  # resent: same event_id
        Received(T, 1, 5, None, rating(1, 2, "O2")),
    ]
    batch = split(msgs, "test.x.", now)
    # Copies are not decided here (by batch order) but by the claims.
    assert [(e.event_id.int, m.offset) for e, m in batch.kiosk] == [(1, 10), (1, 12), (2, 5)]
    assert len(batch.dead) == 1
    dead = batch.dead[0]
    assert (dead.source_topic, dead.partition, dead.offset, dead.key) == (T, 0, 11, "O1")
    assert base64.b64decode(dead.raw) == b'{"schema": "kiosk_rating/1"}'
    assert "event_id: Field required" in dead.error and dead.rejected_at == now


def test_a_null_value_is_a_dead_letter_not_a_crash() -> None:
    batch = split([Received(T, 2, 7, b"O1", None)], "test.x.", NOW)
    assert batch.kiosk == []
    assert (batch.dead[0].offset, batch.dead[0].raw) == (7, "")
    assert "null" in batch.dead[0].error


def test_split_rejects_a_schema_on_the_wrong_topic() -> None:
    batch = split([Received("test.x.satisfaction.qr.v1", 0, 1, b"O1", rating(0))], "test.x.", NOW)
    assert batch.kiosk == [] and "not accepted on topic satisfaction.qr.v1" in batch.dead[0].error


def test_raw_row_keeps_microseconds_and_prefers_the_earliest_offset() -> None:
    e = KioskRating.model_validate_json(rating(1.25))
    row_a, row_b = raw_row(e, 3, 100), raw_row(e, 3, 200)
    assert raw_row(e, 2, 100)[-1] > row_a[-1] > raw_row(e, 0, 101)[-1]  # (offset, partition)
    assert row_a[8] == epoch_us(e.occurred_at) == 1795489141250000
    assert row_a[7] == datetime(2026, 11, 24, 2, 59, 1, tzinfo=UTC)
    assert row_a[-1] > row_b[-1]  # ReplacingMergeTree keeps the highest version


def test_a_press_in_the_last_4_seconds_also_touches_the_next_hour() -> None:
    h2 = epoch_us(datetime(2026, 11, 24, 2, tzinfo=UTC))
    h3, h4 = h2 + HOUR_US, h2 + 2 * HOUR_US
    early = KioskRating.model_validate_json(rating(55))  # 02:59:55 → 02:59:59
    late = KioskRating.model_validate_json(rating(56.5))  # 02:59:56.5 → 03:00:00.5
    assert affected([early]) == {"O1": (h2, h3)}
    assert affected([late]) == {"O1": (h2, h4)}
    assert affected([early, KioskRating.model_validate_json(rating(61, 3))]) == {"O1": (h2, h4)}

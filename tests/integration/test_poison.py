"""Issue 12's six poison messages, each sent alone to a real worker on the real broker
and server, then valid events of 12 offices: the poison is dead-lettered with a clear
reason (in the topic and in `dead_letters`), and the 12 events are counted."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import uuid
from collections.abc import Callable

import pytest

from hailong.kafka import SIMULATOR, admin_client, deliver, make_producer
from hailong.settings import Settings
from tests.conftest import read_topic, wait_until
from tests.events import kiosk_press
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration

HEAD = b'{"schema": "kiosk_rating/1", "event_id": "' + str(uuid.UUID(int=1)).encode() + b'", '


def press(office: str, **fields: object) -> bytes:
    return kiosk_press(office, f"{office}-K1", "2026-10-14T09:00:00+07:00", **fields)


def delete_dead_letter_topic(s: Settings) -> None:
    admin = admin_client(s)
    admin.delete_topics([s.topics.deadletter])[s.topics.deadletter].result()
    wait_until(
        lambda: s.topics.deadletter not in admin.list_topics(timeout=10).topics,
        30,
        "the dead-letter topic to be gone",
    )


POISON: dict[str, tuple[bytes, str, Callable[[Settings], None] | None]] = {
    "deep-json": (HEAD + b'"x": ' + b"[" * 1_000 + b"]" * 1_000 + b"}", "nested too deeply", None),
    "huge-integer": (
        HEAD + b'"value": ' + b"9" * 4_301 + b"}",
        "a number of 4301 characters",
        None,
    ),
    "offset-overflow": (
        press("P", occurred_at="9999-12-31T23:59:59-23:59"),
        "outside the years 1-9999",
        None,
    ),
    "before-1970": (
        press("P", occurred_at="1969-07-20T20:17:40Z"),
        "outside the times the platform stores",
        None,
    ),
    "900-kb-value": (press("P", dossier_id="x" * 900_000), "bytes (at most 65,536)", None),
    "dead-letter-topic-deleted": (b"not json", "is not JSON", delete_dead_letter_topic),
}


@pytest.mark.parametrize("kind", list(POISON))
def test_one_poison_message_is_dead_lettered_and_ingestion_goes_on(
    settings: Settings, worker: subprocess.Popen[bytes], kind: str
) -> None:
    value, why, before = POISON[kind]
    offices = [f"OFF-{i:02d}" for i in range(12)]
    with Warehouse(settings) as wh:
        wait_until(lambda: worker.poll() is None, 5)
        if before is not None:
            before(settings)
        producer = make_producer(settings, SIMULATOR)
        deliver(producer, settings.topics.kiosk, [(b"P", value)])
        deliver(producer, settings.topics.kiosk, [(o.encode(), press(o)) for o in offices])

        def counted() -> int:
            return int(
                wh.execute(
                    "SELECT sum(k_n) FROM kiosk_hourly FINAL WHERE office_id IN %(o)s",
                    {"o": tuple(offices)},
                )[0][0]
                or 0
            )

        wait_until(lambda: counted() == 12, 90, f"the 12 offices' events after {kind}")
        assert worker.poll() is None, "the worker must survive"

        # its health file: caught up (lag 0), the poison and the 12 among what it landed
        # (written just after the batch lands, so it may trail the count by a moment)
        def health() -> dict[str, int] | None:
            paths = list((settings.stack_dir / "health").glob(f"{settings.consumer_group}-*.json"))
            assert len(paths) <= 1, paths
            return json.loads(paths[0].read_text()) if paths else None

        wait_until(
            lambda: (h := health()) is not None and h["lag"] == 0 and h["messages"] >= 13,
            30,
            "a health file: lag 0, 13 messages landed",
        )
        rows = wh.execute("SELECT raw, error FROM dead_letters FINAL")
        assert len(rows) == 1 and why in rows[0][1], rows[0][1][:300]
        raw = rows[0][0]
        assert (raw if isinstance(raw, bytes) else raw.encode()) == value  # kept whole
    letters = read_topic(settings, settings.topics.deadletter)
    assert len(letters) >= 1
    letter = json.loads(letters[0].value())
    assert why in letter["error"]
    sent = base64.b64decode(letter["raw"])
    if len(value) > 256 * 1024:  # cut in the topic, with its size and digest
        headers = dict(letters[0].headers() or [])
        assert sent == value[: 256 * 1024]
        assert headers["hailong-raw-bytes"] == str(len(value)).encode()
        assert headers["hailong-raw-sha256"] == hashlib.sha256(value).hexdigest().encode()
    else:
        assert sent == value


def test_a_row_the_warehouse_refuses_is_isolated_and_the_rest_lands(settings: Settings) -> None:
    """Defense in depth behind the contract: a value that passed validation but does not
    fit its column (here built past the validators: a negative UInt8, which the driver
    refuses; note that it silently wraps one too large, 300 → 44, which is why the
    contract bounds every integer to its column) is found by bisecting the batch; the
    other events of the batch land."""
    from datetime import UTC, datetime

    from hailong.contract import KioskRating
    from warehouse import landing
    from warehouse.channels import KIOSK

    at = datetime(2026, 10, 14, 2, tzinfo=UTC)
    good = [KioskRating.model_validate_json(press(f"OFF-{i:02d}")) for i in range(12)]
    bad = KioskRating.model_construct(
        **{**good[0].model_dump(), "event_id": uuid.uuid4(), "value": -1, "occurred_at": at}
    )
    messages = [landing.Message(KIOSK, e, 0, i) for i, e in enumerate([*good[:5], bad, *good[5:]])]
    with Warehouse(settings) as wh:
        plan = landing.plan(wh, messages)
        landing.record(wh, plan)
        refused = landing.insert_raw_isolating(wh, plan)
        landing.refresh(wh, plan)
        assert [m.event.event_id for m, _ in refused] == [bad.event_id]
        assert "does not fit its column" in refused[0][1] or "ClickHouse" in refused[0][1]
        assert wh.execute("SELECT count() FROM kiosk_ratings_raw")[0][0] == 12
        assert wh.execute("SELECT sum(k_n) FROM kiosk_hourly FINAL")[0][0] == 12

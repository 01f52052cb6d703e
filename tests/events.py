"""Made-up kiosk presses for tests that publish or land events by hand: the wire form
(contract ``kiosk_rating/1``, JSON as ``json.dumps`` writes it) and the raw row the stream
worker lands for one (through warehouse/kiosk.py's own row function, so a test's rows
cannot drift from the worker's columns)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from hailong.contract import KioskRating
from warehouse import kiosk


def kiosk_press(
    office: str,
    device: str,
    at: datetime | str,
    *,
    value: int = 5,
    scale: int = 5,
    event_id: uuid.UUID | str | None = None,
    **fields: object,
) -> bytes:
    """A press of ``device`` at ``at`` (a time, written with ``isoformat``, or the text
    itself) with a new event_id unless one is given; ``fields`` are added last (a field
    already there keeps its place and takes the new value)."""
    return json.dumps(
        {
            "schema": "kiosk_rating/1",
            "event_id": str(event_id or uuid.uuid4()),
            "office_id": office,
            "device_id": device,
            "occurred_at": at if isinstance(at, str) else at.isoformat(),
            "scale": scale,
            "value": value,
            **fields,
        }
    ).encode()


def kiosk_raw(
    office: str,
    device: str,
    at: datetime,
    value: int,
    *,
    offset: int = 0,
    counter: str | None = None,
    staff: str | None = None,
) -> tuple[Any, ...]:
    """The ``kiosk_ratings_raw`` row (``kiosk.RAW_COLUMNS``) of a press on a 5-level
    device at ``at``, a new event_id, read at ``offset`` of partition 0."""
    event = KioskRating(
        schema_="kiosk_rating/1",
        event_id=uuid.uuid4(),
        office_id=office,
        device_id=device,
        counter_id=counter,
        staff_id=staff,
        occurred_at=at,
        scale=5,
        value=value,
    )
    return kiosk.raw_row(event, 0, offset)

"""A rating device at a counter: each press becomes a ``kiosk_rating/1`` event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hailong.contract import KioskRating


class KioskDevice:
    """One kiosk with 3, 4 or 5 buttons, standing at a counter of an office."""

    def __init__(self, office_id: str, device_id: str, scale: int = 4,
                 counter_id: str | None = None, staff_id: str | None = None) -> None:
        self.office_id = office_id
        self.device_id = device_id
        self.scale = scale
        self.counter_id = counter_id
        self.staff_id = staff_id

    def press(self, value: int, at: datetime | None = None,
              event_id: uuid.UUID | None = None) -> KioskRating:
        """The event of one press (validated: a wrong value raises at once)."""
        return KioskRating.model_validate({
            "schema": "kiosk_rating/1",
            "event_id": event_id or uuid.uuid4(),
            "office_id": self.office_id,
            "device_id": self.device_id,
            "counter_id": self.counter_id,
            "staff_id": self.staff_id,
            "occurred_at": at or datetime.now(UTC),
            "scale": self.scale,
            "value": value,
        })

"""Device health (warehouse/devices.py): which messages make a device's last-seen row,
and the silence rule of the view device_health, at fixed times (Hanoi, UTC+7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from warehouse.buckets import epoch_us
from warehouse.device_health import seen_rows, silent

HANOI = timedelta(hours=7)


def at(text: str) -> datetime:
    """A Hanoi wall-clock time as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) - HANOI


def us(text: str) -> int:
    return epoch_us(at(text))


def test_silent_only_in_office_hours_and_counted_from_the_opening() -> None:
    # Tuesday 2026-11-24
    assert not silent(0, at("2026-11-24T07:29:00"), 60)  # before opening
    assert not silent(0, at("2026-11-24T08:30:00"), 60)  # 60 min since opening
    assert silent(0, at("2026-11-24T08:31:00"), 60)  # never seen: > 60 min
    assert not silent(us("2026-11-24T09:00:00"), at("2026-11-24T09:59:00"), 60)
    assert silent(us("2026-11-24T09:00:00"), at("2026-11-24T10:01:00"), 60)
    # seen yesterday: counted from today's opening, not from yesterday
    assert not silent(us("2026-11-23T16:00:00"), at("2026-11-24T08:00:00"), 60)
    assert not silent(0, at("2026-11-24T17:00:00"), 60)  # closed at 17:00
    assert silent(0, at("2026-11-24T16:59:00"), 60)
    assert not silent(0, at("2026-11-28T10:00:00"), 60)  # Saturday
    assert not silent(0, at("2026-11-29T10:00:00"), 60)  # Sunday


def test_seen_rows_keep_each_devices_latest_message_and_its_clock() -> None:
    now = us("2026-11-24T10:00:00")
    rows = seen_rows(
        [
            ("K1", "HN-1", "kiosk", us("2026-11-24T09:00:00"), us("2026-11-24T09:00:30")),
            ("K1", "HN-1", "kiosk", us("2026-11-24T09:05:00"), us("2026-11-24T08:00:00")),
            ("C1", "HN-1", "camera", None, us("2026-11-24T09:59:00")),
        ],
        now,
    )
    assert rows == [
        ("C1", "HN-1", "camera", now, us("2026-11-24T09:59:00"), -60.0),
        # latest by the broker; skew: the most ahead of its messages (+30 s, live)
        ("K1", "HN-1", "kiosk", us("2026-11-24T09:05:00"), us("2026-11-24T08:00:00"), 30.0),
    ]
    assert seen_rows([], now) == []

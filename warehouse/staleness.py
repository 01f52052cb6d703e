"""Stale rankings: a late event counted in a period whose ranking is published.

A late but plausible event counts (a kiosk that was offline for 3 days sends its
presses when it is back). When its month or year has a published ranking, that ranking
no longer shows all the events it covers: :func:`note_late` records the event in
``late_events`` for each such period, after its buckets were refreshed. The view
``stale_rankings`` lists the periods with events landed since their ranking was
computed, and ``ranking_monthly``/``ranking_annual`` show it per row (``stale``,
``late_events``); ``hailong rank`` prints it. Re-running the period's ranking clears it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple
from uuid import UUID

from hailong.methodology import LOCAL_TZ
from warehouse.buckets import epoch_us
from warehouse.client import Warehouse

LATE_COLUMNS = ("period", "event_id", "channel", "office_id", "landed_at", "landed_at_us")


class Landed(NamedTuple):
    """An event that counts from now on: its id, channel, office and time (UTC µs)."""

    event_id: UUID
    channel: str
    office_id: str
    at_us: int


class Stale(NamedTuple):
    period: str
    published_at: datetime
    late_events: int
    offices: int
    first_late_at: datetime
    last_late_at: datetime


def periods_of(at_us: int) -> tuple[str, str]:
    """The month ('YYYY-MM') and year ('YYYY') of a time, in Hanoi."""
    local = datetime.fromtimestamp(at_us / 1_000_000, LOCAL_TZ)
    return f"{local:%Y-%m}", f"{local:%Y}"


def published(wh: Warehouse) -> set[str]:
    """The periods that have a published ranking."""
    return {p for (p,) in wh.execute("SELECT DISTINCT period FROM rankings")}


def note_late(wh: Warehouse, events: Iterable[Landed], now: datetime) -> int:
    """Record the events among ``events`` that fall in a published period; returns the
    number of rows written (an event in a published month of a published year: 2)."""
    events = list(events)
    if not events:
        return 0
    periods = published(wh)
    if not periods:
        return 0
    landed_us = epoch_us(now)
    at = datetime.fromtimestamp(landed_us // 1_000_000, UTC).replace(tzinfo=None)
    rows = [
        (period, e.event_id, e.channel, e.office_id, at, landed_us)
        for e in events
        for period in periods_of(e.at_us)
        if period in periods
    ]
    if rows:
        wh.insert("late_events", LATE_COLUMNS, rows)
    return len(rows)


def stale(wh: Warehouse) -> list[Stale]:
    """The published rankings with events landed since they were computed."""
    return [
        Stale(*row)
        for row in wh.execute(
            "SELECT period, published_at, late_events, offices, first_late_at, last_late_at "
            "FROM stale_rankings ORDER BY period"
        )
    ]

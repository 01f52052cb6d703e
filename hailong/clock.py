"""The one clock: how time enters Hailong.

Every part that needs the time of day (a token's expiry, a press's timestamp, when a
dead letter was rejected, the default range of ``hailong reconcile``) is handed a
:class:`Clock` and asks it; nothing reads ``datetime.now()`` or ``time.time()`` behind
its caller's back. Production code uses :data:`SYSTEM`; a test that fixes a time passes
a :class:`TestingClock`, so no test depends on today's date (CI runs the unit tests
shifted 400 days either way with ``faketime`` to prove it).

Modelled on getsentry/arroyo's ``arroyo.utils.clock`` (``Clock``, ``SystemClock``,
``MockedClock``), with the aware-``datetime`` view Hailong's contract works in.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall time (for what happened when) and monotonic time (for how long to wait)."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def time(self) -> float:
        """The current time in seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences mean anything)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait this long."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM: Clock = SystemClock()


class TestingClock:
    """A clock that stands still until told to move: ``sleep`` and ``advance`` move it."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("TestingClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def time(self) -> float:
        return self._now.timestamp()

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

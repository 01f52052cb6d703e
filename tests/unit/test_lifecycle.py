"""The stream worker's end: a watchdog after SIGTERM, and a dead agent ends the process."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from hailong.clock import TestingClock
from streams.lifecycle import (
    AGENT_DIED,
    STOPPED_BY_WATCHDOG,
    Health,
    agent_died,
    grace_s,
    start_watchdog,
)


def test_the_grace_period_ends_inside_the_session_timeout() -> None:
    for session in (6.0, 8.0, 60.0):
        assert 1.0 <= grace_s(session) < session


def test_the_watchdog_exits_the_process_when_its_time_is_up() -> None:
    codes: list[int] = []
    fired = threading.Event()

    def exit_(code: int) -> None:
        codes.append(code)
        fired.set()

    start_watchdog(0.05, exit_)
    assert fired.wait(10)
    assert codes == [STOPPED_BY_WATCHDOG]
    # cancelled in time (the process ended by itself): nothing happens
    quiet = start_watchdog(30, exit_)
    quiet.cancel()
    quiet.join(1)
    assert codes == [STOPPED_BY_WATCHDOG]


def test_a_dead_agent_ends_the_process_with_its_own_status() -> None:
    codes: list[int] = []
    agent_died(RuntimeError("boom"), codes.append)
    assert codes == [AGENT_DIED]


def test_the_health_file_says_when_the_worker_last_landed_and_how_far_behind_it_is(
    tmp_path: Path,
) -> None:
    clock = TestingClock(datetime(2026, 10, 14, 2, tzinfo=UTC))
    health = Health(tmp_path / "health" / "g-1.json", clock)
    ends = {("t.kiosk", 0): 100, ("t.kiosk", 3): 40}
    health.landed(60, {("t.kiosk", 0): 49, ("t.kiosk", 3): 9}, lambda t, p: ends[(t, p)])
    clock.advance(5)
    record = health.landed(30, {("t.kiosk", 0): 79}, lambda t, p: ends.get((t, p)))
    assert record == json.loads(health.path.read_text())
    assert record["lag"] == (100 - 80) + (40 - 10)
    assert record["last_landed_at"] == "2026-10-14T02:00:05+00:00"
    assert (record["batches"], record["messages"], record["partitions"]) == (2, 90, 2)
    # a partition whose end is unknown (revoked) does not count
    assert health.landed(0, {}, lambda t, p: None)["lag"] == 0

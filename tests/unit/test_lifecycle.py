"""The stream worker's end: a watchdog after SIGTERM, and a dead agent ends the process."""

from __future__ import annotations

import threading

from streams.lifecycle import AGENT_DIED, STOPPED_BY_WATCHDOG, agent_died, grace_s, start_watchdog


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

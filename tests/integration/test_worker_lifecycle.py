"""A worker stuck in a retry loop (ClickHouse unreachable) stops within the session
timeout on SIGTERM; a real worker process, a real broker."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.settings import Settings
from infra.worker import start_worker
from tests.conftest import wait_until
from tests.events import kiosk_press

pytestmark = pytest.mark.integration


def test_sigterm_ends_a_worker_stuck_retrying_within_the_session_timeout(
    settings: Settings, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    # nothing listens on port 9: every write fails
    proc = start_worker(settings, log_path, env={"HAILONG_CLICKHOUSE_LOCAL_PORT": "9"})
    try:
        deliver(
            make_producer(settings, SIMULATOR),
            settings.topics.kiosk,
            [(b"OA", kiosk_press("OA", "K1", "2026-10-14T09:00:00+07:00"))],
        )
        wait_until(
            lambda: b"retrying in" in log_path.read_bytes(),
            90,
            "the worker to be stuck retrying",
        )
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(settings.session_timeout_s + 30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < settings.session_timeout_s, (took, log_path.read_text()[-3000:])
    assert code in (0, 143, -15), code
    print(
        f"SIGTERM while retrying: exited {code} after {took:.1f} s "
        f"(session timeout {settings.session_timeout_s:.0f} s)"
    )

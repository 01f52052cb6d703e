"""A worker stuck in a retry loop (ClickHouse unreachable) stops within the session
timeout on SIGTERM; a real worker process, a real broker."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.settings import Settings
from infra.stack import default_signals
from tests.conftest import settings_env, wait_until

pytestmark = pytest.mark.integration


def test_sigterm_ends_a_worker_stuck_retrying_within_the_session_timeout(
    settings: Settings, tmp_path: Path
) -> None:
    env = settings_env(settings)
    env["HAILONG_CLICKHOUSE_LOCAL_PORT"] = "9"  # nothing listens: every write fails
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hailong.cli", "stream"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=default_signals,
        )
        try:
            deliver(
                make_producer(settings, SIMULATOR),
                settings.topics.kiosk,
                [
                    (
                        b"OA",
                        json.dumps(
                            {
                                "schema": "kiosk_rating/1",
                                "event_id": str(uuid.uuid4()),
                                "office_id": "OA",
                                "device_id": "K1",
                                "occurred_at": "2026-10-14T09:00:00+07:00",
                                "scale": 5,
                                "value": 5,
                            }
                        ).encode(),
                    )
                ],
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

"""Fixtures. Integration tests run against the real local stack (Kafka broker and
ClickHouse server), started here if it is not running and stopped again at the end if
this session started it. Each test gets a fresh database and fresh topics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hailong.settings import Settings, load_settings
from infra.worker import running_worker


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    return load_settings()


@contextmanager
def stack_up(settings: Settings) -> Iterator[Settings]:
    """The stack of ``settings`` (single node or cluster profile) up inside the block;
    stopped after unless it was running already or HAILONG_KEEP_STACK is set."""
    from infra.stack import Stack

    st = Stack(settings)
    was_running = all(s.running for s in st.status())
    st.install()
    st.start()
    try:
        yield settings
    finally:
        if not was_running and not os.environ.get("HAILONG_KEEP_STACK"):
            st.stop()


@pytest.fixture(scope="session")
def stack(stack_settings: Settings) -> Iterator[Settings]:
    """The real Kafka and ClickHouse, up for the whole session."""
    with stack_up(stack_settings) as s:
        yield s


@pytest.fixture
def settings(stack: Settings) -> Iterator[Settings]:
    """Settings with a fresh database (migrated) and a fresh topic prefix, both removed after."""
    from tests.scratch import scratch

    with scratch(
        f"test_{uuid.uuid4().hex[:10]}",
        batch_within_s=0.2,
        session_timeout_s=8,
        retry_backoff_max_s=1,
        # Tests send events of fixed dates and made-up offices: the horizon
        # and registry rules are off here, on in tests/integration/
        # test_quarantine.py (the key and skew rules stay on everywhere).
        late_horizon_days=0,
        quarantine_unregistered=False,
        # unsigned test events: signatures are checked in test_devices.py
        require_signatures=False,
    ) as s:
        yield s


def reconfigured(settings: Settings, **changes: Any) -> Settings:
    """``settings`` (a test's database, topics and group) with ``changes``, loaded anew:
    a model_copy would keep the cached topics of the original."""
    given = {n: getattr(settings, n) for n in settings.model_fields_set}
    return load_settings(**{**given, **changes})


def hailong(s: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``hailong ARGS`` as a child process with ``s``'s environment (5 minutes at most)."""
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "hailong.cli", *args],
        env=s.child_environment(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def own_stack(tmp_path: Path, shared: Settings, port: int = 29092) -> Settings:
    """Settings of a second stack in a temp dir, on ports of its own (Kafka on ``port``,
    its controller on ``port + 1``, its own listener on ``port + 2``, ClickHouse on
    ``port - 92`` and ``port - 969``);
    reuses the installed Kafka jars. For tests that stop and start services.

    Every port must stay below Linux's ephemeral range (32768-60999): a port in it can be
    held at any moment by some client socket of the suite, and the broker then fails to
    start with "Address already in use" (a CI run failed so on 39092)."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    low = int(ephemeral[0])
    assert port + 2 < low, f"own_stack port {port}+2 is in the ephemeral range from {low}"
    (tmp_path / "kafka").mkdir(parents=True)
    shutil.copytree(shared.stack_dir / "kafka" / "libs", tmp_path / "kafka" / "libs", symlinks=True)
    return load_settings(
        stack_dir=tmp_path,
        kafka_port=port,
        kafka_controller_port=port + 1,
        kafka_internal_port=port + 2,
        clickhouse_local_port=port - 92,
        clickhouse_http_port=port - 969,
    )


def register_device(
    s: Settings, device: str, kind: str, office: str, out: Path, *more: str
) -> None:
    """``hailong devices register`` of ``device`` (a ``kind``, of ``office`` unless that
    is empty), its config written to ``out``; ``more``: further options."""
    office_option = ["--office", office] if office else []
    options = ["--device", device, "--kind", kind, *office_option, "--out", str(out), *more]
    done = hailong(s, "devices", "register", *options)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real stream worker for this test's topics and database."""
    with running_worker(settings, tmp_path / "worker.log") as proc:
        yield proc


def wait_until(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every message of a topic, from the beginning (a fresh group, nothing committed)."""
    from confluent_kafka import Consumer, TopicPartition

    from hailong.kafka import ADMIN, client_config

    consumer = Consumer(
        {
            **client_config(settings, ADMIN),
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out, idle = [], 0
        while idle < 6:  # 3 s without a message: the end
            msg = consumer.poll(0.5)
            if msg is None:
                idle += 1
            elif msg.error() is None:
                out.append(msg)
        return out
    finally:
        consumer.close()


@pytest.fixture
def chdb_wh(tmp_path: Path) -> Iterator[Any]:
    """The current ClickHouse engine in-process, with an empty database."""
    from tests.chdb_warehouse import ChdbWarehouse

    wh = ChdbWarehouse(str(tmp_path / "chdb"))
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture
def chdb_schema(chdb_wh: Any) -> Any:
    """chdb with the platform's schema and the default weights."""
    from hailong.methodology import Weights
    from warehouse.migrate import migrate, record_weights

    migrate(chdb_wh, progress=lambda _m: None)
    record_weights(chdb_wh, Weights())
    return chdb_wh

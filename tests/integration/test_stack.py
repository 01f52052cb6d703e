"""The local stack's lifecycle on real processes: data survives stop/start, reset wipes
it, and services pointed at an existing cluster are not started locally."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from hailong.kafka import ADMIN, account_password
from hailong.settings import Settings, load_settings
from infra.stack import Stack
from producers.publisher import Publisher
from tests.conftest import own_stack, read_topic
from warehouse.client import Warehouse, create_database

pytestmark = pytest.mark.integration


def test_restart_keeps_data_and_reset_wipes_it(stack: Settings, tmp_path: Path) -> None:
    s = own_stack(tmp_path, stack)
    st = Stack(s)
    log: list[str] = []
    # Started from a job that ignores SIGTERM (nohup, some CI runners), the services must
    # still stop gracefully on `stop`, not be killed after a timeout.
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        st.start(log.append)
        assert "kafka: formatting storage (first start) ..." in log
        assert {x.name: x.running for x in st.status()} == {"kafka": True, "clickhouse": True}
        create_database(s)
        with Warehouse(s) as wh:
            wh.execute("CREATE TABLE kept (x UInt32) ENGINE = MergeTree ORDER BY x")
            wh.insert("kept", ["x"], [(1,), (2,), (3,)])
        publisher = Publisher(s, role=ADMIN)  # dead letters: only the worker (or admin)
        publisher.publish_raw(s.topics.deadletter, [(b"k", b"survives a restart")])
        publisher.close()

        st.stop(log.append)
        assert not any(x.running for x in st.status())
        assert not [line for line in log if "did not stop" in line], log
        log.clear()
        st.start(log.append)
        assert "kafka: formatting storage (first start) ..." not in log  # same storage
        st.start(log.append)  # starting again is a no-op
        assert "kafka: already running" in " ".join(log)
        with Warehouse(s) as wh:
            assert wh.execute("SELECT sum(x) FROM kept") == [(6,)]
        assert [m.value() for m in read_topic(s, s.topics.deadletter)] == [b"survives a restart"]

        st.reset(log.append)
        assert not (tmp_path / "clickhouse" / "data").exists()
        assert not (tmp_path / "kafka" / "data").exists()
        st.start(log.append)
        with Warehouse(s, database="default") as wh:
            assert wh.execute("EXISTS TABLE hailong.kept") == [(0,)]
        assert read_topic(s, s.topics.deadletter) == []
    finally:
        signal.signal(signal.SIGTERM, previous)
        st.stop(lambda _m: None)


def test_existing_cluster_is_used_not_started(stack: Settings, tmp_path: Path) -> None:
    # Point at the running shared stack as if it were a city's existing cluster.
    # An existing cluster takes its account and CA from the settings.
    s = load_settings(
        stack_dir=tmp_path,
        kafka_bootstrap=stack.bootstrap_servers,
        kafka_user="hailong.admin",
        kafka_ca_file=stack.kafka_ca,
        kafka_password=account_password(stack, "admin"),
        clickhouse_host="127.0.0.1",
        clickhouse_port=stack.ch_port,
    )
    st = Stack(s)
    log: list[str] = []
    st.start(log.append)
    assert "kafka: external, not started here" in log
    assert "clickhouse: external, not started here" in log
    assert not (tmp_path / "kafka" / "pid").exists()
    assert not (tmp_path / "clickhouse" / "pid").exists()
    assert [(x.name, x.mode, x.running) for x in st.status()] == [
        ("kafka", "external", True),
        ("clickhouse", "external", True),
    ]
    st.stop(log.append)  # leaves the external services alone
    assert all(x.running for x in st.status())


def test_failed_start_reports_the_log_tail(stack: Settings, tmp_path: Path) -> None:
    from hailong.errors import ServiceNotReady

    # The shared Kafka broker holds its port: a ClickHouse told to listen there cannot.
    s = load_settings(
        stack_dir=tmp_path,
        clickhouse_local_port=stack.kafka_port,
        clickhouse_http_port=28124,
        service_timeout_s=30,
    )
    st = Stack(s)
    with pytest.raises(ServiceNotReady) as info:
        st.clickhouse.start(lambda _m: None)
    assert "clickhouse exited during start-up" in str(info.value)
    assert "Address already in use" in str(info.value) or "bind" in str(info.value).lower()
    st.clickhouse.stop(lambda _m: None)

"""Issue 18's acceptance run: the cluster profile (three Kafka brokers, ClickHouse as 2
shards x 2 replicas on ZooKeeper) and three stream workers in one group, with traffic
flowing while, in turn, a broker is SIGKILLed and brought back, the first replica of
each shard is stopped and started again, a worker is SIGKILLed and another started,
and a worker is cut off the network (it runs in a network namespace of the test's own,
tests/netns.py, whose link is taken down for a while).

Afterwards every valid event is in raw exactly once (lost 0, duplicates 0), every
invalid one in the dead-letter topic, the reused QR tokens counted zero times, the
streamed buckets equal the recount from raw (``reconcile``), and the month's ranking
equals, row for row and checksum for checksum, the one a single-node stack computes
from the same events with one worker.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hailong.contract import CameraObservation, KioskRating, QrSurvey
from hailong.errors import WarehouseError
from hailong.settings import (
    Settings,
    cluster_clickhouse_ports,
    cluster_kafka_ports,
)
from infra.stack import ClickHouse, Kafka, Stack
from infra.worker import WORKER_COMMAND, start_worker, stop_worker
from pipelines.ranking import Period
from pipelines.ranking_store import read_ranking
from producers.publisher import Publisher
from producers.simulator import Traffic, city_traffic, hanoi_offices
from tests.conftest import hailong, read_topic, wait_until
from tests.netns import Namespace
from tests.scratch import scratch
from warehouse.client import ALL_REPLICAS_ARE_STALE, Warehouse
from warehouse.reconcile import describe, reconcile
from warehouse.registry import load_hanoi

pytestmark = pytest.mark.cluster

RAW = {"kiosk": "kiosk_ratings_raw", "qr": "qr_surveys_raw", "camera": "camera_observations_raw"}
START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
MONTH = "2026-10"
# The test's settings, as the suite's (tests/conftest.py): unsigned events of fixed
# dates; short batches, session timeout and retries, so each fault is over in seconds.
TEST_SETTINGS = {
    "batch_within_s": 0.2,
    "session_timeout_s": 8,
    "retry_backoff_max_s": 1,
    "late_horizon_days": 0,
    "quarantine_unregistered": False,
    "require_signatures": False,
}


def _traffic() -> Traffic:
    return city_traffic(
        hanoi_offices(),
        40_000,
        START,
        END,
        seed=18,
        invalid=200,
        resent=600,
        reused_tokens=80,
        misuse_bursts=10,
        late=100,
    )


def _expected(traffic: Traffic) -> dict[str, set[uuid.UUID]]:
    valid = traffic.events + traffic.late + traffic.reused_tokens
    return {
        "kiosk": {e.event_id for e in valid if isinstance(e, KioskRating)},
        "qr": {e.event_id for e in valid if isinstance(e, QrSurvey)},
        "camera": {e.event_id for e in valid if isinstance(e, CameraObservation)},
    }


def _publish(settings: Settings, traffic: Traffic, chunks: int = 1, pause_s: float = 0) -> None:
    """The traffic, in ``chunks`` with ``pause_s`` between them (flowing during the
    faults), then the late, resent and reused-token events and the invalid ones."""
    publisher = Publisher(settings)
    size = -(-len(traffic.events) // chunks)
    for i in range(0, len(traffic.events), size):
        publisher.publish(traffic.events[i : i + size])
        time.sleep(pause_s)
    publisher.publish(traffic.late + traffic.resent + traffic.reused_tokens)
    topic = {"kiosk": settings.topics.kiosk, "qr": settings.topics.qr}
    topic["camera"] = settings.topics.camera
    for channel, value in traffic.invalid:
        publisher.publish_raw(topic[channel], [(b"HN-00004", value)])
    publisher.close()


def _landed(wh: Warehouse) -> int | None:
    """Raw rows so far; None while a shard refuses reads: its first replica is stopped
    and the other had not fetched its last inserts (ALL_REPLICAS_ARE_STALE, as designed:
    CLUSTER_SETTINGS), until the first is back."""
    try:
        return sum(wh.execute(f"SELECT count() FROM {t}")[0][0] for t in RAW.values())
    except WarehouseError as exc:
        if exc.code != ALL_REPLICAS_ARE_STALE:
            raise
        return None


def _all_landed(wh: Warehouse, expected: dict[str, set[uuid.UUID]]) -> bool:
    try:
        return all(
            wh.execute(f"SELECT uniqExact(event_id) FROM {RAW[ch]}")[0][0] == len(ids)
            for ch, ids in expected.items()
        )
    except WarehouseError as exc:
        if exc.code != ALL_REPLICAS_ARE_STALE:
            raise
        return False


def _ranking(s: Settings) -> list[dict[str, object]]:
    done = hailong(s, "rank", "--month", MONTH)
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "Exception" in line]
    assert done.returncode == 0, "\n".join(errors[:5]) or done.stderr[-3000:]
    with Warehouse(s) as wh:
        rows = [asdict(r) for r in read_ranking(wh, Period.parse(MONTH))]
    for row in rows:
        row.pop("computed_at")
    return rows


def test_faults_lose_nothing_count_nothing_twice_and_rank_as_one_node(
    cluster: Settings, stack: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def say(line: str) -> None:
        with capsys.disabled():
            print(f"\n[cluster] {line}", end="", flush=True)

    traffic = _traffic()
    expected = _expected(traffic)
    total = sum(map(len, expected.values()))
    st = Stack(cluster)
    brokers = [s for s in st.services if isinstance(s, Kafka)]
    servers = [s for s in st.services if isinstance(s, ClickHouse)]
    name = f"test_{uuid.uuid4().hex[:10]}"
    with scratch(name, cluster=True, **TEST_SETTINGS) as s:
        with Warehouse(s) as wh:
            load_hanoi(wh)
        publisher = threading.Thread(target=_publish, args=(s, traffic, 12, 6.0))
        ports = [*cluster_kafka_ports(), *cluster_clickhouse_ports()]
        with Namespace("hlw" + name[-4:], ports, 18) as ns:
            logs = tmp_path / "workers"
            workers = {
                "w1": start_worker(s, logs / "w1.log", command=ns.command(*WORKER_COMMAND)),
                "w2": start_worker(s, logs / "w2.log"),
                "w3": start_worker(s, logs / "w3.log"),
            }
            publisher.start()
            wh = Warehouse(s)
            try:

                def at(fraction: float) -> None:
                    goal = fraction * total
                    wait_until(lambda: (_landed(wh) or 0) >= goal, 240, f"{fraction:.0%}")

                at(0.1)
                broker = brokers[1]
                pid = broker.pid()
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                say(f"SIGKILLed {broker.name} at {_landed(wh)} raw rows")
                time.sleep(8)
                broker.start(lambda _m: None)
                say(f"{broker.name} is back")

                for server in (servers[0], servers[2]):  # the first replica of each shard
                    at(0.2 if server is servers[0] else 0.3)
                    server.stop(lambda _m: None)
                    say(f"stopped {server.name} at {_landed(wh)} raw rows")
                    time.sleep(8)
                    server.start(lambda _m: None)
                    say(f"{server.name} is back")
                wh = Warehouse(s)  # its server was one of them

                at(0.45)
                workers["w2"].send_signal(signal.SIGKILL)
                workers["w2"].wait()
                workers["w4"] = start_worker(s, logs / "w4.log")
                say(f"SIGKILLed worker w2 at {_landed(wh)} raw rows, started w4")

                at(0.6)
                ns.cut()
                say(f"cut worker w1 off the network at {_landed(wh)} raw rows")
                time.sleep(20)
                assert workers["w1"].poll() is None, "a worker cut off must wait, not die"
                ns.restore()
                say(f"w1's link is back at {_landed(wh)} raw rows")

                publisher.join(300)
                wait_until(lambda: _all_landed(wh, expected), 300, "every valid event")
                time.sleep(3)  # the last batches' bucket refreshes
            finally:
                for proc in workers.values():
                    if proc.poll() is None:
                        stop_worker(proc)
                publisher.join(60)
                st.start(lambda _m: None)  # whatever a failed step left stopped

        for channel, ids in expected.items():
            rows = wh.execute(f"SELECT event_id FROM {RAW[channel]} FINAL")
            assert len(rows) == len(ids), channel  # duplicates 0
            assert {r[0] for r in rows} == ids, channel  # lost 0
            say(f"{channel}: {len(ids)} valid events, each once")
        letters = [json.loads(m.value()) for m in read_topic(s, s.topics.deadletter)]
        assert {(d["source_topic"], d["partition"], d["offset"]) for d in letters}
        assert {base64.b64decode(d["raw"]) for d in letters} == {v for _, v in traffic.invalid}
        assert wh.execute("SELECT sum(q_duplicates) FROM qr_hourly FINAL") == [
            (len(traffic.reused_tokens),)
        ]
        report = reconcile(wh, START, END)
        describe(report, say)
        assert report.clean
        assert report.raw_events == total
        wh.close()
        clustered = _ranking(s)

    with scratch(f"test_{uuid.uuid4().hex[:10]}", **TEST_SETTINGS) as one:
        with Warehouse(one) as wh:
            load_hanoi(wh)
        _publish(one, traffic)
        worker = start_worker(one, tmp_path / "single.log")
        try:
            with Warehouse(one) as wh:
                wait_until(lambda: _all_landed(wh, expected), 300, "every event, one node")
            time.sleep(3)
        finally:
            stop_worker(worker)
        single = _ranking(one)

    assert len(clustered) == len(single) > 100
    assert clustered == single
    ranked = sum(1 for r in single if r["rank"] is not None)
    say(f"ranking of {MONTH}: {len(single)} rows ({ranked} ranked), identical to one node's")


def test_the_netns_plumbing_carries_and_cuts(tmp_path: Path) -> None:
    """The namespace reaches a host port through its forwarders, and not when cut."""
    import socket
    import sys

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        probe = (
            f"import socket;s=socket.create_connection(('127.0.0.1',{port}),3);"
            "s.sendall(b'ping');print(s.recv(4).decode())"
        )

        with Namespace("hlwtest", [port], 19) as ns:
            child = subprocess.Popen(  # noqa: S603
                ns.command(sys.executable, "-c", probe), stdout=subprocess.PIPE, text=True
            )
            conn, _ = server.accept()
            assert conn.recv(4) == b"ping"
            conn.sendall(b"pong")
            assert child.communicate(timeout=10)[0].strip() == "pong"
            ns.cut()
            cut = subprocess.run(  # noqa: S603
                ns.command(sys.executable, "-c", probe), capture_output=True, timeout=30
            )
            # Nothing gets through: the probe times out or its connection is closed.
            assert cut.returncode != 0 or cut.stdout.strip() != b"pong"

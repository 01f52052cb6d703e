"""The kiosk client on real processes and a real broker: killed at random moments while
the broker is stopped and started again, it still delivers every acknowledged press to
Kafka, with its original event_id and occurred_at; a press sent twice (its round was
interrupted) is sent as the same bytes, which the worker counts once
(test_kiosk_path.py). The kiosk only writes: it never reads the topic."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from hailong.settings import Settings
from infra.stack import Kafka, default_signals
from infra.topics import ensure_topics
from producers.kiosk import Forwarder, KioskClient, KioskDevice, Spool
from tests.conftest import own_stack, read_topic, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(stack: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A broker of its own (port 27092), so the test can stop and start it."""
    s = own_stack(tmp_path / "stack", stack, port=27092)
    kafka = Kafka(s)
    kafka.start(lambda _m: None)
    ensure_topics(s, progress=lambda _m: None)

    probe = Forwarder(s, tmp_path / "probe.sqlite")
    wait_until(probe.reachable, 30, "partition leaders of the new topics")
    yield s
    kafka.stop(lambda _m: None)


class KioskProcess:
    """``hailong kiosk`` as a child process, pressed through its stdin."""

    def __init__(self, s: Settings, spool: Path, log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "hailong.cli",
                "kiosk",
                "--office",
                "HN-00004",
                "--device",
                "K-chaos",
                "--counter",
                "Q1",
                "--spool",
                str(spool),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=s.child_environment(),
            preexec_fn=default_signals,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout is not None
        banner = self.proc.stdout.readline()
        assert banner.startswith("kiosk K-chaos"), banner

    def press(self, value: int) -> tuple[str, str] | None:
        """The (event_id, occurred_at) the kiosk acknowledged, or None if it died."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(f"{value}\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            return None
        line = self.proc.stdout.readline()
        if not line.startswith("stored "):
            return None
        _, event_id, occurred_at = line.split()
        return event_id, occurred_at

    def finish(self, timeout: float = 120) -> str:
        """Close stdin: the kiosk drains its spool to Kafka and exits."""
        out, _ = self.proc.communicate(timeout=timeout)
        self.log.close()
        return out

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def test_killed_kiosk_and_stopped_broker_lose_nothing_and_copy_only_same_bytes(
    broker: Settings, tmp_path: Path
) -> None:
    rng = random.Random(20251124)
    kafka = Kafka(broker)
    spool, log = tmp_path / "spool.sqlite", tmp_path / "kiosk.log"
    acked: dict[str, str] = {}
    lives, unacked_kills = 14, 0
    # Broker down from the start of life 3 to the end of life 6, and during lives 9-10.
    stop_before, start_after = {3: "stop", 9: "stop"}, {6: "start", 10: "start"}
    for life in range(lives):
        if stop_before.get(life):
            kafka.stop(lambda _m: None)
        kiosk = KioskProcess(broker, spool, log)
        # SIGKILL at a random moment, presses going on meanwhile (mid-press,
        # mid-round of the forwarder, or while it waits for the broker).
        killer = threading.Timer(rng.uniform(0.5, 3.0), kiosk.proc.kill)
        killer.start()
        while True:
            got = kiosk.press(rng.randint(1, 4))
            if got is None:
                unacked_kills += 1
                break
            acked[got[0]] = got[1]
            time.sleep(rng.uniform(0, 0.02))
        killer.join()
        kiosk.kill()
        if start_after.get(life):
            kafka.start(lambda _m: None)
    assert len(acked) > 500, "too few presses to mean anything"

    # A last life with no kill: it drains the spool into Kafka and exits.
    out = KioskProcess(broker, spool, log).finish()
    assert "done:" in out, out
    assert Spool(spool, 10).count() == 0

    messages = read_topic(broker, broker.topics.kiosk)
    copies = Counter(json.loads(m.value())["event_id"] for m in messages)
    # A copy exists only of a press whose round was interrupted, and is the same bytes:
    # one value per event_id, so counting by event_id counts it once.
    values: dict[str, set[bytes]] = {}
    for m in messages:
        values.setdefault(json.loads(m.value())["event_id"], set()).add(m.value())
    assert all(len(v) == 1 for v in values.values())
    twins = sum(n - 1 for n in copies.values())
    in_kafka = set(copies)
    assert set(acked) <= in_kafka, f"{len(set(acked) - in_kafka)} acknowledged presses lost"
    # A kill between the spool's commit and the printed ack loses only the ack: such a
    # press is in Kafka without having been acknowledged; at most one per kill.
    assert len(in_kafka - set(acked)) <= unacked_kills
    for m in messages:
        event = json.loads(m.value())
        assert m.key() == b"HN-00004"
        if event["event_id"] in acked:  # resent with its original timestamp
            assert (
                event["occurred_at"] == acked[event["event_id"]].replace("+00:00", "Z")
                or event["occurred_at"] == acked[event["event_id"]]
            )
    print(
        f"\nkiosk chaos: {len(acked)} acknowledged presses, {lives} SIGKILLs, broker "
        f"stopped twice; {len(messages)} messages in Kafka, "
        f"{len(in_kafka - set(acked))} stored-but-unacknowledged, {twins} byte-identical "
        "copies of presses whose round was interrupted"
    )


def test_round_interrupted_after_delivery_is_resent_as_the_same_bytes(
    broker: Settings, tmp_path: Path
) -> None:
    """The precise window of a crash: Kafka has the events, the spool still lists them
    as in flight. The device cannot look in the topic (it may not read it), so the next
    round sends them again: the same bytes, the same signature, so the worker's count
    by event_id takes each once."""
    spool_path = tmp_path / "spool.sqlite"
    spool = Spool(spool_path, 100)
    device = KioskDevice("HN-00004", "K-crash", 5)
    events = [device.press(v) for v in (1, 2, 3, 4, 5)]
    for e in events:
        spool.put(e)

    crashed = Forwarder(broker, spool_path)
    original_settle = Spool.settle

    class Died(Exception):
        pass

    def die(self: Spool, confirmed: set[str]) -> None:
        raise Died  # the process "dies" after Kafka confirmed, before the spool commit

    Spool.settle = die  # type: ignore[method-assign]
    try:
        with pytest.raises(Died):
            crashed.round(spool)
    finally:
        Spool.settle = original_settle  # type: ignore[method-assign]
    assert spool.in_flight() == {str(e.event_id) for e in events}

    recovered: list[int] = []
    Forwarder(broker, spool_path, on_sent=recovered.append).round(spool)
    assert spool.count() == 0 and spool.in_flight() == set()
    assert recovered == [5]
    messages = read_topic(broker, broker.topics.kiosk)
    by_id: dict[str, list[bytes]] = {}
    for m in messages:
        by_id.setdefault(json.loads(m.value())["event_id"], []).append(m.value())
    assert set(by_id) == {str(e.event_id) for e in events}
    assert all(len(v) == 2 and v[0] == v[1] for v in by_id.values())  # twins


def test_spool_refuses_presses_when_full_and_keeps_them_across_restarts(
    broker: Settings, tmp_path: Path
) -> None:
    s = broker.model_copy(update={"kiosk_spool_max_events": 3, "kafka_port": 1})  # no broker
    client = KioskClient(s, KioskDevice("HN-00004", "K-full", 3), tmp_path / "full.sqlite")
    try:
        kept = [client.press(v) for v in (1, 2, 3)]
        with pytest.raises(Exception, match=r"spool full: 3 ratings wait for Kafka") as exc:
            client.press(3)
        assert "HAILONG_KIOSK_SPOOL_MAX_EVENTS=3" in str(exc.value)
    finally:
        client.close()
    # The same device, now with a reachable broker: the three stored presses go out.
    client = KioskClient(broker, KioskDevice("HN-00004", "K-full", 3), tmp_path / "full.sqlite")
    try:
        assert client.drain(timeout=60)
    finally:
        client.close()
    values = [json.loads(m.value()) for m in read_topic(broker, broker.topics.kiosk)]
    assert sorted(v["event_id"] for v in values) == sorted(str(e.event_id) for e in kept)

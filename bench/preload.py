"""What the ingest figures share: the pre-loaded topics and the stream worker process.

Figures 1-3 read the same kind of data: the simulator's mix of regular events (60 %
kiosk ratings, 25 % QR surveys, 15 % camera observations from Hanoi's offices over
October 2025, no injected faults, so every message is a valid, distinct event) in the
lab's own three event topics. The events are generated and serialized once per process
(:func:`messages`, cached by size) and produced as raw bytes into each run's fresh
topics before the measurement starts (:func:`preload`), so neither the simulator nor
the producer is part of what a figure measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from hailong.settings import Settings
from hailong.signing import Keyring
from producers.simulator import SimOffice

CHANNELS = ("kiosk", "qr", "camera")
WINDOW = (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC))
SEED = 7


@dataclass(frozen=True)
class Messages:
    """Serialized events per channel: (key, value) pairs in time order."""

    by_channel: dict[str, list[tuple[bytes, bytes]]]

    @property
    def counts(self) -> dict[str, int]:
        return {c: len(m) for c, m in self.by_channel.items()}

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@lru_cache(maxsize=2)
def messages(total: int) -> Messages:
    """About ``total`` events of the simulator's mix from Hanoi's offices, as Kafka keys
    and values (cached: figures 1-3 send the same events)."""
    from producers.simulator import hanoi_offices

    return messages_of(hanoi_offices(), total)


def messages_of(offices: list[SimOffice], total: int) -> Messages:
    """About ``total`` events of the simulator's mix from these offices."""
    from hailong.contract import KioskRating, QrSurvey
    from producers.simulator import city_traffic

    traffic = city_traffic(offices, total, *WINDOW, seed=SEED)
    out: dict[str, list[tuple[bytes, bytes]]] = {c: [] for c in CHANNELS}
    for event in traffic.events:
        channel = (
            "kiosk"
            if isinstance(event, KioskRating)
            else "qr"
            if isinstance(event, QrSurvey)
            else "camera"
        )
        out[channel].append((event.key, event.to_json()))
    return Messages(out)


def preload(
    settings: Settings,
    total: int,
    offices: list[SimOffice] | None = None,
    keyring: Keyring | None = None,
) -> Messages:
    """Produce about ``total`` events (from Hanoi's offices, or these) into the lab's
    three event topics, signed by their devices when a keyring is given; return what
    was sent once Kafka confirmed all of it."""
    from hailong.kafka import SIMULATOR, Headers, deliver, make_producer

    msgs = messages(total) if offices is None else messages_of(offices, total)
    producer = make_producer(
        settings,
        SIMULATOR,
        **{"linger.ms": 50, "batch.size": 1_000_000, "queue.buffering.max.messages": 500_000},
    )
    for channel, pairs in msgs.by_channel.items():
        if keyring is None:
            deliver(producer, getattr(settings.topics, channel), pairs, timeout_s=300)
            continue
        signed: list[tuple[bytes | None, bytes, Headers]] = []
        for key, value in pairs:
            d = json.loads(value)
            signer = keyring.signers.get(
                d.get("device_id") or d.get("camera_id") or "", keyring.gateway
            )
            token = (
                keyring.qr_token(
                    d["office_id"], d["token_id"], datetime.fromisoformat(d["submitted_at"])
                )
                if channel == "qr"
                else []
            )
            signed.append((key, value, [*token, *(signer.headers(value) if signer else [])]))
        deliver(producer, getattr(settings.topics, channel), signed, timeout_s=300)
    return msgs


@dataclass
class Worker:
    """A running ``hailong stream`` child process and its log file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def last_warning(self) -> str:
        """The worker's last WARNING/ERROR log line, if any."""
        lines = self.log.read_text("utf-8", errors="replace").splitlines()
        return next(
            (line for line in reversed(lines) if "[WARNING]" in line or "[ERROR]" in line), ""
        )


@contextmanager
def worker(s: Settings) -> Iterator[Worker]:
    """Hailong's stream worker (``hailong stream``) on the lab's topics and database;
    terminated afterwards (its log's tail is printed if it did not end cleanly)."""
    from infra.worker import running_worker

    with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
        log_path = Path(tmp) / "worker.log"
        with running_worker(s, log_path, timeout_s=60) as proc:
            yield Worker(proc, log_path)


def wait_for_group(
    s: Settings, proc: subprocess.Popen[bytes] | None = None, timeout_s: float = 60.0
) -> float:
    """Wait until the lab's consumer group is stable with every event topic's partitions
    assigned (the worker is ready to fetch); return the monotonic time it was seen."""
    from confluent_kafka import ConsumerGroupState

    from hailong.kafka import admin_client

    admin = admin_client(s)
    topics = set(s.topics.events)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode} before joining")
        try:
            group = admin.describe_consumer_groups([s.consumer_group])[s.consumer_group].result(
                timeout=5
            )
        except Exception:  # noqa: BLE001 - not known to the coordinator yet
            group = None
        if group is not None and group.state == ConsumerGroupState.STABLE:
            assigned = {
                tp.topic
                for m in group.members
                for tp in (m.assignment.topic_partitions if m.assignment else [])
            }
            if topics <= assigned:
                return time.monotonic()
        time.sleep(0.1)
    raise TimeoutError(f"consumer group {s.consumer_group} not stable after {timeout_s:.0f} s")


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far; 0 if it is gone or unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

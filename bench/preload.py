"""What the ingest figures share: the pre-loaded topics, the stream worker process and
its landing of the events.

Figures 1-3, 3b, 3r and 3p read the same kind of data: the simulator's mix of regular events (60 %
kiosk ratings, 25 % QR surveys, 15 % camera observations from Hanoi's offices over
October 2025, no injected faults, so every message is a valid, distinct event) in the
lab's own three event topics. The events are generated and serialized once per process
(:func:`messages`, cached by size) and produced as raw bytes into each run's fresh
topics before the measurement starts (:func:`preload`), so neither the simulator nor
the producer is part of what a figure measures. :func:`land` waits until one or more
workers have landed them in raw and every hourly bucket, and measures the CPU of the
workers, the broker and the ClickHouse server meanwhile (figures 3 and 3p).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    s: Settings,
    procs: subprocess.Popen[bytes] | Sequence[subprocess.Popen[bytes]] | None = None,
    timeout_s: float = 60.0,
    members: int = 1,
) -> float:
    """Wait until the lab's consumer group is stable with at least ``members`` members and
    every event topic's partitions assigned (the workers are ready to fetch); return the
    monotonic time it was seen. A process of ``procs`` that exits first fails the wait."""
    from confluent_kafka import ConsumerGroupState

    from hailong.kafka import admin_client

    watched = [procs] if isinstance(procs, subprocess.Popen) else list(procs or ())
    admin = admin_client(s)
    topics = set(s.topics.events)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in watched:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode} before joining")
        try:
            group = admin.describe_consumer_groups([s.consumer_group])[s.consumer_group].result(
                timeout=5
            )
        except Exception:  # noqa: BLE001 - not known to the coordinator yet
            group = None
        if (
            group is not None
            and group.state == ConsumerGroupState.STABLE
            and len(group.members) >= members
        ):
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
    """CPU time (user + system, all threads) a process has used so far; 0 if it is gone
    or unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- landing: the workers until raw and every hourly bucket hold the pre-loaded events --


def ch_client(s: Settings) -> Any:
    """A clickhouse-driver client on the lab's database (the figures' own reads)."""
    from clickhouse_driver import Client

    from warehouse.client import CLUSTER_SETTINGS

    cluster = CLUSTER_SETTINGS if s.ch_cluster is not None else {}
    return Client(
        host=s.ch_host,
        port=s.ch_port,
        user=s.clickhouse_user,
        password=s.clickhouse_password.get_secret_value(),
        database=s.clickhouse_database,
        send_receive_timeout=600,
        settings={"use_client_time_zone": False, **cluster},
    )


def _raw_tables() -> dict[str, str]:
    from warehouse.channels import BY_NAME

    return {name: c.raw_table for name, c in BY_NAME.items()}


def landed_rows(client: Any) -> dict[str, int]:
    """Raw rows per channel (count(): without replays, rows = events)."""
    return {
        name: client.execute(f"SELECT count() FROM {table}")[0][0]
        for name, table in _raw_tables().items()
    }


def check_distinct(client: Any, msgs: Messages, before: Mapping[str, int] | None = None) -> None:
    """Every pre-loaded event is in raw exactly once (by event_id), beside the ``before``
    events of each channel that raw held already."""
    for name, table in _raw_tables().items():
        got = client.execute(f"SELECT uniqExact(event_id) FROM {table}")[0][0]
        want = msgs.counts[name] + (before or {}).get(name, 0)
        if got != want:
            raise AssertionError(f"{table}: {got} distinct events, expected {want}")


def _buckets(client: Any) -> tuple[int, ...]:
    """What the hourly buckets count so far: kiosk, QR, camera, QR criterion answers."""
    from warehouse.channels import bucketed

    answers = client.execute("SELECT sum(answered) FROM qr_criteria_hourly FINAL")[0][0]
    return (*bucketed(client).values(), answers)


STALL_S = 180.0  # no progress in raw or buckets for this long: the worker is stuck
COMPONENTS = ("worker", "kafka", "clickhouse")


@dataclass(frozen=True)
class Landed:
    """How the workers landed the pre-loaded events, timed from their group being whole
    (every worker a member, every partition assigned)."""

    events: int  # landed after the group was whole (all, but for a head start)
    seconds: float  # from the group whole to raw and every bucket complete
    raw_seconds: float  # from the group whole to raw complete
    cpu_s: dict[str, float]  # CPU seconds used meanwhile: the workers (summed), kafka, clickhouse

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def cpu_pct(self, component: str) -> float:
        """A component's CPU over the time, in % of one core."""
        return 100 * self.cpu_s[component] / self.seconds

    def cpu_us_per_event(self, component: str) -> float:
        return 1e6 * self.cpu_s[component] / self.events


def land(
    s: Settings,
    msgs: Messages,
    workers: Sequence[Worker],
    progress: Callable[[str], None],
    before: Mapping[str, int] | None = None,
) -> Landed:
    """Wait until ``workers`` (one consumer group) have landed ``msgs`` in raw *and* in
    every hourly bucket (kiosk k_n + k_misuse, QR q_n + q_duplicates and per-criterion
    answers, camera c_n + c_low_confidence + queue_obs, all read FINAL, equal the
    pre-loaded events), then check each event is in raw once. Measures the CPU of the
    workers, the broker and the ClickHouse server meanwhile (theirs includes anything
    else they serve). Events landed before the group was whole (a worker that joined
    first) are not counted in :attr:`Landed.events`. No progress for ``STALL_S`` fails
    with the workers' last warnings. ``before``: the raw rows of each channel that the
    database held before ``msgs`` were sent (figure 3h's history)."""
    from infra.stack import ClickHouse, Kafka, Stack

    answers = sum(len(json.loads(v)["answers"]) for _, v in msgs.by_channel["qr"])
    expected = (msgs.counts["kiosk"], msgs.counts["qr"], msgs.counts["camera"], answers)
    stack = Stack(s)
    pids: dict[str, list[int | None]] = {
        "worker": [w.proc.pid for w in workers],
        # every broker and server of the stack (the cluster profile's three and four)
        "kafka": [x.pid() for x in stack.services if isinstance(x, Kafka)],
        "clickhouse": [x.pid() for x in stack.services if isinstance(x, ClickHouse)],
    }

    def cpu() -> dict[str, float]:
        return {c: sum(cpu_seconds(pid) for pid in pids[c]) for c in COMPONENTS}

    client = ch_client(s)
    try:
        t0 = wait_for_group(s, [w.proc for w in workers], 60.0 * len(workers), len(workers))
        cpu0 = cpu()
        before = before or {}
        head_start = sum(landed_rows(client).values()) - sum(before.values())
        progress(f"{len(workers)} worker(s) joined ({head_start:,} events landed before); ...")
        raw_done: float | None = None
        last_report = last_change = t0
        state: tuple[Any, ...] = ()
        while True:
            for w in workers:
                if w.proc.poll() is not None:
                    raise RuntimeError(f"a worker exited with {w.proc.returncode}")
            now = time.monotonic()
            landed = landed_rows(client)
            if raw_done is None and all(
                landed[c] >= n + before.get(c, 0) for c, n in msgs.counts.items()
            ):
                raw_done = now
            buckets = _buckets(client) if raw_done is not None else ()
            if buckets == expected:
                break
            if (landed, buckets) != state:
                state, last_change = (landed, buckets), now
            elif now - last_change > STALL_S:
                warnings = "; ".join(w.last_warning() for w in workers if w.last_warning())
                raise RuntimeError(
                    f"hailong stream stalled: no progress for {STALL_S:.0f} s at "
                    f"{sum(landed.values()):,} of {msgs.total:,} events in raw; the "
                    f"workers' last warnings: {warnings or '(none)'}"
                )
            if now - last_report >= 30:
                done = sum(landed.values()) - sum(before.values())
                progress(f"{done:,} in raw ({(done - head_start) / (now - t0):,.0f}/s)")
                last_report = now
            time.sleep(0.2)
        seconds = time.monotonic() - t0
        cpu1 = cpu()
        check_distinct(client, msgs, before)
    finally:
        client.disconnect()
    raw_seconds = (raw_done or now) - t0  # the buckets are complete only after raw is
    progress(f"raw complete after {raw_seconds:.1f} s, buckets after {seconds:.1f} s")
    return Landed(
        msgs.total - head_start, seconds, raw_seconds, {c: cpu1[c] - cpu0[c] for c in COMPONENTS}
    )

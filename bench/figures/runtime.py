"""Figures 3b and 3r: faust's own ceiling and the raw consumer loops beneath it.

Both read figure 3's pre-loaded events (:mod:`bench.preload`, the same >= 1M events of
the simulator's mix, 50k with ``--quick``), so figure 3 reads as a share of the bare
faust agent (its ``events_per_s_vs_bare_faust``), the bare agent as a share of the
Kafka clients beneath it, and Hailong's own CPU per event is figure 3's less the bare
agent's (figure 3's ``hailong_cpu_us_per_event``).

- ``3b-bare-faust``: :mod:`bench.bare_faust` as a child process: a faust app with the
  worker's settings and one agent, shaped as the worker's, that only counts and
  acknowledges its events. Timed as figure 3, from its consumer group being stable
  with every partition assigned until it has seen every pre-loaded event (the time it
  wrote down). Its CPU (user + system, all threads, from ``/proc/<pid>/stat``) and the
  broker's over that span, per event.
- ``3r-raw-loops``: in this process, one after the other, each reading all 36
  partitions from the beginning (assigned, no group) as the worker's Kafka account:
  aiokafka's own ``getmany`` loop (faust's client; counts the records, decodes
  nothing), and confluent-kafka's ``consume`` with ``json.loads`` of each value, each
  call taking up to 10,000 events. Each timed from the end of its first batch to the
  last pre-loaded event (connecting, logging in and the first fetch left out, and that
  batch's events with them); its CPU is this process's (``time.process_time``, all
  threads) over the same span, per event.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.core import Figure, Lab, Value
from bench.figures.ingest import events_for
from bench.preload import cpu_seconds, preload, wait_for_group
from hailong.kafka import WORKER, client_config, login, ssl_context
from hailong.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LOOP_TIMEOUT_S = 600.0  # a raw loop that has not read everything by then is stuck
AT_ONCE = 10_000  # events a fetch call returns at most: getmany's max_records, consume's


def _bare_timeout_s(events: int) -> float:
    """How long the bare agent may take: far below 1,000 events/s is broken."""
    return 120.0 + events / 1000


def bare_faust(lab: Lab) -> dict[str, float]:
    """Figure 3b: the bare faust agent on the pre-loaded events."""
    from infra.stack import Stack
    from infra.worker import log_tail, start_worker, stop_worker

    s = lab.settings
    msgs = preload(s, events_for(lab))
    lab.progress(f"pre-loaded {msgs.total:,} events {msgs.counts}")
    kafka_pid = Stack(s).kafka.pid()
    with tempfile.TemporaryDirectory(prefix="bench-bare-faust-") as tmp:
        done, log_path = Path(tmp) / "done.json", Path(tmp) / "bare.log"
        proc = start_worker(
            s,
            log_path,
            command=(sys.executable, "-m", "bench.bare_faust", str(msgs.total), str(done)),
            cwd=ROOT,
        )
        try:
            t0 = wait_for_group(s, proc)
            cpu0 = (cpu_seconds(proc.pid), cpu_seconds(kafka_pid))
            lab.progress(f"bare faust agent pid {proc.pid} joined; counting ...")
            while not done.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"the bare faust agent exited with {proc.returncode}")
                if time.monotonic() - t0 > _bare_timeout_s(msgs.total):
                    raise TimeoutError(f"the bare faust agent is not done after {msgs.total:,}")
                time.sleep(0.02)
            cpu1 = (cpu_seconds(proc.pid), cpu_seconds(kafka_pid))
            seconds = json.loads(done.read_text())["at"] - t0
        except Exception:
            print(log_tail(log_path), file=sys.stderr)
            raise
        finally:
            stop_worker(proc, 60.0)
    return {
        "events_per_s": msgs.total / seconds,
        "events_per_s_vs_confluent": msgs.total / seconds,
        "cpu_us_per_event": 1e6 * (cpu1[0] - cpu0[0]) / msgs.total,
        "kafka_cpu_us_per_event": 1e6 * (cpu1[1] - cpu0[1]) / msgs.total,
    }


# -- the raw loops ----------------------------------------------------------------------


class _Count:
    """A raw loop's count of events, timed from the end of its first batch to its last
    event (connecting and the first fetch's round trip left out, and the first batch's
    events with them); CPU is this process's (every thread) over the same span."""

    def __init__(self, total: int) -> None:
        self.total, self.read, self.first = total, 0, 0
        self.started = time.monotonic()
        self.t0 = self.cpu0 = 0.0

    def more(self, batch: int) -> bool:
        """Count a batch; whether there is more to read."""
        if batch and not self.first:
            self.first, self.t0, self.cpu0 = batch, time.monotonic(), time.process_time()
        self.read += batch
        if time.monotonic() - self.started > LOOP_TIMEOUT_S:
            raise TimeoutError(f"read {self.read:,} of {self.total:,} in {LOOP_TIMEOUT_S:.0f} s")
        return self.read < self.total

    def result(self) -> tuple[float, float]:
        """(events/s, CPU µs per event)."""
        events = self.read - self.first
        seconds, cpu = time.monotonic() - self.t0, time.process_time() - self.cpu0
        return events / seconds, 1e6 * cpu / events


def _partitions(s: Settings) -> list[tuple[str, int]]:
    """Every partition of the three event topics."""
    from hailong.kafka import admin_client

    topics = admin_client(s).list_topics(timeout=10).topics
    return [(t, p) for t in s.topics.events for p in sorted(topics[t].partitions)]


async def _aiokafka_loop(s: Settings, total: int) -> tuple[float, float]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    account = login(s, WORKER)
    sasl: dict[str, Any] = (
        {
            "sasl_mechanism": s.kafka_sasl_mechanism,
            "sasl_plain_username": account[0],
            "sasl_plain_password": account[1],
        }
        if account is not None
        else {}
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=s.bootstrap_servers.split(","),
        security_protocol=s.kafka_security_protocol,
        ssl_context=ssl_context(s) if s.kafka_security_protocol.endswith("SSL") else None,
        enable_auto_commit=False,
        **sasl,
    )
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t, p in _partitions(s)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        count, more = _Count(total), True
        while more:
            got = await consumer.getmany(timeout_ms=500, max_records=AT_ONCE)
            more = count.more(sum(len(records) for records in got.values()))
        return count.result()
    finally:
        await consumer.stop()


def _confluent_loop(s: Settings, total: int) -> tuple[float, float]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {**client_config(s, WORKER), "group.id": s.consumer_group, "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in _partitions(s)])
        loads = json.loads
        count, more = _Count(total), True
        while more:
            batch = 0
            # no more than are left: consume() waits for as many as it is asked for
            for m in consumer.consume(min(AT_ONCE, total - count.read), timeout=0.5):
                value = m.value()
                if m.error() is None and value is not None:
                    loads(value)
                    batch += 1
            more = count.more(batch)
        return count.result()
    finally:
        consumer.close()


def raw_loops(lab: Lab) -> dict[str, float]:
    """Figure 3r: aiokafka's getmany loop and confluent-kafka + json.loads, counting."""
    s = lab.settings
    msgs = preload(s, events_for(lab))
    lab.progress(f"pre-loaded {msgs.total:,} events {msgs.counts}")
    aiokafka_rate, aiokafka_cpu = asyncio.run(_aiokafka_loop(s, msgs.total))
    lab.progress(f"aiokafka getmany: {aiokafka_rate:,.0f} events/s")
    confluent_rate, confluent_cpu = _confluent_loop(s, msgs.total)
    return {
        "aiokafka_events_per_s": aiokafka_rate,
        "aiokafka_cpu_us_per_event": aiokafka_cpu,
        "confluent_events_per_s": confluent_rate,
        "confluent_cpu_us_per_event": confluent_cpu,
    }


RAW = "3r-raw-loops"

FIGURES = [
    Figure(
        "3b-bare-faust",
        "The bare faust agent (the runtime's ceiling): count and ack only",
        (
            Value("events_per_s", "events/s", reference=f"{RAW}.aiokafka_events_per_s"),
            Value(
                "events_per_s_vs_confluent", "events/s", reference=f"{RAW}.confluent_events_per_s"
            ),
            Value(
                "cpu_us_per_event",
                "µs/event",
                reference=f"{RAW}.aiokafka_cpu_us_per_event",
                higher_is_better=False,
            ),
            Value("kafka_cpu_us_per_event", "µs/event", higher_is_better=False),
        ),
        bare_faust,
        note="the worker's faust settings, noack_take batches, one agent; its process's CPU",
    ),
    Figure(
        RAW,
        "Raw loops: aiokafka getmany; confluent-kafka consume + json.loads (count only)",
        (
            Value("aiokafka_events_per_s", "events/s"),
            Value("aiokafka_cpu_us_per_event", "µs/event", higher_is_better=False),
            Value("confluent_events_per_s", "events/s", reference=f"{RAW}.aiokafka_events_per_s"),
            Value(
                "confluent_cpu_us_per_event",
                "µs/event",
                reference=f"{RAW}.aiokafka_cpu_us_per_event",
                higher_is_better=False,
            ),
        ),
        raw_loops,
        note="in the bench's process, partitions assigned, from the beginning",
    ),
]

"""Figure 7: peak memory (RSS) of the stream worker for 126 and for 10,000 offices.

For each office count, the same number of simulated events (the simulator's mix: 60%
kiosk ratings, 25% QR surveys, 15% camera observations over October 2025, spread over
the offices) is pre-loaded into topics of its own: Hanoi's 126 communes/wards, or 10,000
synthetic offices. Then Hailong's stream worker (``hailong stream``, its own process,
default settings) reads them from the start. Once its consumer group has committed every
offset (faust commits an offset only after its batch landed in raw and its buckets were
refreshed), the worker's peak resident set (``VmHWM`` of ``/proc/<pid>/status``) is read.

This figure found a bug: with 10,000 offices a 5,000-event batch touched ~4,000 offices,
the bucket queries named them all and exceeded ClickHouse's ``max_query_size``, and the
worker retried for ever. Bucket refreshes are now split into queries of at most
``warehouse.buckets.OFFICES_PER_QUERY`` offices.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from bench.core import Figure, Lab, Value
from bench.preload import preload, worker
from hailong.kafka import ADMIN, client_config
from hailong.registry import Office, Unit
from hailong.settings import Settings
from producers.simulator import SimOffice, city_offices, hanoi_offices

EVENTS = (300_000, 20_000)  # (full, quick)
STALL_S = 180.0  # no offset committed for this long: the worker is stuck


def synthetic_offices(n: int) -> list[SimOffice]:
    unit = Unit("BENCH", "Bench", "Phường", "ward", "", date(2025, 7, 1), None)
    return city_offices(
        [Office(f"BENCH-{i:05d}", f"Bench office {i}", unit) for i in range(n)], seed=7
    )


def status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmHWM: peak RSS, VmRSS: current)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def committed_and_end(s: Settings) -> tuple[int, int]:
    """The worker's group: offsets committed and the topics' end offsets, summed over the
    event topics' partitions."""
    from confluent_kafka import Consumer, TopicPartition

    # never subscribes: it only asks the group coordinator for committed offsets
    consumer = Consumer(
        {**client_config(s, ADMIN), "group.id": s.consumer_group, "enable.auto.commit": False}
    )
    try:
        parts = []
        for topic in s.topics.events:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            parts += [TopicPartition(topic, p) for p in meta.partitions]
        end = sum(consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts)
        done = sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
        return done, end
    finally:
        consumer.close()


@contextmanager
def corner(lab: Lab, tag: str) -> Iterator[Settings]:
    """Topics (under the lab's prefix), a consumer group and a database of their own;
    the topics and the database are removed afterwards (:func:`tests.scratch.scratch`)."""
    from tests.scratch import scratch

    # the lab's names and the tag: topic prefix bench.<id>.<tag>., group bench-<id>-<tag>;
    # made-up offices of a fixed past month: no registry, no horizon
    with scratch(
        f"{lab.settings.clickhouse_database}_{tag}",
        late_horizon_days=0,
        quarantine_unregistered=False,
    ) as s:
        yield s


def peak_rss_mb(lab: Lab, s: Settings, offices: list[SimOffice], total: int) -> float:
    msgs = preload(s, total, offices)
    lab.progress(f"{len(offices):,} offices: pre-loaded {msgs.total:,} events {msgs.counts}")
    with worker(s) as w:
        t0 = last_change = time.monotonic()
        last = -1
        while (got := committed_and_end(s))[0] < got[1]:
            if w.proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {w.proc.returncode}")
            if got[0] != last:
                last, last_change = got[0], time.monotonic()
            elif time.monotonic() - last_change > STALL_S:
                raise RuntimeError(
                    f"the worker stalled at {got[0]:,} of {got[1]:,} events; "
                    f"its last warning: {w.last_warning() or '(none)'}"
                )
            time.sleep(0.5)
        if got[1] != msgs.total:
            raise RuntimeError(f"{got[1]:,} messages in the topics, {msgs.total:,} sent")
        hwm = status_kb(w.proc.pid, "VmHWM") / 1024
        lab.progress(
            f"{len(offices):,} offices: every event acknowledged after "
            f"{time.monotonic() - t0:.0f} s; worker peak RSS {hwm:.0f} MB (now "
            f"{status_kb(w.proc.pid, 'VmRSS') / 1024:.0f} MB)"
        )
    return hwm


def run(lab: Lab) -> dict[str, float]:
    total = EVENTS[1] if lab.quick else EVENTS[0]
    out: dict[str, float] = {}
    with corner(lab, "o126") as s:
        out["rss_mb_126"] = peak_rss_mb(lab, s, hanoi_offices(departments=False), total)
    with corner(lab, "o10k") as s:
        out["rss_mb_10000"] = peak_rss_mb(lab, s, synthetic_offices(10_000), total)
    return out


FIGURES = [
    Figure(
        key="7-memory",
        title="Stream worker peak memory (RSS): 126 vs 10,000 offices",
        values=(
            Value("rss_mb_126", "MB", higher_is_better=False),
            Value("rss_mb_10000", "MB", reference="7-memory.rss_mb_126", higher_is_better=False),
        ),
        run=run,
        note=f"{EVENTS[0]:,} events (quick: {EVENTS[1]:,}) pre-loaded, the simulator's mix; "
        "VmHWM of `hailong stream` once every offset was committed",
    ),
]

"""Figure 3c: Hailong's stream worker on the stack's cluster profile (infra/cluster.py:
three Kafka brokers with replication factor 3 and ``min.insync.replicas`` 2, ClickHouse
as 2 shards x 2 replicas on ZooKeeper), with 1, 2 and 3 worker processes in one group.

The cluster is started for this figure and stopped after it (unless it was running), so
the other figures run beside the single node only. Each process count gets fresh
topics (12 partitions per event topic) and a fresh database on the cluster, with a
third of figure 3's pre-loaded events (the same mix, about 336k), landed and timed as
figure 3p (:func:`bench.preload.land`): events/s, and the CPU per event of the workers,
the three brokers and the four ClickHouse servers (each summed). On this machine the
cluster's seven servers and the workers share two cores, so the figure measures what
replication costs per event, not what separate machines would give.
"""

from __future__ import annotations

from bench.core import Figure, Lab, Value
from bench.core import lab as fresh_lab
from bench.figures.ingest import events_for
from bench.figures.scaling import land_with, process_values

PROCESSES = (1, 2, 3)
KEY = "3c-cluster"


def cluster_workers(lab: Lab) -> dict[str, float]:
    from hailong.settings import load_settings
    from infra.stack import Stack

    stack = Stack(load_settings(cluster=True))
    was_running = all(x.running for x in stack.status())
    stack.install(lambda _m: None)
    stack.start(lambda _m: None)
    out: dict[str, float] = {}
    try:
        for n in PROCESSES:
            with fresh_lab(lab.quick, lab.progress, cluster=True) as corner:
                out |= land_with(lab, corner.settings, n, events_for(lab) // 3)
    finally:
        if not was_running:
            stack.stop(lambda _m: None)
    return out


def _values() -> tuple[Value, ...]:
    """Against one node: the first count's events/s and CPU against 3p's one process."""
    return process_values(KEY, PROCESSES, "3p-processes.events_per_s_1", "3p-processes")


FIGURES = [
    Figure(
        KEY,
        "Hailong's stream worker on the cluster profile (3 brokers, 2 x 2 ClickHouse), "
        "1, 2 and 3 workers: events/s, CPU per event",
        _values(),
        cluster_workers,
        note="worker, broker and ClickHouse CPU each summed over its processes; one "
        "process's figures against the single node's (3p)",
    ),
]

"""Figure 3p: Hailong's stream worker with 1, 2 and 4 processes in one consumer group.

Each process count gets fresh topics (the contract's 12 partitions per event topic, 36
in all, so 4 processes get 9 each) and a fresh database, with figure 3's pre-loaded
events in them (:mod:`bench.preload`: the same events, keyed by office, so in the same
partitions each time); the first uses the run's lab, the others a lab of their own.
Then that many ``hailong stream`` processes (``infra/worker.py``, as figure 3) land
them, timed as figure 3 (:func:`bench.preload.land`), from the group being whole (every
process a member, every partition assigned) to every event in raw and in every hourly
bucket; events landed before (by a process that joined first) are left out of the
rate. Reported per process count: events/s, and the CPU (user + system, from
``/proc/<pid>/stat``) per event of each component over that span: the worker
processes (summed), the Kafka broker and the ClickHouse server, so a deployment can be
sized from them (events/s per core of a component = 10⁶ / its µs per event). On a
machine of 2 cores every component shares them: more processes than cores measure the
contention too.
"""

from __future__ import annotations

from contextlib import ExitStack, nullcontext

from bench.core import Figure, Lab, Value
from bench.core import lab as fresh_lab
from bench.figures.ingest import events_for
from bench.preload import COMPONENTS, land, preload, worker
from hailong.settings import Settings

PROCESSES = (1, 2, 4)
KEY = "3p-processes"


def land_with(lab: Lab, s: Settings, n: int, events: int) -> dict[str, float]:
    """Pre-load ``events`` into the lab ``s`` and land them with ``n`` worker processes:
    events/s and each component's CPU µs per event, named for ``n`` (3p, 3c)."""
    msgs = preload(s, events)
    lab.progress(f"{n} process(es): pre-loaded {msgs.total:,} events {msgs.counts}")
    with ExitStack() as workers:
        got = land(s, msgs, [workers.enter_context(worker(s)) for _ in range(n)], lab.progress)
    lab.progress(f"{n} process(es): {got.rate:,.0f} events/s")
    out = {f"events_per_s_{n}": got.rate}
    for component in COMPONENTS:
        out[f"{component}_cpu_us_{n}"] = got.cpu_us_per_event(component)
    return out


def processes(lab: Lab) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, n in enumerate(PROCESSES):
        here = nullcontext(lab) if i == 0 else fresh_lab(lab.quick, lab.progress)
        with here as corner:
            out |= land_with(lab, corner.settings, n, events_for(lab))
    return out


def process_values(
    key: str, counts: tuple[int, ...], first_events: str, first_cpu: str | None
) -> tuple[Value, ...]:
    """events/s and each component's CPU µs per event, per process count; each against
    the first count's (the scaling); the first count's against ``first_events`` and
    ``first_cpu`` (a figure key whose ``<component>_cpu_us_1`` it compares with)."""
    values = []
    for n in counts:
        first = n == counts[0]
        values.append(
            Value(
                f"events_per_s_{n}",
                "events/s",
                reference=first_events if first else f"{key}.events_per_s_{counts[0]}",
            )
        )
        values += [
            Value(
                f"{component}_cpu_us_{n}",
                "µs/event",
                reference=(
                    (f"{first_cpu}.{component}_cpu_us_1" if first_cpu else None)
                    if first
                    else f"{key}.{component}_cpu_us_{counts[0]}"
                ),
                higher_is_better=False,
            )
            for component in COMPONENTS
        ]
    return tuple(values)


def _values() -> tuple[Value, ...]:
    """3p: one process's events/s against figure 3's; its CPU against nothing."""
    return process_values(KEY, PROCESSES, "3-hailong-stream.events_per_s", None)


FIGURES = [
    Figure(
        KEY,
        "Hailong's stream worker, 1, 2 and 4 processes in one group: events/s, CPU per event",
        _values(),
        processes,
        note="worker CPU summed over its processes; broker and ClickHouse CPU include all "
        "they serve meanwhile",
    ),
]

"""Where Hailong's stream worker spends its time: figure 3's run under py-spy.

    .venv/bin/python -m bench.profile [--events 300000] [--rate 100]
    .venv/bin/python -m bench.profile --from bench/results/profile-<time>.txt

Pre-loads ``--events`` of the simulator's mix (as figure 3 does) into a lab's fresh
topics, starts ``hailong stream`` on them and samples it with py-spy (``--idle``: waits
count too, so shares are of wall time) from the moment its consumer group is ready until
every event is in raw. Prints three tables and keeps py-spy's raw (collapsed) stacks in
``bench/results/profile-<time>.txt`` (``flamegraph.pl`` or speedscope read them;
``--from`` summarises them again):

- **steps of a batch**: the share of wall time each ClickHouse/Kafka step took. The
  worker runs them in a thread pool (``asyncio.to_thread``), one at a time, so each tick
  is in at most one step; the step is the function the pool thread runs. For each, the
  part spent waiting on ClickHouse (a blocking socket read, or the ping clickhouse-driver
  sends before every query).
- **the event loop**: how busy faust's event loop thread is, and with what.
- **CPU by function**: where the samples that were not waiting ended (the leaf
  function), across all threads.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.core import lab, now
from bench.preload import preload, wait_for_group, worker

# Leaves where a thread waits: for events (the event loop's select), for work (the
# thread pool's queue), or for ClickHouse's answer (a blocking socket read or the ping
# clickhouse-driver sends before each query).
IDLE_LEAVES = ("EpollSelector.select (", "_worker (concurrent/futures/thread.py:81)")
CLICKHOUSE_WAIT = (
    "Connection.receive_packet (clickhouse_driver/connection.py:609)",
    "Connection.ping (clickhouse_driver/connection.py",
)
# What the event loop does, by a frame its stacks contain (first match wins).
LOOP_PARTS = (
    ("validation (split)", "split (streams/ingest.py"),
    ("raw rows (channel.raw_row)", "raw_row (warehouse/"),
    ("faust: fetching and draining messages", "faust/transport/consumer.py"),
    ("faust: streams, agents, events", "faust/"),
)

Stacks = list[tuple[list[str], int]]


def parse(path: Path) -> Stacks:
    """py-spy's raw format (with --threads): ``process;thread;frame;... count``."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def step_of(frames: list[str]) -> str | None:
    """The batch step a pool thread runs: the frame after concurrent.futures' work item."""
    for i, frame in enumerate(frames[:-1]):
        if frame.startswith("_WorkItem.run ("):
            return frames[i + 1].rsplit(":", 1)[0] + ")"
    return None


def summarise(stacks: Stacks) -> str:
    per_thread: Counter[str] = Counter()
    in_ingest: Counter[str] = Counter()  # the event loop is the thread that runs the agent
    for frames, n in stacks:
        per_thread[frames[1]] += n
        if any(f.startswith("ingest (streams/app.py") for f in frames):
            in_ingest[frames[1]] += n
    ticks = max(per_thread.values())  # every thread is sampled at every tick (--idle)
    loop_thread = in_ingest.most_common(1)[0][0] if in_ingest else next(iter(per_thread))
    steps: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    cpu: Counter[str] = Counter()
    loop_busy = 0
    for frames, n in stacks:
        leaf = frames[-1]
        if (step := step_of(frames)) is not None:
            steps[step] += n
            if leaf.startswith(CLICKHOUSE_WAIT):
                waiting[step] += n
        if frames[1] == loop_thread and not leaf.startswith(IDLE_LEAVES):
            loop_busy += n
            part = next(
                (name for name, frame in LOOP_PARTS if any(frame in f for f in frames)), "other"
            )
            parts[part] += n
        if not leaf.startswith(IDLE_LEAVES + CLICKHOUSE_WAIT):
            cpu[leaf] += n

    def pct(n: int) -> str:
        return f"{100 * n / ticks:5.1f}%"

    lines = [
        f"ClickHouse/Kafka steps of a batch (worker threads, one at a time), share of "
        f"wall time ({ticks:,} ticks):",
        f"  {'step':<52} {'share':>6}  {'of it waiting on ClickHouse':>27}",
    ]
    for step, n in steps.most_common():
        lines.append(f"  {step:<52} {pct(n)}  {pct(waiting[step]):>27}")
    lines.append(
        f"  {'all steps':<52} {pct(sum(steps.values()))}  {pct(sum(waiting.values())):>27}"
    )
    lines += [
        "",
        f"the event loop ({loop_thread.split(': ')[-1]}): busy {pct(loop_busy)} of "
        "wall time, of which:",
    ]
    for part, n in parts.most_common():
        lines.append(f"  {part:<52} {pct(n)}")
    total_cpu = sum(cpu.values())
    lines += ["", f"CPU by function (leaf, all threads, not waiting): {total_cpu:,} samples"]
    for leaf, n in cpu.most_common(15):
        lines.append(f"  {100 * n / total_cpu:5.1f}%  {leaf}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="summarise raw stacks recorded before, without running",
    )
    args = parser.parse_args(argv)
    if args.source:
        print(summarise(parse(args.source)))
        return 0

    from hailong.settings import load_settings
    from infra.stack import Stack

    Stack(load_settings()).start(lambda _m: None)
    out = Path(__file__).parent / "results" / f"profile-{now().replace(':', '')}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with lab(False, print) as the_lab:
        s = the_lab.settings
        msgs = preload(s, args.events)
        print(f"pre-loaded {msgs.total:,} events {msgs.counts}", flush=True)
        from warehouse.client import Warehouse

        with worker(s) as w, Warehouse(s) as wh:
            wait_for_group(s, w.proc)
            spy = subprocess.Popen(  # noqa: S603 - the venv's own py-spy
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--idle",
                    "--threads",
                    "--subprocesses",
                    "--format",
                    "raw",
                    "--rate",
                    str(args.rate),
                    "--output",
                    str(out),
                    "--pid",
                    str(w.proc.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            t0 = time.monotonic()
            while True:
                landed = sum(
                    wh.execute(f"SELECT count() FROM {t}")[0][0]
                    for t in ("kiosk_ratings_raw", "qr_surveys_raw", "camera_observations_raw")
                )
                if landed >= msgs.total:
                    break
                if w.proc.poll() is not None or spy.poll() is not None:
                    raise RuntimeError(
                        "the worker or py-spy ended early: "
                        f"{(spy.stderr.read() if spy.stderr else b'')[-500:]!r}"
                    )
                time.sleep(0.5)
            seconds = time.monotonic() - t0
            spy.send_signal(signal.SIGINT)
            spy.wait(120)
    print(
        f"\n{msgs.total:,} events in raw after {seconds:.1f} s "
        f"({msgs.total / seconds:,.0f}/s under the profiler)\n"
    )
    print(summarise(parse(out)))
    print(f"\nraw stacks: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

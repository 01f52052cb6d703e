"""Where Hailong's stream worker spends its time: figure 3's run under py-spy.

    .venv/bin/python -m bench.profile [--events 300000] [--rate 100]

Pre-loads ``--events`` of the simulator's mix (as figure 3 does) into a lab's fresh
topics, starts ``hailong stream`` on them and samples it with py-spy (``--idle``: waits
count too, so shares are of wall time) from the moment its consumer group is ready until
every event is in raw. Prints two tables and keeps py-spy's raw (collapsed) stacks in
``bench/results/profile-<time>.txt`` (``flamegraph.pl`` or speedscope read them):

- **wall time by step**: the share of the run each step of a batch took. The worker
  runs every ClickHouse and Kafka step of a batch in a thread (``asyncio.to_thread``),
  one step at a time, so each tick is in at most one step; the step is the function that
  thread runs. Validation (``split``) runs on the event loop. For each step, the part
  spent waiting on ClickHouse's socket is shown.
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

IDLE_LEAVES = ("recv_into", "recv (", "select (", "poll (", "wait (", "_recv_into",
               "read (socket", "epoll", "sleep (")
WAITING_ON_CLICKHOUSE = "clickhouse_driver"


def parse(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw format: one line per distinct stack, ``frame;frame;... count``."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def step_of(frames: list[str]) -> str | None:
    """The batch step a thread's stack is in: the function a worker thread runs (the frame
    after concurrent.futures' ``run``), or ``split`` (validation) on the event loop."""
    for i, frame in enumerate(frames):
        if frame.startswith("run (") and "concurrent/futures/thread.py" in frame:
            return frames[i + 1].split(" (")[0] if i + 1 < len(frames) else None
        if frame.startswith("split (") and "streams/ingest.py" in frame:
            return "split (validation, event loop)"
    return None


def idle(frames: list[str]) -> bool:
    return any(frames[-1].startswith(leaf) or leaf in frames[-1] for leaf in IDLE_LEAVES)


def summarise(stacks: list[tuple[list[str], int]], ticks: int) -> str:
    steps: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    cpu: Counter[str] = Counter()
    for frames, n in stacks:
        step = step_of(frames)
        if step is not None:
            steps[step] += n
            if idle(frames) and any(WAITING_ON_CLICKHOUSE in f for f in frames):
                waiting[step] += n
        if not idle(frames):
            leaf = frames[-1]
            cpu[leaf.split(" (")[0] + " (" + leaf.split(" (", 1)[-1].split("/")[-1]] += n
    lines = [f"wall time by step (of {ticks:,} ticks)", f"{'step':<44} {'share':>7} "
             f"{'waiting on ClickHouse':>22}"]
    for step, n in steps.most_common():
        lines.append(f"{step:<44} {100 * n / ticks:>6.1f}% {100 * waiting[step] / ticks:>21.1f}%")
    busy = sum(steps.values())
    lines.append(f"{'(no step: faust, fetching, between batches)':<44} "
                 f"{100 * (ticks - busy) / ticks:>6.1f}%")
    total_cpu = sum(cpu.values())
    lines += ["", f"CPU by function (leaf), of {total_cpu:,} non-waiting samples"]
    for leaf, n in cpu.most_common(15):
        lines.append(f"  {100 * n / total_cpu:5.1f}%  {leaf}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    args = parser.parse_args(argv)

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
                [str(Path(sys.executable).parent / "py-spy"), "record", "--idle", "--threads",
                 "--subprocesses", "--format", "raw", "--rate", str(args.rate), "--output",
                 str(out), "--pid", str(w.proc.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            t0 = time.monotonic()
            while True:
                landed = sum(wh.execute(f"SELECT count() FROM {t}")[0][0] for t in
                             ("kiosk_ratings_raw", "qr_surveys_raw", "camera_observations_raw"))
                if landed >= msgs.total:
                    break
                if w.proc.poll() is not None or spy.poll() is not None:
                    raise RuntimeError("the worker or py-spy ended early: "
                                       f"{(spy.stderr.read() if spy.stderr else b'')[-500:]!r}")
                time.sleep(0.5)
            seconds = time.monotonic() - t0
            spy.send_signal(signal.SIGINT)
            spy.wait(120)
    stacks = parse(out)
    # every thread is sampled at every tick (--idle): the event loop's samples are the ticks
    by_thread: Counter[str] = Counter()
    for frames, n in stacks:
        by_thread[frames[0]] += n
    ticks = max(by_thread.values())
    print(f"\n{msgs.total:,} events in raw after {seconds:.1f} s "
          f"({msgs.total / seconds:,.0f}/s under the profiler)\n")
    print(summarise(stacks, ticks))
    print(f"\nraw stacks: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where Hailong's stream worker spends its time: figure 3's run under py-spy.

    .venv/bin/python -m bench.profile [--events 300000] [--rate 100] [--bare]
    .venv/bin/python -m bench.profile --from bench/results/profile-<time>.txt [--bare]

``--bare`` profiles the bare faust agent of figure 3b instead (``bench/bare_faust.py``:
the runtime alone, counting), and breaks its event loop's time down by the part of
faust, aiokafka or asyncio that the deepest frame of each sample belongs to
(bench/FAUST.md reads it).

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


# The bare agent's time by the deepest frame of a sample that falls in one of these, in
# this order of precedence from the leaf up (the event loop thread only).
BARE_PARTS = (
    ("aiokafka: fetch, decode records", "aiokafka/"),
    ("faust: consumer, fetch loop and acks", "faust/transport/consumer.py"),
    ("faust: conductor (on_message per record)", "faust/transport/conductor.py"),
    ("faust: channel decode, Event, Message", "faust/channels.py"),
    ("faust: topic decode", "faust/topics.py"),
    ("faust: events", "faust/events.py"),
    ("mode: throttled queue (put, get)", "mode/utils/queues.py"),
    ("faust: stream iteration, take, acks", "faust/streams.py"),
    ("the agent (bench/bare_faust.py)", "bench/bare_faust.py"),
    ("faust: agent", "faust/agents/"),
    ("mode: services and timers", "mode/"),
    ("asyncio: loop, tasks, futures, locks", "asyncio/"),
)


def summarise_bare(stacks: Stacks) -> str:
    """The bare agent's event loop: busy share, and its time by part (see BARE_PARTS)."""
    per_thread: Counter[str] = Counter()
    for frames, n in stacks:
        per_thread[frames[1]] += n
    ticks = max(per_thread.values())
    in_agent: Counter[str] = Counter()
    for frames, n in stacks:
        if any("bench/bare_faust.py" in f for f in frames):
            in_agent[frames[1]] += n
    loop_thread = in_agent.most_common(1)[0][0] if in_agent else per_thread.most_common(1)[0][0]
    parts: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    busy = 0
    for frames, n in stacks:
        if frames[1] != loop_thread or frames[-1].startswith(IDLE_LEAVES):
            continue
        busy += n
        leaves[frames[-1]] += n
        part = next(
            (name for frame in reversed(frames) for name, marker in BARE_PARTS if marker in frame),
            "other",
        )
        parts[part] += n
    lines = [
        f"the bare agent's event loop ({loop_thread.split(': ')[-1]}): busy "
        f"{100 * busy / ticks:.1f}% of wall time ({ticks:,} ticks); its busy time by the "
        "deepest frame's part:"
    ]
    for part, n in parts.most_common():
        lines.append(f"  {part:<48} {100 * n / busy:5.1f}%")
    lines += ["", "busy time by function (leaf):"]
    for leaf, n in leaves.most_common(20):
        lines.append(f"  {100 * n / busy:5.1f}%  {leaf}")
    return "\n".join(lines)


def _spy(pid: int, out: Path, rate: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - the venv's own py-spy
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--idle",
            "--threads",
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--output",
            str(out),
            "--pid",
            str(pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def profile_bare(events: int, rate: int, out: Path) -> str:
    """Figure 3b's bare agent on ``events`` pre-loaded events, under py-spy."""
    import tempfile

    from bench.figures.runtime import ROOT
    from infra.worker import start_worker, stop_worker

    with lab(False, print) as the_lab, tempfile.TemporaryDirectory() as tmp:
        s = the_lab.settings
        msgs = preload(s, events)
        print(f"pre-loaded {msgs.total:,} events {msgs.counts}", flush=True)
        done = Path(tmp) / "done.json"
        proc = start_worker(
            s,
            Path(tmp) / "bare.log",
            command=(sys.executable, "-m", "bench.bare_faust", str(msgs.total), str(done)),
            cwd=ROOT,
        )
        try:
            t0 = wait_for_group(s, proc)
            spy = _spy(proc.pid, out, rate)
            while not done.exists():
                if proc.poll() is not None or spy.poll() is not None:
                    raise RuntimeError("the bare agent or py-spy ended early")
                time.sleep(0.05)
            seconds = time.monotonic() - t0
            spy.send_signal(signal.SIGINT)
            spy.wait(120)
        finally:
            stop_worker(proc, 60.0)
    rate_s = msgs.total / seconds
    return f"{msgs.total:,} events counted in {seconds:.1f} s ({rate_s:,.0f}/s under the profiler)"


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
    parser.add_argument(
        "--bare", action="store_true", help="the bare faust agent (figure 3b), not the worker"
    )
    args = parser.parse_args(argv)
    summary = summarise_bare if args.bare else summarise
    if args.source:
        print(summary(parse(args.source)))
        return 0

    from hailong.settings import load_settings
    from infra.stack import Stack

    Stack(load_settings()).start(lambda _m: None)
    kind = "profile-bare" if args.bare else "profile"
    out = Path(__file__).parent / "results" / f"{kind}-{now().replace(':', '')}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.bare:
        print("\n" + profile_bare(args.events, args.rate, out) + "\n")
        print(summarise_bare(parse(out)))
        print(f"\nraw stacks: {out}")
        return 0
    with lab(False, print) as the_lab:
        s = the_lab.settings
        msgs = preload(s, args.events)
        print(f"pre-loaded {msgs.total:,} events {msgs.counts}", flush=True)
        from warehouse.client import Warehouse

        with worker(s) as w, Warehouse(s) as wh:
            wait_for_group(s, w.proc)
            spy = _spy(w.proc.pid, out, args.rate)
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

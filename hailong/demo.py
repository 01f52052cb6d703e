"""``hailong demo``: the main job end to end, on the real stack.

Starts the stack, prepares the warehouse, starts a stream worker, publishes simulated
kiosk ratings for Hanoi's 126 communes/wards over the current month (plus one resent
duplicate and one invalid event), waits until ClickHouse holds every valid rating,
then prints each office's live index and the month's ranking, both read from
ClickHouse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from hailong.errors import HailongError
from hailong.methodology import Counts, score, two_decimals
from hailong.settings import Settings
from infra.stack import Stack, default_signals
from producers.publisher import Publisher
from producers.simulator import LOCAL_TZ, hanoi_offices, kiosk_ratings
from warehouse.client import Warehouse, sql
from warehouse.migrate import prepare
from warehouse.registry import load_hanoi


def prepare_warehouse(settings: Settings) -> None:
    """Database, schema and the Hanoi registry (all idempotent)."""
    prepare(settings)
    with Warehouse(settings) as wh:
        units, offices = load_hanoi(wh)
        print(f"registry: {units} units, {offices} offices")


def start_worker(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    """A stream worker in a child process; its output goes to .stack/logs/worker.log."""
    log_dir = settings.stack_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "worker.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hailong.cli", "stream"], stdout=log,
            stderr=subprocess.STDOUT, env=os.environ.copy(), preexec_fn=default_signals,
        )
    return proc, str(log_path)


def distinct_kiosk_events(wh: Warehouse) -> int:
    return int(wh.execute("SELECT uniqExact(event_id) FROM kiosk_ratings_raw")[0][0])


def bucketed_kiosk_events(wh: Warehouse) -> int:
    """Presses in the hourly buckets: each landed press is in one, counted or misuse."""
    return int(wh.execute("SELECT sum(k_n + k_misuse) FROM kiosk_hourly FINAL")[0][0])


def wait_for_rows(wh: Warehouse, expected: int, before: tuple[int, int],
                  worker: subprocess.Popen[bytes], log_path: str,
                  timeout_s: float = 180.0) -> None:
    """Wait until raw and the hourly buckets each hold ``expected`` more ratings."""
    deadline = time.monotonic() + timeout_s
    shown = None
    while True:
        raw = distinct_kiosk_events(wh) - before[0]
        bucketed = bucketed_kiosk_events(wh) - before[1]
        if (raw, bucketed) != shown:
            print(f"  landed in ClickHouse: {raw}/{expected} raw, {bucketed}/{expected} in "
                  "hourly buckets", flush=True)
            shown = (raw, bucketed)
        if raw >= expected and bucketed >= expected:
            return
        if worker.poll() is not None:
            raise HailongError(f"the stream worker exited ({worker.returncode}); see {log_path}")
        if time.monotonic() > deadline:
            raise HailongError(f"only {raw} raw / {bucketed} bucketed of {expected} ratings "
                               f"landed in {timeout_s:.0f} s; see {log_path}")
        time.sleep(1)


def print_live_index(settings: Settings, wh: Warehouse) -> None:
    since = datetime.now(UTC) - timedelta(days=30)
    rows = wh.execute(sql("office_index"), {"since_s": int(since.timestamp())})
    print(f"\nLive index per office, last 30 days ({len(rows)} offices; kiosk channel):")
    print(f"  {'office':<10} {'K_n':>5} {'K_sat':>5} {'OSI':>7}  name")
    for office_id, name, _unit, k_n, k_sat in rows:
        osi = score(Counts(k_n=k_n, k_sat=k_sat), settings.weights).osi
        shown = f"{two_decimals(osi)}" if osi is not None else "—"
        print(f"  {office_id:<10} {k_n:>5} {k_sat:>5} {shown:>7}  {name}")


def run(settings: Settings, per_office: int, seed: int) -> None:
    from hailong.cli import rank_and_print  # the same code path as `hailong rank`

    Stack(settings).start()
    prepare_warehouse(settings)
    now = datetime.now(UTC)
    local_now = now.astimezone(LOCAL_TZ)
    month_start = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    worker, log_path = start_worker(settings)
    try:
        with Warehouse(settings) as wh:
            before = (distinct_kiosk_events(wh), bucketed_kiosk_events(wh))
            offices = hanoi_offices()
            events = list(kiosk_ratings(offices, per_office, month_start.astimezone(UTC), now,
                                        seed=seed))
            publisher = Publisher(settings)
            print(f"publishing {len(events)} ratings from {len(offices)} offices "
                  f"({month_start:%Y-%m-%d} .. now) + 1 resent duplicate + 1 invalid event")
            for i in range(0, len(events), 2500):
                publisher.publish(events[i:i + 2500])
                print(f"  published {min(i + 2500, len(events))}/{len(events)}", flush=True)
            publisher.publish([events[0]])  # a device resending: counts once
            publisher.publish_raw(settings.topics.kiosk,
                                  [(b"HN-00004", b'{"schema": "kiosk_rating/1"}')])
            publisher.close()
            wait_for_rows(wh, len(events), before, worker, log_path)
            print_live_index(settings, wh)
        rank_and_print(settings, f"{local_now:%Y-%m}")
        print(f"\nThe invalid event is in topic {settings.topics.deadletter} with its reason; "
              f"worker log: {log_path}")
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()

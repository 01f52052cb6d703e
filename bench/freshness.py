"""Freshness: how long from a kiosk rating produced to it being visible in the view
``office_index_current``, while the worker is busy with background traffic.

    .venv/bin/python -m bench.freshness [--rate 1000] [--probes 30]

Uses its own topics (prefix ``bench.<id>.``) and database on the local stack, starts
its own worker, and removes both afterwards. Prints p50/p95/max in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from confluent_kafka.admin import AdminClient

from hailong.settings import load_settings
from infra.stack import Stack, default_signals
from infra.topics import ensure_topics
from producers.kiosk import KioskDevice
from producers.publisher import Publisher
from producers.simulator import city_traffic, hanoi_offices
from warehouse.client import Warehouse
from warehouse.migrate import prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="background events per second")
    parser.add_argument("--probes", type=int, default=30)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    s = load_settings(clickhouse_database=f"bench_{tag}", topic_prefix=f"bench.{tag}.",
                      consumer_group=f"bench-{tag}")
    Stack(load_settings()).start(lambda _m: None)
    ensure_topics(s, lambda _m: None)
    prepare(s, lambda _m: None)
    env = {**__import__("os").environ, "HAILONG_CLICKHOUSE_DATABASE": s.clickhouse_database,
           "HAILONG_TOPIC_PREFIX": s.topic_prefix, "HAILONG_CONSUMER_GROUP": s.consumer_group}
    worker = subprocess.Popen([sys.executable, "-m", "hailong.cli", "stream"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=default_signals)
    stop = threading.Event()
    now = datetime.now(UTC)
    background = city_traffic(hanoi_offices(), args.rate * 600, now - timedelta(hours=1), now)

    def load() -> None:
        publisher = Publisher(s)
        i, chunk = 0, max(1, args.rate // 10)
        while not stop.is_set() and i < len(background.events):
            t = time.monotonic()
            publisher.publish(background.events[i:i + chunk])
            i += chunk
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))

    latencies: list[float] = []
    wh = Warehouse(s)
    try:
        time.sleep(8)  # worker start-up and first rebalance
        threading.Thread(target=load, daemon=True).start()
        publisher = Publisher(s)
        for n in range(args.probes):
            office = f"PROBE-{n}"
            t0 = time.monotonic()
            publisher.publish([KioskDevice(office, "K1", 5).press(5)])
            while not wh.execute("SELECT k_n FROM office_index_current "
                                 "WHERE office_id = %(o)s AND window = '1h' AND k_n > 0",
                                 {"o": office}):
                time.sleep(0.05)
            latencies.append(time.monotonic() - t0)
            print(f"probe {n + 1}/{args.probes}: {latencies[-1]:.2f} s", flush=True)
    finally:
        stop.set()
        worker.terminate()
        worker.wait(30)
        wh.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        AdminClient({"bootstrap.servers": s.bootstrap_servers}).delete_topics(
            [*s.topics.events, s.topics.deadletter])
    q = statistics.quantiles(latencies, n=20)
    print(f"freshness at {args.rate} events/s background: p50 {statistics.median(latencies):.2f} s,"
          f" p95 {q[18]:.2f} s, max {max(latencies):.2f} s ({len(latencies)} probes)")


if __name__ == "__main__":
    main()

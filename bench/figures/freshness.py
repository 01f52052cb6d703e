"""Figure 4: freshness under a fixed load.

``hailong stream`` runs on the lab's topics while a background thread publishes the
simulator's mix at a fixed rate (2,000 events/s for 60 s; 500 events/s for 20 s with
``--quick``). Every ~2 s a probe publishes one kiosk rating for an office of its own
(``PROBE-<n>``) and polls ``office_index_current`` (window 1h) every 50 ms until the
rating is counted there. The probe offices are added to the lab's registry (Hanoi's,
plus ``PROBE-<n>`` in one commune) before the worker starts: the worker holds events of
offices the registry does not know in the quarantine, where they are never counted.
Freshness is the time from publishing the probe (before Kafka's ack) to it being
visible; the figure reports p50, p95 and p99 of the probes.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from datetime import timedelta
from pathlib import Path

from bench.core import Figure, Lab, Value
from bench.preload import wait_for_group, worker
from hailong.clock import SYSTEM

FULL = (2000, 60.0)  # events/s, seconds
QUICK = (500, 20.0)
PROBE_EVERY_S = 2.0
PROBE_TIMEOUT_S = 60.0
MAX_PROBES = 500


def register_probes(lab: Lab) -> None:
    """A registry version with Hanoi's offices and ``PROBE-0`` .. ``PROBE-<MAX_PROBES-1>``
    in one of its communes, so that the probes count like any office's ratings."""
    from hailong.registry import Office, hanoi_registry
    from warehouse.client import Warehouse
    from warehouse.registry import load_registry

    units, offices, lineage = hanoi_registry()
    commune = next(u for u in units if u.level == "commune" and u.valid_to is None)
    probes = [Office(f"PROBE-{n}", f"probe {n}", commune) for n in range(MAX_PROBES)]
    with Warehouse(lab.settings) as wh:
        load_registry(wh, units, offices + probes, lineage, source="bench: freshness probes")


def _background(lab: Lab, rate: int, seconds: float) -> list[tuple[str, bytes, bytes]]:
    """``rate * seconds`` events of the 7 hours before the last 2, serialized, in time
    order."""
    from hailong.contract import KioskRating, QrSurvey
    from producers.simulator import city_traffic, hanoi_offices

    t = lab.settings.topics
    now = SYSTEM.now()
    # Hours before now: a kiosk's presses are >= 1 minute apart, so the simulator spreads
    # each kiosk's ~180 presses over 3 hours or more, pushing later presses past the
    # window's end; in the future they would be held (ahead of the broker's clock)
    # instead of counted, and the load would be partly cheaper than it says.
    traffic = city_traffic(
        hanoi_offices(),
        int(rate * seconds),
        now - timedelta(hours=9),
        now - timedelta(hours=2),
        seed=11,
    )
    return [
        (
            t.kiosk
            if isinstance(e, KioskRating)
            else t.qr
            if isinstance(e, QrSurvey)
            else t.camera,
            e.key,
            e.to_json(),
        )
        for e in traffic.events
    ]


def freshness(lab: Lab) -> dict[str, float]:
    from hailong.kafka import SIMULATOR, make_producer
    from producers.kiosk import KioskDevice
    from producers.publisher import Publisher
    from warehouse.client import Warehouse

    s = lab.settings
    rate, seconds = QUICK if lab.quick else FULL
    load = _background(lab, rate, seconds)
    stop = threading.Event()
    sent = [0]
    failure: list[BaseException] = []

    def publish_load() -> None:
        try:
            producer = make_producer(s, SIMULATOR)
            t0 = time.monotonic()
            chunk = max(1, rate // 10)
            for i in range(0, len(load), chunk):
                if stop.is_set():
                    break
                for topic, key, value in load[i : i + chunk]:
                    producer.produce(topic, value, key)
                producer.poll(0)
                sent[0] = min(len(load), i + chunk)
                time.sleep(max(0.0, t0 + (i + chunk) / rate - time.monotonic()))
            producer.flush(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)

    latencies: list[float] = []
    register_probes(lab)
    with worker(s) as w, Warehouse(s) as wh:
        proc = w.proc
        wait_for_group(s, proc)
        background = threading.Thread(target=publish_load, daemon=True)
        background.start()
        probe = Publisher(s)
        try:
            time.sleep(PROBE_EVERY_S)  # the first batches of load before the first probe
            n = 0
            while background.is_alive():
                slot = time.monotonic()
                office = f"PROBE-{n}"
                t0 = time.monotonic()
                probe.publish([KioskDevice(office, "K1", 5).press(5)])
                while not wh.execute(
                    "SELECT k_n FROM office_index_current "
                    "WHERE office_id = %(o)s AND window = '1h' AND k_n > 0",
                    {"o": office},
                ):
                    if proc.poll() is not None:
                        raise RuntimeError(f"the worker exited with {proc.returncode}")
                    if time.monotonic() - t0 > PROBE_TIMEOUT_S:
                        raise TimeoutError(f"probe {n} not visible after {PROBE_TIMEOUT_S:.0f} s")
                    time.sleep(0.05)
                latencies.append(time.monotonic() - t0)
                n += 1
                time.sleep(max(0.0, slot + PROBE_EVERY_S - time.monotonic()))
        finally:
            stop.set()
            background.join(60)
            probe.close()
        batches = batch_seconds(w.log)
    if failure:
        raise RuntimeError(f"background load failed: {failure[0]}")
    if len(latencies) < 5:
        raise RuntimeError(f"only {len(latencies)} probes")
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    lab.progress(
        f"{len(latencies)} probes at {rate:,} events/s background "
        f"({sent[0]:,} events sent): median {statistics.median(latencies):.2f} s, "
        f"max {max(latencies):.2f} s"
    )
    b = statistics.quantiles(batches, n=100, method="inclusive") if len(batches) > 1 else [0.0] * 99
    lab.progress(
        f"{len(batches)} batches: their work took {statistics.median(batches or [0.0]):.2f} s "
        f"at the median, {b[98]:.2f} s at p99, {max(batches or [0.0]):.2f} s at most"
    )
    return {
        "p50_s": statistics.median(latencies),
        "p95_s": q[94],
        "p99_s": q[98],
        "batch_p50_s": statistics.median(batches or [0.0]),
        "batch_p99_s": b[98],
    }


_BATCH = re.compile(r"landed \d+ kiosk, \d+ qr, \d+ camera events, \d+ dead letters in ([0-9.]+) s")


def batch_seconds(log_path: Path) -> list[float]:
    """How long each batch's work took (taken to acknowledged), from the worker's log."""
    text = log_path.read_text("utf-8", errors="replace") if log_path.exists() else ""
    return [float(m.group(1)) for m in _BATCH.finditer(text)]


FIGURES = [
    Figure(
        "4-freshness",
        "Freshness: produce to visible in office_index_current",
        (
            Value("p50_s", "s", higher_is_better=False),
            Value("p95_s", "s", higher_is_better=False),
            Value("p99_s", "s", higher_is_better=False),
            # the worker's own batches meanwhile: from taken to acknowledged
            Value("batch_p50_s", "s", higher_is_better=False),
            Value("batch_p99_s", "s", higher_is_better=False),
        ),
        freshness,
        note="2,000 events/s background for 60 s (500/s for 20 s with --quick), a probe every ~2 s",
    ),
]

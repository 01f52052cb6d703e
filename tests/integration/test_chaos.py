"""Issue 4's acceptance run, on the real broker and server: ≥ 200k simulated events
(kiosk, QR, camera) with invalid events, resent duplicates and reused QR tokens; the
worker is SIGKILLed three times and ClickHouse is stopped for 30 s. Afterwards every
valid event is in raw exactly once, every invalid one is in the dead-letter topic, and
the streamed hourly buckets equal the ones recomputed from raw."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hailong.contract import CameraObservation, KioskRating, QrSurvey
from hailong.settings import Settings
from infra.stack import Stack
from infra.worker import start_worker as launch_worker
from producers.publisher import Publisher
from producers.simulator import city_traffic, hanoi_offices
from tests.conftest import read_topic, wait_until
from warehouse.client import Warehouse
from warehouse.reconcile import describe, reconcile

pytestmark = pytest.mark.integration

RAW = {"kiosk": "kiosk_ratings_raw", "qr": "qr_surveys_raw", "camera": "camera_observations_raw"}


def test_kills_and_outage_lose_nothing_and_count_nothing_twice(
    settings: Settings, stack: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def say(line: str) -> None:
        """Past pytest's capture: the run's figures belong in every CI log."""
        with capsys.disabled():
            print(f"\n[chaos] {line}", end="", flush=True)

    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    traffic = city_traffic(
        hanoi_offices(),
        201_000,
        start,
        end,
        seed=11,
        invalid=600,
        resent=1_000,
        reused_tokens=150,
        misuse_bursts=60,
        late=300,
        skewed_devices=5,
    )
    valid = traffic.events + traffic.late + traffic.reused_tokens
    expected = {
        "kiosk": {e.event_id for e in valid if isinstance(e, KioskRating)},
        "qr": {e.event_id for e in valid if isinstance(e, QrSurvey)},
        "camera": {e.event_id for e in valid if isinstance(e, CameraObservation)},
    }
    assert sum(map(len, expected.values())) >= 200_000
    publisher = Publisher(settings)
    publisher.publish(traffic.events)
    publisher.publish(traffic.late + traffic.resent + traffic.reused_tokens)
    topic = {
        "kiosk": settings.topics.kiosk,
        "qr": settings.topics.qr,
        "camera": settings.topics.camera,
    }
    for channel, value in traffic.invalid:
        publisher.publish_raw(topic[channel], [(b"HN-00004", value)])
    publisher.close()

    def start_worker() -> subprocess.Popen[bytes]:
        return launch_worker(settings, tmp_path / "worker.log")

    wh = Warehouse(settings)

    def landed() -> int:
        return sum(wh.execute(f"SELECT count() FROM {t}")[0][0] for t in RAW.values())

    total = sum(map(len, expected.values()))
    worker = start_worker()
    try:
        # Three kills at random-ish moments, each after more data has landed.
        for fraction in (0.15, 0.35, 0.55):
            wait_until(lambda f=fraction: landed() >= f * total, 180, f"{fraction:.0%} landed")
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            say(f"killed the worker with SIGKILL at {landed()} raw rows")
            worker = start_worker()
        # ClickHouse down for 30 s while the worker runs.
        wait_until(lambda: landed() >= 0.7 * total, 180, "70% landed")
        clickhouse = Stack(stack).clickhouse
        clickhouse.stop(lambda _m: None)
        down_at = time.monotonic()
        time.sleep(30)
        assert worker.poll() is None, "the worker must wait for ClickHouse, not die"
        clickhouse.start(lambda _m: None)
        say(f"ClickHouse was down for {time.monotonic() - down_at:.1f} s")
        wh = Warehouse(settings)

        def everything_landed() -> bool:
            return all(
                wh.execute(f"SELECT uniqExact(event_id) FROM {RAW[ch]}")[0][0] == len(ids)
                for ch, ids in expected.items()
            )

        wait_until(everything_landed, 300, "every valid event to land")
        # one more batch interval, so the last batch's bucket refresh is done too
        time.sleep(3)
    finally:
        worker.terminate()
        worker.wait(30)

    # Every valid event in raw exactly once (after ReplacingMergeTree's FINAL).
    for channel, ids in expected.items():
        rows = wh.execute(f"SELECT event_id FROM {RAW[channel]} FINAL")
        assert len(rows) == len(ids), channel
        assert {r[0] for r in rows} == ids, channel
        say(f"{channel}: {len(ids)} valid events, each once in {RAW[channel]}")

    # Every invalid event in the dead-letter topic, with its reason and original bytes.
    letters = [json.loads(m.value()) for m in read_topic(settings, settings.topics.deadletter)]
    sources = {(d["source_topic"], d["partition"], d["offset"]) for d in letters}
    assert len(sources) == len(traffic.invalid)
    injected = {value for _, value in traffic.invalid}
    assert {base64.b64decode(d["raw"]) for d in letters} == injected
    assert all(d["error"] for d in letters)
    say(
        f"dead letters: {len(traffic.invalid)} invalid events, {len(letters)} letters "
        f"(a replay after a kill may repeat one)"
    )

    # Reused tokens counted zero times; streamed buckets equal the reference exactly.
    assert wh.execute("SELECT sum(q_duplicates) FROM qr_hourly FINAL") == [
        (len(traffic.reused_tokens),)
    ]
    report = reconcile(wh, start, end)
    describe(report, say)
    assert report.clean
    assert report.raw_events == total
    kiosk = wh.execute("SELECT sum(k_n), sum(k_misuse) FROM kiosk_hourly FINAL")[0]
    assert sum(kiosk) == len(expected["kiosk"])
    assert kiosk[1] == 60 * 4  # the injected bursts' presses, and nothing else
    say(f"misuse: {kiosk[1]} burst presses flagged; {len(traffic.late)} late ratings landed")
    wh.close()

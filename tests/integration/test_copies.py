"""Each event_id once, through kills and copies, on the real ClickHouse server.

The copy-resolution loss window (issue 11): two copies A and B of one event_id on two
partitions; the worker is killed after some write of the batch that holds A; the replay
brings B first. Here the stream worker's own ``Ingestor.process`` is killed after each of
its writes in turn (every interleaving of one kill with the copies), and its mirror (B
first, then A first on the replay) too. Afterwards the event counts exactly once and the
buckets reconcile with raw.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hailong.contract import CameraObservation, Event, KioskRating, QrSurvey
from hailong.kafka import SIMULATOR, make_producer
from hailong.settings import Settings
from infra.worker import start_worker as launch_worker
from producers.simulator import city_traffic, hanoi_offices
from streams.ingest import Ingestor, Received
from tests.conftest import hailong, wait_until
from tests.events import kiosk_press
from warehouse import claims, landing
from warehouse.channels import CAMERA, KIOSK, QR
from warehouse.client import Warehouse
from warehouse.reconcile import reconcile

pytestmark = pytest.mark.integration

AT = datetime(2026, 10, 14, 2, 30, 7, tzinfo=UTC)


class Killed(BaseException):
    """The worker process dies here (nothing catches it, as nothing catches SIGKILL)."""


class Dying:
    """A Warehouse that dies right after its ``kill_after``-th write (an insert, or an
    INSERT ... SELECT of the bucket refresh) has reached ClickHouse."""

    def __init__(self, wh: Warehouse, kill_after: int) -> None:
        self._wh = wh
        self.kill_after = kill_after
        self.writes = 0

    def _wrote(self) -> None:
        self.writes += 1
        if self.writes == self.kill_after:
            raise Killed(f"killed after write {self.writes}")

    def insert(self, *args: Any) -> Any:
        out = self._wh.insert(*args)
        self._wrote()
        return out

    def execute(self, query: str, params: Any = None) -> Any:
        out = self._wh.execute(query, params)
        if query.lstrip().upper().startswith("INSERT"):
            self._wrote()
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wh, name)


def press(event_id: uuid.UUID, office: str, value: int = 5) -> bytes:
    return kiosk_press(office, f"{office}-K1", AT, value=value, event_id=event_id)


def counted(wh: Warehouse, offices: tuple[str, ...]) -> int:
    """Presses counted in the buckets of these offices (misuse included)."""
    return int(
        wh.execute(
            "SELECT sum(k_n + k_misuse) FROM kiosk_hourly FINAL WHERE office_id IN %(o)s",
            {"o": offices},
        )[0][0]
        or 0
    )


def run(ingestor: Ingestor, messages: list[Received]) -> None:
    asyncio.run(ingestor.process(messages))


def test_a_kill_after_any_write_and_a_replay_in_any_order_count_the_event_once(
    settings: Settings,
) -> None:
    topic = settings.topics.kiosk
    runs = 0
    # Measure how many writes one batch makes, so every one of them is a kill point.
    probe = Ingestor(settings)
    dying = Dying(probe.warehouse, kill_after=0)
    probe.warehouse = dying  # type: ignore[assignment]
    run(probe, [Received(topic, 0, 1, b"P", press(uuid.uuid4(), "P"))])
    writes = dying.writes
    assert writes >= 3, writes  # raw, claims, buckets at the least
    with Warehouse(settings) as wh:
        for kill_after, mirror, other_office in itertools.product(
            range(1, writes + 1), (False, True), (False, True)
        ):
            runs += 1
            eid = uuid.uuid4()
            office_a = f"L{runs}"
            office_b = f"L{runs}-B" if other_office else office_a  # a copy with other content
            a = Received(topic, 3, 40 + runs, office_a.encode(), press(eid, office_a))
            b = Received(topic, 0, 900 + runs, office_b.encode(), press(eid, office_b, 1))
            first, other = (b, a) if mirror else (a, b)
            # The batch that holds the first copy dies after its kill_after-th write.
            worker = Ingestor(settings)
            worker.warehouse = Dying(worker.warehouse, kill_after)  # type: ignore[assignment]
            with pytest.raises(Killed):
                run(worker, [first])
            # The replay (same partition and offset) comes after the other copy.
            run(Ingestor(settings), [other, first])
            offices = tuple({office_a, office_b})
            assert counted(wh, offices) == 1, (kill_after, mirror, other_office)
            # Landing the other copy again later changes nothing either.
            run(Ingestor(settings), [other])
            assert counted(wh, offices) == 1, (kill_after, mirror, other_office)
        report = reconcile(wh, AT - timedelta(hours=1), AT + timedelta(hours=1))
        assert report.clean, [t.differing for t in report.tables]
        assert report.raw_events == runs + 1  # and the probe's event
    print(
        f"loss window: {runs} kill/replay runs ({writes} kill points x mirror x same or "
        "other office), each event counted once; reconcile equal"
    )


def test_two_workers_killed_at_random_land_one_office_split_over_two_partitions_once(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two real worker processes in one consumer group. One office's events arrive on
    two partitions (as when a vendor's client partitions differently), with copies of
    the same event_ids on both, sent at the same moment; the workers are SIGKILLed at
    random and replaced. Afterwards each event_id counts exactly once and the buckets
    reconcile with raw (``hailong reconcile``)."""

    def say(line: str) -> None:
        with capsys.disabled():
            print(f"\n[copies] {line}", end="", flush=True)

    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    office = hanoi_offices()[:1]
    start, end = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC)
    traffic = city_traffic(office, 4_000, start, end, seed=seed, reused_tokens=40, misuse_bursts=8)
    events: list[Event] = [*traffic.events, *traffic.reused_tokens]
    rng.shuffle(events)
    topic = {
        KioskRating: settings.topics.kiosk,
        QrSurvey: settings.topics.qr,
        CameraObservation: settings.topics.camera,
    }
    parts = (0, 11)  # of the 12: as far apart as can be, likely two workers' own
    sends: list[list[tuple[str, int, bytes, bytes]]] = []
    copies = 0
    for e in events:
        home = rng.choice(parts)
        group = [(topic[type(e)], home, e.key, e.to_json())]
        if rng.random() < 0.4:  # a copy on the other partition, at the same moment
            group.append(
                (topic[type(e)], parts[1] if home == parts[0] else parts[0], e.key, e.to_json())
            )
            copies += 1
        if rng.random() < 0.05:  # and a resend on the same partition
            group.append(group[0])
            copies += 1
        sends.append(group)

    def start_worker() -> subprocess.Popen[bytes]:
        return launch_worker(settings, tmp_path / "workers.log")

    workers = [start_worker(), start_worker()]
    kills = 0
    producer = make_producer(settings, SIMULATOR)
    try:
        deadline = time.monotonic() + 45
        next_kill = time.monotonic() + rng.uniform(4, 8)
        for i in range(0, len(sends), 100):  # ~45 s of traffic, kills among it
            for group in sends[i : i + 100]:
                for t, p, key, value in group:
                    producer.produce(t, key=key, value=value, partition=p)
            producer.poll(0)
            time.sleep(max(0.0, min(0.5, deadline - time.monotonic())) / 1.5)
            if time.monotonic() >= next_kill:
                victim = rng.randrange(2)
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                workers[victim] = start_worker()
                kills += 1
                next_kill = time.monotonic() + rng.uniform(3, 8)
        assert producer.flush(60) == 0
        while kills < 4:  # at least four kills, the last ones while the backlog drains
            time.sleep(rng.uniform(2, 5))
            victim = rng.randrange(2)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            workers[victim] = start_worker()
            kills += 1
        wh = Warehouse(settings)
        want = len(events)
        wait_until(lambda: counted_events(wh) == want, 240, f"all {want} events counted")
        time.sleep(2 * settings.batch_within_s + 1)  # the last batch's refresh is done too
        assert all(w.poll() is None for w in workers), "a worker died by itself"
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()

    # Each event_id once: exactly one owned raw row per event, none for anything else.
    owned_rows = 0
    both_landed = wh.execute(  # ids whose copies two workers landed at the same moment
        "SELECT count() FROM (SELECT event_id FROM event_claims WHERE uncontested = 1 "
        "GROUP BY event_id HAVING uniqExact(channel, kafka_partition, kafka_offset) > 1)"
    )[0][0]
    for channel in (KIOSK, QR, CAMERA):
        rows = wh.execute(
            f"SELECT event_id, kafka_partition, kafka_offset FROM {channel.raw_table} FINAL"
        )
        found = claims.lookup(wh, {r[0] for r in rows})
        owned = [
            r
            for r in rows
            if claims.owner(found[r[0]]) == claims.Position(channel.name, r[2], r[1])
        ]
        ids = {
            e.event_id for e in events if topic[type(e)] == getattr(settings.topics, channel.name)
        }
        assert sorted(r[0] for r in owned) == sorted(ids), channel.name
        owned_rows += len(owned)
    assert owned_rows == len(events)
    assert ties(wh) == []  # no two bucket rows with one version and different counts
    result = hailong(
        settings, "reconcile", "--since", start.isoformat(), "--until", end.isoformat()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checked = sum(int(m) for m in re.findall(r"(\d+) buckets checked, equal", result.stdout))
    assert checked > 0 and "DIFFER" not in result.stdout
    say(
        f"seed {seed}: {len(events)} events, {copies} copies, {kills} SIGKILLs of 2 workers; "
        f"{both_landed} event_ids landed by both workers at once, each counted once like "
        f"every other; reconcile: {checked} buckets checked, equal"
    )


def counted_events(wh: Warehouse) -> int:
    """Events in the buckets: each counted event is in exactly one."""
    return int(
        sum(
            wh.execute(q)[0][0] or 0
            for q in (
                "SELECT sum(k_n + k_misuse) FROM kiosk_hourly FINAL",
                "SELECT sum(q_n + q_duplicates) FROM qr_hourly FINAL",
                "SELECT sum(c_n + c_low_confidence + queue_obs) FROM camera_hourly FINAL",
            )
        )
    )


def interleavings(a: list[str], b: list[str]) -> list[list[tuple[int, str]]]:
    """Every order of two workers' steps that keeps each worker's own order."""
    if not a or not b:
        return [[(0, s) for s in a] + [(1, s) for s in b]]
    return [[(0, a[0]), *rest] for rest in interleavings(a[1:], b)] + [
        [(1, b[0]), *rest] for rest in interleavings(a, b[1:])
    ]


def ties(wh: Warehouse) -> list[tuple[Any, ...]]:
    """Bucket rows that share a key and a version but differ in content (read before any
    merge could hide them: without FINAL)."""
    out = []
    for table, key, counts in (
        ("kiosk_hourly", "office_id, hour", "k_n, k_sat, k_misuse"),
        ("qr_hourly", "office_id, hour", "q_n, q_duplicates"),
        (
            "qr_criteria_hourly",
            "office_id, hour, questionnaire, aspect, criterion",
            "answered, satisfied",
        ),
        ("camera_hourly", "office_id, hour", "c_n, c_pos, c_low_confidence, queue_obs"),
        ("kiosk_misuse_flags", "office_id, occurred_at_us, event_id", "misuse"),
    ):
        out += [
            (table, *r)
            for r in wh.execute(
                f"SELECT {key}, version FROM {table} GROUP BY {key}, version "
                f"HAVING uniqExact({counts}) > 1"
            )
        ]
    return out


def test_two_workers_landing_one_event_at_once_count_it_once_in_every_interleaving(
    settings: Settings,
) -> None:
    """Two workers land copies of one new event_id from two partitions at the same
    moment (both look the claims up before either writes one), their steps interleaved
    in every possible order. The copies differ (another office, another value), so the
    buckets of both offices depend on which copy counts. Afterwards the event counts once,
    every bucket equals the reference (reconcile), and no two bucket rows share a
    version with different counts."""
    steps = ["plan", "record", "insert_raw", "refresh"]
    orders = [
        o
        for o in interleavings(steps, steps)
        if o.index((0, "plan")) < o.index((1, "record"))
        and o.index((1, "plan")) < o.index((0, "record"))
    ]  # both uncontested
    assert len(orders) == 40  # the two look-ups first (2 ways), then C(6, 3) = 20
    with Warehouse(settings) as w0, Warehouse(settings) as w1:
        for n, order in enumerate(orders):
            eid = uuid.uuid4()
            offices = (f"X{n}", f"Y{n}")
            mine = [
                KioskRating.model_validate_json(press(eid, offices[0], 5)),
                KioskRating.model_validate_json(press(eid, offices[1], 1)),
            ]
            # and an ordinary press beside each copy, so no bucket holds only the copy
            for o in offices:
                landing.land(
                    w0,
                    [
                        landing.Message(
                            KIOSK,
                            KioskRating.model_validate_json(press(uuid.uuid4(), o, 4)),
                            5,
                            10_000 + n,
                        )
                    ],
                )
            messages = [
                [landing.Message(KIOSK, mine[0], 0, 100 + n)],
                [landing.Message(KIOSK, mine[1], 7, 100 + n)],
            ]
            plans: list[Any] = [None, None]
            whs = (w0, w1)
            for who, step in order:
                if step == "plan":
                    plans[who] = landing.plan(whs[who], messages[who])
                else:
                    getattr(landing, step)(whs[who], plans[who])
            assert all(len(p.landing) == 1 for p in plans)  # both landed their copy
            assert counted(w0, offices) == 3, order  # the two presses and the event once
        report = reconcile(w0, AT - timedelta(hours=1), AT + timedelta(hours=1))
        assert report.clean, [t.differing for t in report.tables]
        assert ties(w0) == []
    print(
        f"{len(orders)} interleavings of two workers landing one event at once: counted "
        "once, reconcile equal, no version ties"
    )

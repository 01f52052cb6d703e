"""The streamed hourly buckets (SQL, refreshed batch by batch, late events included)
equal the independent Python reference of hailong/counting.py, on the Debian 18.16
server and on the current engine (chdb)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hailong import counting
from hailong.contract import CameraObservation, Event, KioskRating, QrSurvey
from hailong.questionnaire import questionnaires
from hailong.settings import Settings
from tests.chdb_warehouse import ChdbWarehouse
from warehouse import landing
from warehouse.buckets import epoch_us
from warehouse.channels import CAMERA, KIOSK, QR, Channel
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration

BASE = datetime(2026, 10, 31, 16, 59, 50, tzinfo=UTC)  # near an hour (and local month) line
CODES = sorted(questionnaires()["sipas-5/1"].criterion_codes)


def random_events(seed: int) -> list[Event]:
    """Edge-heavy traffic: presses 3.9/4.0/0 s apart around hour lines, reused QR tokens
    across hours, confidences at 0.59/0.6/0.61."""
    rng = random.Random(seed)
    at = lambda s: BASE + timedelta(seconds=s)  # noqa: E731
    out: list[Event] = []
    for office in ("O1", "O2"):
        for device in ("D1", "D2"):
            t = 0.0
            for _ in range(60):
                t += rng.choice([0, 1.5, 3.9, 3.999999, 4.0, 4.000001, 30, 200])
                scale = rng.choice([3, 4, 5])
                out.append(
                    KioskRating.model_validate(
                        {
                            "schema": "kiosk_rating/1",
                            "event_id": uuid.UUID(int=rng.getrandbits(128)),
                            "office_id": office,
                            "device_id": device,
                            "occurred_at": at(t),
                            "scale": scale,
                            "value": rng.randint(1, scale),
                        }
                    )
                )
        tokens = [f"{office}-tok{i}" for i in range(25)]
        for _ in range(50):
            answers = {c: rng.randint(1, 5) for c in rng.sample(CODES, rng.randint(1, 6))}
            out.append(
                QrSurvey.model_validate(
                    {
                        "schema": "qr_survey/1",
                        "event_id": uuid.UUID(int=rng.getrandbits(128)),
                        "token_id": rng.choice(tokens),
                        "office_id": office,
                        "submitted_at": at(rng.uniform(-3600, 7200)),
                        "questionnaire": "sipas-5/1",
                        "answers": answers,
                    }
                )
            )
        for _ in range(60):
            kind = rng.choice(["sentiment", "sentiment", "queue"])
            fields: dict[str, Any] = (
                {
                    "sentiment": rng.choice(["positive", "neutral", "negative"]),
                    "confidence": rng.choice([0.59, 0.6, 0.61, 0.95, 0.1]),
                }
                if kind == "sentiment"
                else {
                    "queue_length": rng.randint(0, 30),
                    **({"wait_seconds": rng.uniform(0, 900)} if rng.random() < 0.7 else {}),
                }
            )
            out.append(
                CameraObservation.model_validate(
                    {
                        "schema": "camera_observation/1",
                        "event_id": uuid.UUID(int=rng.getrandbits(128)),
                        "office_id": office,
                        "camera_id": "C1",
                        "observed_at": at(rng.uniform(-600, 5000)),
                        "kind": kind,
                        **fields,
                    }
                )
            )
    return out


def channel_of(event: Event) -> Channel[Any]:
    if isinstance(event, KioskRating):
        return KIOSK
    return QR if isinstance(event, QrSurvey) else CAMERA


def land(wh: Any, events: list[Event], rng: random.Random) -> None:
    """Land events in random order, in random batches, with resends (later offsets, or
    another partition), the way the worker does (warehouse/landing.py)."""
    order = events + rng.sample(events, 20)
    rng.shuffle(order)
    offset = 0
    while order:
        size = rng.randint(1, 60)
        batch, order = order[:size], order[size:]
        messages = []
        for e in batch:
            messages.append(landing.Message(channel_of(e), e, rng.randint(0, 1), offset))
            offset += 1
        landing.land(wh, messages)


def hour_us(value: Any) -> int:
    if isinstance(value, datetime):
        return epoch_us(value.replace(tzinfo=UTC) if value.tzinfo is None else value)
    return epoch_us(datetime.fromisoformat(str(value)).replace(tzinfo=UTC))


def reference(events: list[Event]) -> dict[str, Any]:
    presses = [
        counting.Press(
            e.event_id, e.office_id, e.device_id, epoch_us(e.occurred_at), e.scale, e.value
        )
        for e in events
        if isinstance(e, KioskRating)
    ]
    q = questionnaires()["sipas-5/1"]
    subs = [
        counting.Submission(
            e.event_id,
            e.office_id,
            e.token_id,
            epoch_us(e.submitted_at),
            e.questionnaire,
            tuple((q.aspect_of(c), c, v) for c, v in e.answers.items()),
        )
        for e in events
        if isinstance(e, QrSurvey)
    ]
    obs = [
        counting.Observation(
            e.event_id,
            e.office_id,
            epoch_us(e.observed_at),
            e.kind,
            e.sentiment,
            e.confidence,
            e.queue_length,
            e.wait_seconds,
        )
        for e in events
        if isinstance(e, CameraObservation)
    ]
    qr_subs, qr_crit = counting.qr_buckets(subs)
    return {
        "kiosk": counting.kiosk_buckets(presses),
        "misuse": counting.misuse(presses),
        "qr": qr_subs,
        "qr_criteria": qr_crit,
        "camera": counting.camera_buckets(obs),
    }


def streamed(wh: Any) -> dict[str, Any]:
    kiosk = {
        (o, hour_us(h)): (n, s, m)
        for o, h, n, s, m in wh.execute(
            "SELECT office_id, hour, k_n, k_sat, k_misuse FROM kiosk_hourly FINAL"
        )
    }
    misuse = {
        uuid.UUID(str(e))
        for (e,) in wh.execute("SELECT event_id FROM kiosk_misuse_flags FINAL WHERE misuse = 1")
    }
    qr = {
        (o, hour_us(h)): (n, d)
        for o, h, n, d in wh.execute(
            "SELECT office_id, hour, q_n, q_duplicates FROM qr_hourly FINAL"
        )
    }
    crit = {
        (o, hour_us(h), q, a, c): (n, s)
        for o, h, q, a, c, n, s in wh.execute(
            "SELECT office_id, hour, questionnaire, aspect, criterion, answered, satisfied "
            "FROM qr_criteria_hourly FINAL"
        )
    }
    camera = {
        (r[0], hour_us(r[1])): (*r[2:9], pytest.approx(r[9]))
        for r in wh.execute(
            "SELECT office_id, hour, c_n, c_pos, c_low_confidence, queue_obs, queue_length_sum, "
            "queue_length_max, wait_obs, wait_seconds_sum FROM camera_hourly FINAL"
        )
    }
    return {"kiosk": kiosk, "misuse": misuse, "qr": qr, "qr_criteria": crit, "camera": camera}


@pytest.mark.parametrize("seed", [1, 2])
def test_streamed_buckets_equal_the_reference(
    settings: Settings, chdb_schema: ChdbWarehouse, seed: int
) -> None:
    events = random_events(seed)
    expected = reference(events)
    assert len(expected["misuse"]) > 10 and any(d for _, d in expected["qr"].values())
    with Warehouse(settings) as server:
        land(server, events, random.Random(seed))
        on_server = streamed(server)
    land(chdb_schema, events, random.Random(seed))
    on_chdb = streamed(chdb_schema)
    for key in expected:
        assert on_server[key] == expected[key], f"server: {key}"
        assert on_chdb[key] == expected[key], f"chdb: {key}"


def test_reconcile_finds_and_repairs_unrefreshed_buckets(settings: Settings) -> None:
    from warehouse.reconcile import office_groups, reconcile, repair

    events = random_events(3)
    landed, crashed = events[: len(events) // 2], events[len(events) // 2 :]
    start, end = BASE - timedelta(hours=2), BASE + timedelta(hours=3)
    with Warehouse(settings) as wh:
        land(wh, landed, random.Random(3))
        report = reconcile(wh, start, end)
        assert report.clean, [t.differing for t in report.tables]
        assert report.raw_events == len(landed)
        # a worker that died between its claims and the bucket refresh, never replayed
        plan = landing.plan(
            wh, [landing.Message(channel_of(e), e, 1, 10_000 + i) for i, e in enumerate(crashed)]
        )
        landing.record(wh, plan)
        landing.insert_raw(wh, plan)
        report = reconcile(wh, start, end)
        differing = {t.table: len(t.differing) for t in report.tables}
        assert differing["kiosk_hourly"] and differing["qr_hourly"] and differing["camera_hourly"]
        # an office at a time (as a big month is reconciled): the same report
        lo, hi = report.start_us, report.end_us
        assert office_groups(wh, lo, hi, max_rows=1) == [["O1"], ["O2"]]
        assert office_groups(wh, lo, hi) == [["O1", "O2"]]
        by_office = reconcile(wh, start, end, max_rows=1)
        assert by_office.raw_events == report.raw_events
        assert [(t.table, t.checked, t.differing) for t in by_office.tables] == [
            (t.table, t.checked, t.differing) for t in report.tables
        ]
        repair(wh, report)
        report = reconcile(wh, start, end)
        assert report.clean, [t.differing for t in report.tables]
        assert report.raw_events == len(events)
        # and the repaired buckets are the reference's
        assert streamed(wh) == reference(events)

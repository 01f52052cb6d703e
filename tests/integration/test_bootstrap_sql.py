"""The bootstrap's samples (pipelines/bootstrap.py, read by pipelines/ranking_store.py
with warehouse/sql/unit_qr_submissions.sql) are the ranking's events, on the Debian
18.16 server and on the current engine (chdb): landed through the platform's own
writers and bucket refreshes, hand-checked."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hailong.contract import CameraObservation, Event, KioskRating, QrSurvey
from hailong.methodology import Weights
from hailong.questionnaire import questionnaires
from hailong.registry import Office, Unit
from hailong.settings import Settings
from pipelines import ranking_store
from pipelines.bootstrap import UnitSample, bootstrap_intervals, inconsistent_units
from pipelines.ranking import Period, build_ranking
from pipelines.ranking_store import unit_counts, unit_samples
from tests.chdb_warehouse import ChdbWarehouse
from warehouse import landing
from warehouse.channels import CAMERA, KIOSK, QR, Channel
from warehouse.client import Warehouse
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration

OCTOBER = Period.parse("2026-10")  # local: [2026-09-30 17:00, 2026-10-31 17:00) UTC
Q = questionnaires()["sipas-5/1"]


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def eid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def survey(n: int, office: str, token: str, at: datetime, **answers: int) -> QrSurvey:
    return QrSurvey.model_validate(
        {
            "schema": "qr_survey/1",
            "event_id": eid(n),
            "token_id": token,
            "office_id": office,
            "submitted_at": at,
            "questionnaire": "sipas-5/1",
            "answers": answers,
        }
    )


def press(n: int, office: str, at: datetime, value: int) -> KioskRating:
    return KioskRating.model_validate(
        {
            "schema": "kiosk_rating/1",
            "event_id": eid(n),
            "office_id": office,
            "device_id": "D1",
            "occurred_at": at,
            "scale": 4,
            "value": value,
        }
    )


def sentiment(n: int, office: str, at: datetime, mood: str, confidence: float) -> Event:
    return CameraObservation.model_validate(
        {
            "schema": "camera_observation/1",
            "event_id": eid(n),
            "office_id": office,
            "camera_id": "C1",
            "observed_at": at,
            "kind": "sentiment",
            "sentiment": mood,
            "confidence": confidence,
        }
    )


# Counted in October, by unit. 90001 = offices O1 + O2, 90002 = O3.
COUNTED = {
    "90001": [
        survey(101, "O1", "t1", utc(10, 5, 3), A1=5, A2=4, P1=2),
        survey(103, "O1", "t3", utc(9, 30, 17, 10), S1=4),  # 2026-10-01 00:10 local
        survey(104, "O1", "t4", utc(10, 20, 9), A1=1, R2=5, F4=4),
        survey(105, "O1", "t5", utc(10, 21, 9), A1=3),
        survey(112, "O2", "u2", utc(10, 9, 8), P3=4, S1=1),  # landed late, earlier: counts
        survey(113, "O2", "u3", utc(10, 12, 1), A1=4, A2=4, A3=4, A4=4),
    ],
    "90002": [
        survey(121, "O3", "v1", utc(10, 2, 2), A1=5, P1=5, S1=5, R1=5, F1=5),
        survey(122, "O3", "v2", utc(10, 2, 2), A1=2, P1=2),
        survey(123, "O3", "v3", utc(10, 30, 23), A2=4),
    ],
}
NOT_COUNTED = [
    survey(102, "O1", "t1", utc(10, 6, 3), A1=1, A2=1, P1=1),  # t1 reused: later, out
    survey(106, "O1", "t6", utc(9, 20, 9), A1=5),  # counts in September
    survey(107, "O1", "t6", utc(10, 3, 9), A1=1, P2=1),  # t6 reused in October: out
    survey(108, "O1", "t8", utc(10, 31, 17, 30), A1=5),  # 2026-11-01 00:30 local
    survey(109, "O1", "t9", utc(9, 30, 16, 50), A1=5),  # 2026-09-30 23:50 local
    survey(111, "O2", "u2", utc(10, 10, 8), P3=1, S1=1),  # a later one of u2, landed first
    survey(131, "OX", "x1", utc(10, 5, 5), A1=5),  # office not registered
]
LATE: list[Event] = [COUNTED["90001"][4]]
OTHERS: list[Event] = [
    press(201, "O1", utc(10, 7, 2), 4),
    press(202, "O1", utc(10, 7, 3), 1),
    press(203, "O1", utc(10, 7, 3, 0), 4),  # same second as 202: misuse, not counted
    press(204, "O3", utc(10, 8, 2), 3),
    sentiment(301, "O2", utc(10, 7, 2), "positive", 0.6),
    sentiment(302, "O2", utc(10, 7, 2), "negative", 0.95),
    sentiment(303, "O2", utc(10, 7, 2), "positive", 0.59),  # low confidence: out
]


def channel_of(event: Event) -> Channel[Any]:
    if isinstance(event, KioskRating):
        return KIOSK
    return QR if isinstance(event, QrSurvey) else CAMERA


def land(wh: Any, batches: list[list[Event]]) -> None:
    """Each batch as the stream worker lands it (warehouse/landing.py)."""
    offset = 0
    for batch in batches:
        landing.land(
            wh, [landing.Message(channel_of(e), e, 0, offset + i) for i, e in enumerate(batch)]
        )
        offset += len(batch)


def fill(wh: Any) -> None:
    u1 = Unit("90001", "Phường Một", "Phường", "commune", "01", date(2025, 7, 1), None)
    u2 = Unit("90002", "Xã Hai", "Xã", "commune", "01", date(2025, 7, 1), None)
    load_registry(
        wh, [u1, u2], [Office("O1", "o1", u1), Office("O2", "o2", u1), Office("O3", "o3", u2)]
    )
    on_time = [e for unit in COUNTED.values() for e in unit if e not in LATE]
    resent: list[Event] = [COUNTED["90001"][0], NOT_COUNTED[0]]  # copies at later offsets
    land(wh, [on_time + NOT_COUNTED + OTHERS, LATE + resent])


def expected(unit: str, k_n: int, k_sat: int, c_n: int, c_pos: int) -> UnitSample:
    return UnitSample(unit, "commune", k_n=k_n, k_sat=k_sat, c_n=c_n, c_pos=c_pos).with_submissions(
        [
            {(Q.aspect_of(c), f"sipas-5/1:{c}"): v >= 4 for c, v in s.answers.items()}
            for s in COUNTED[unit]
        ]
    )


def check(wh: Any) -> list[UnitSample]:
    counts = unit_counts(wh, OCTOBER)
    samples = unit_samples(wh, OCTOBER)
    assert samples == unit_samples(wh, OCTOBER, counts)
    # read a unit per query (as a big month is read): the same samples
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ranking_store, "QR_CHUNK", 1)
        assert ranking_store._chunks(["90001", "90002"], lambda u: 1, 1) == [["90001"], ["90002"]]
        assert unit_samples(wh, OCTOBER, counts) == samples
    # by hand: 90001 kiosk 201 (sat), 202; camera 301 (+), 302. 90002 kiosk 204 (sat).
    assert samples == [expected("90001", 2, 1, 2, 1), expected("90002", 1, 1, 0, 0)]
    # the ranking's counts are the sums of the sampled events
    assert inconsistent_units(samples, counts) == []
    for sample, c in zip(samples, counts, strict=True):
        assert sample.q_n == c.q_n
        assert {k: v for k, v in c.counts().criteria.items() if v[0]} == sample.counts().criteria
    assert [c.q_n for c in counts] == [6, 3]
    return samples


def test_bootstrap_samples_are_the_rankings_events_on_both_engines(
    settings: Settings, chdb_schema: ChdbWarehouse
) -> None:
    with Warehouse(settings) as server:
        fill(server)
        on_server = check(server)
        counts = unit_counts(server, OCTOBER)
    fill(chdb_schema)
    on_chdb = check(chdb_schema)
    assert on_server == on_chdb
    # so the intervals are the same too, and hold the point scores of the ranking
    rows = build_ranking(OCTOBER, counts, Weights(), 5, datetime(2026, 11, 1, tzinfo=UTC))
    eligible = {r.unit_code for r in rows if r.rank is not None}
    assert eligible == {"90001"}
    intervals = bootstrap_intervals(on_server, eligible, Weights(), seed=2026)
    assert intervals == bootstrap_intervals(on_chdb, eligible, Weights(), seed=2026)
    for r in rows:
        iv = intervals[r.unit_code]
        assert r.score is not None and iv.score_lo is not None and iv.score_hi is not None
        assert iv.score_lo <= r.score <= iv.score_hi
    assert (intervals["90001"].rank_lo, intervals["90001"].rank_hi) == (1, 1)
    assert (intervals["90002"].rank_lo, intervals["90002"].rank_hi) == (None, None)
    # and they go into the ranking rows as they are
    published = build_ranking(
        OCTOBER, counts, Weights(), 5, datetime(2026, 11, 1, tzinfo=UTC), intervals=intervals
    )
    assert {r.unit_code: (r.score_lo, r.score_hi, r.rank_lo, r.rank_hi) for r in published} == {
        code: (iv.score_lo, iv.score_hi, iv.rank_lo, iv.rank_hi) for code, iv in intervals.items()
    }

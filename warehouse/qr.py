"""The QR channel in ClickHouse: raw submissions and hourly (per-criterion) buckets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from hailong.contract import QrSurvey
from hailong.privacy import scrub
from hailong.questionnaire import questionnaires
from warehouse.buckets import Ranges, epoch_us, hour_spans, raw_version, refresh
from warehouse.client import Warehouse

RAW_TABLE = "qr_surveys_raw"


class QrRaw(NamedTuple):
    """A row of ``qr_surveys_raw``: one submission (comment scrubbed), where Kafka had it."""

    event_id: UUID
    token_id: str
    office_id: str
    submitted_at: datetime
    submitted_at_us: int
    questionnaire: str
    answer_codes: list[str]
    answer_aspects: list[str]
    answer_values: list[int]
    overall: int | None
    comment: str | None
    procedure_code: str | None
    dossier_id: str | None
    kafka_partition: int
    kafka_offset: int
    version: int


RAW_COLUMNS = QrRaw._fields
HOURLY_COLUMNS = ("office_id", "hour", "q_n", "q_duplicates", "version")
CRITERIA_COLUMNS = (
    "office_id",
    "hour",
    "questionnaire",
    "aspect",
    "criterion",
    "answered",
    "satisfied",
    "version",
)


def raw_row(event: QrSurvey, partition: int, offset: int) -> QrRaw:
    """The raw row of one submission (comment scrubbed)."""
    q = questionnaires()[event.questionnaire]
    codes = sorted(event.answers)
    ts = event.submitted_at
    return QrRaw(
        event_id=event.event_id,
        token_id=event.token_id,
        office_id=event.office_id,
        submitted_at=ts.replace(microsecond=0),
        submitted_at_us=epoch_us(ts),
        questionnaire=event.questionnaire,
        answer_codes=codes,
        answer_aspects=[q.aspect_of(c) for c in codes],
        answer_values=[event.answers[c] for c in codes],
        overall=event.overall,
        comment=scrub(event.comment) if event.comment is not None else None,
        procedure_code=event.procedure_code,
        dossier_id=event.dossier_id,
        kafka_partition=partition,
        kafka_offset=offset,
        version=raw_version(partition, offset),
    )


def at_us(event: QrSurvey) -> int:
    return epoch_us(event.submitted_at)


def _spans(wh: Warehouse, subs: Sequence[tuple[str, str, int]]) -> Ranges:
    """The hours of submissions (office, token, time in µs) and of every other
    submission of their tokens: a late first submission of a token turns a counted one,
    maybe hours away, into a duplicate."""
    # qr_token_index (migration 0016): by (office, token), not the offices' history
    siblings = wh.execute(
        "SELECT office_id, submitted_at_us FROM qr_token_index "
        "WHERE (office_id, token_id) IN %(tokens)s",
        {"tokens": tuple(sorted({(o, t) for o, t, _ in subs}))},
    )
    return hour_spans([(o, t) for o, _, t in subs] + siblings)


def affected(wh: Warehouse, events: Sequence[QrSurvey]) -> Ranges:
    """The buckets these submissions can change (their hours and their tokens')."""
    return _spans(wh, [(e.office_id, e.token_id, at_us(e)) for e in events])


def refresh_qr(wh: Warehouse, events: Sequence[QrSurvey]) -> None:
    """Recompute from raw the hourly buckets these submissions touch."""
    refresh_ranges(wh, affected(wh, events))


def refresh_at(wh: Warehouse, subs: Sequence[tuple[str, int]]) -> None:
    """Recompute the buckets that submissions at (office, time in µs) touch, their
    tokens' found in raw."""
    offices = sorted({o for o, _ in subs})
    found = wh.execute(
        "SELECT office_id, token_id, submitted_at_us FROM qr_surveys_raw "
        "WHERE office_id IN %(offices)s AND (office_id, submitted_at_us) IN %(at)s",
        {"offices": tuple(offices), "at": tuple(sorted(set(subs)))},
    )
    if found:
        refresh_ranges(wh, _spans(wh, found))


def refresh_ranges(wh: Warehouse, ranges: Ranges) -> None:
    """Recompute from raw the hourly (per-criterion) buckets of these office ranges."""
    refresh(wh, "qr_hourly", HOURLY_COLUMNS, "qr_buckets", ranges)
    refresh(wh, "qr_criteria_hourly", CRITERIA_COLUMNS, "qr_criteria_buckets", ranges)

"""The QR channel in ClickHouse: raw submissions and hourly (per-criterion) buckets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hailong.contract import QrSurvey
from hailong.privacy import scrub
from hailong.questionnaire import questionnaires
from warehouse.buckets import Ranges, epoch_us, hour_spans, raw_version, refresh
from warehouse.client import Warehouse

RAW_TABLE = "qr_surveys_raw"
RAW_COLUMNS = (
    "event_id",
    "token_id",
    "office_id",
    "submitted_at",
    "submitted_at_us",
    "questionnaire",
    "answer_codes",
    "answer_aspects",
    "answer_values",
    "overall",
    "comment",
    "procedure_code",
    "dossier_id",
    "kafka_partition",
    "kafka_offset",
    "version",
)
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


def raw_row(event: QrSurvey, partition: int, offset: int) -> tuple[Any, ...]:
    """The raw row of one submission (comment scrubbed), in RAW_COLUMNS order."""
    q = questionnaires()[event.questionnaire]
    codes = sorted(event.answers)
    ts = event.submitted_at
    return (
        event.event_id,
        event.token_id,
        event.office_id,
        ts.replace(microsecond=0),
        epoch_us(ts),
        event.questionnaire,
        codes,
        [q.aspect_of(c) for c in codes],
        [event.answers[c] for c in codes],
        event.overall,
        scrub(event.comment) if event.comment is not None else None,
        event.procedure_code,
        event.dossier_id,
        partition,
        offset,
        raw_version(partition, offset),
    )


def at_us(event: QrSurvey) -> int:
    return epoch_us(event.submitted_at)


def _spans(wh: Warehouse, subs: Sequence[tuple[str, str, int]]) -> Ranges:
    """The hours of submissions (office, token, time in µs) and of every other
    submission of their tokens: a late first submission of a token turns a counted one,
    maybe hours away, into a duplicate."""
    tokens = sorted({t for _, t, _ in subs})
    offices = sorted({o for o, _, _ in subs})
    siblings = wh.execute(
        "SELECT office_id, submitted_at_us FROM qr_surveys_raw "
        "WHERE office_id IN %(offices)s AND token_id IN %(tokens)s",
        {"offices": tuple(offices), "tokens": tuple(tokens)},
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

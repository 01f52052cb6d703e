"""Wire contract v1 in code: the event models every stage imports.

The one implementation of ``contract.md`` (topics, three event schemas, the dead
letter). It is strict on purpose, because devices of many vendors are held to it:
unknown fields, naive timestamps, numbers sent as strings, booleans sent as numbers,
non-canonical UUIDs, duplicate JSON keys and invalid UTF-8 are all rejected.

Use :func:`parse_event` on the raw Kafka value; it returns a model or raises
:class:`~hailong.errors.InvalidEvent` with a reason fit for the dead-letter topic, and
nothing else, whatever the bytes: the JSON is read by :mod:`hailong.strictjson` (size,
numbers and nesting bounded), and every value must fit the ClickHouse column it lands
in (times within ``DateTime``, ``queue_length`` within ``UInt32``).
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from hailong import strictjson
from hailong.errors import InvalidEvent
from hailong.questionnaire import questionnaires

CONTRACT_VERSION = 1
# What ClickHouse's DateTime holds (UInt32 seconds): an event time outside is refused,
# never wrapped or retried.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)
MAX_UINT32 = 2**32 - 1
MAX_REASON_CHARS = 2000  # a rejection's reason, as the dead letter carries it

_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# RFC 3339 date-time: full date, 'T', full time, optional fraction, mandatory offset.
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


def _identifier(value: object) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise ValueError("must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return value


def _event_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):
        raise ValueError("must be a UUID string like 123e4567-e89b-12d3-a456-426614174000")
    return uuid.UUID(value)


def _timestamp(value: object) -> datetime:
    """Parse an RFC 3339 timestamp with an offset; return it in UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp needs an offset")
        try:
            return _in_range(value.astimezone(UTC))
        except OverflowError:
            raise ValueError("the time is outside the years 1-9999") from None
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    m = _RFC3339_RE.fullmatch(value)
    if not m:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?", value):
            raise ValueError("timestamp has no offset (add Z or +07:00)")
        raise ValueError("must be an RFC 3339 timestamp like 2026-11-24T09:15:02+07:00")
    fraction = (m.group(7) or "")[:7]  # '.' + up to 6 digits: Python keeps microseconds
    offset = m.group(8).upper().replace("Z", "+00:00")
    text = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
    try:
        parsed = datetime.fromisoformat(text + fraction + offset).astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {exc}") from None
    except OverflowError:
        raise ValueError("the time with its offset is outside the years 1-9999") from None
    return _in_range(parsed)


def _in_range(at: datetime) -> datetime:
    if not MIN_TIME <= at <= MAX_TIME:
        raise ValueError(
            "outside the times the platform stores (1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z)"
        )
    return at


def _number(value: object) -> float:
    # JSON numbers only: bool is an int subclass in Python and must not pass.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON number")
    return float(value)


def _scale(value: object) -> int:
    if type(value) is not int or value not in (3, 4, 5):
        raise ValueError("must be the integer 3, 4 or 5")
    return value


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 (lone surrogate escapes are not)") from None
    return value


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Identifier = Annotated[str, BeforeValidator(_identifier)]
EventId = Annotated[uuid.UUID, BeforeValidator(_event_uuid), PlainSerializer(str)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp), PlainSerializer(_rfc3339)]
Text = Annotated[StrictStr, AfterValidator(_utf8)]
Number = Annotated[float, BeforeValidator(_number)]


ProcedureCode = Annotated[Text, Field(max_length=32)]
DossierId = Annotated[Text, Field(max_length=64)]
QuestionnaireId = Annotated[Text, Field(max_length=32)]
Comment = Annotated[Text, Field(max_length=1000)]


class _Event(BaseModel):
    """Common rules: unknown fields rejected, values never coerced, models immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, populate_by_name=True
    )

    event_id: EventId
    office_id: Identifier

    def to_json(self) -> bytes:
        """The wire form: UTF-8 JSON, absent optional fields left out."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")

    @property
    def key(self) -> bytes:
        """The Kafka key: the office, so an office's events stay in order."""
        return self.office_id.encode("utf-8")


class KioskRating(_Event):
    """``kiosk_rating/1``: a press on a rating device at a counter."""

    schema_: Literal["kiosk_rating/1"] = Field(alias="schema")
    device_id: Identifier
    counter_id: Identifier | None = None
    staff_id: Identifier | None = None
    procedure_code: ProcedureCode | None = None
    dossier_id: DossierId | None = None
    occurred_at: Timestamp
    scale: Annotated[int, BeforeValidator(_scale)]
    value: StrictInt

    @model_validator(mode="after")
    def _value_within_scale(self) -> KioskRating:
        if not 1 <= self.value <= self.scale:
            raise ValueError(
                f"value {self.value} is outside 1..{self.scale} for scale {self.scale}"
            )
        return self

    @property
    def satisfied(self) -> bool:
        """Top two levels of the device's scale count as satisfied (SIPAS convention)."""
        return self.value >= self.scale - 1

    @property
    def timestamp(self) -> datetime:
        return self.occurred_at


class QrSurvey(_Event):
    """``qr_survey/1``: a survey submitted from a signed QR code."""

    schema_: Literal["qr_survey/1"] = Field(alias="schema")
    token_id: Identifier
    submitted_at: Timestamp
    questionnaire: QuestionnaireId
    answers: dict[str, Annotated[StrictInt, Field(ge=1, le=5)]] = Field(min_length=1)
    overall: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    comment: Comment | None = None
    procedure_code: ProcedureCode | None = None
    dossier_id: DossierId | None = None

    @model_validator(mode="after")
    def _answers_belong_to_questionnaire(self) -> QrSurvey:
        known = questionnaires().get(self.questionnaire)
        if known is None:
            raise ValueError(f"unknown questionnaire {self.questionnaire!r}")
        foreign = sorted(set(self.answers) - known.criterion_codes)
        if foreign:
            raise ValueError(f"answers {foreign} are not criteria of {self.questionnaire}")
        return self

    @property
    def timestamp(self) -> datetime:
        return self.submitted_at


class CameraObservation(_Event):
    """``camera_observation/1``: what an analytics camera derived, never what it saw."""

    schema_: Literal["camera_observation/1"] = Field(alias="schema")
    camera_id: Identifier
    observed_at: Timestamp
    kind: Literal["sentiment", "queue"]
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    confidence: Annotated[Number, Field(ge=0, le=1)] | None = None
    track_id: Identifier | None = None
    queue_length: Annotated[StrictInt, Field(ge=0, le=MAX_UINT32)] | None = None
    wait_seconds: Annotated[Number, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _fields_match_kind(self) -> CameraObservation:
        own = {"sentiment": ("sentiment", "confidence"), "queue": ("queue_length",)}
        other = {
            "sentiment": ("queue_length", "wait_seconds"),
            "queue": ("sentiment", "confidence"),
        }
        missing = [f for f in own[self.kind] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"kind {self.kind!r} requires {', '.join(missing)}")
        stray = [f for f in other[self.kind] if getattr(self, f) is not None]
        if stray:
            raise ValueError(f"kind {self.kind!r} does not take {', '.join(stray)}")
        return self

    @property
    def timestamp(self) -> datetime:
        return self.observed_at


Event = KioskRating | QrSurvey | CameraObservation

MODELS: dict[str, type[_Event]] = {
    "kiosk_rating/1": KioskRating,
    "qr_survey/1": QrSurvey,
    "camera_observation/1": CameraObservation,
}
# Which schema each topic carries (the topic names without the configurable prefix).
TOPIC_SCHEMAS = {
    "satisfaction.kiosk.v1": "kiosk_rating/1",
    "satisfaction.qr.v1": "qr_survey/1",
    "satisfaction.camera.v1": "camera_observation/1",
}


class DeadLetter(BaseModel):
    """``dead_letter/1``: a rejected event with its original bytes and the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["dead_letter/1"] = Field("dead_letter/1", alias="schema")
    source_topic: str
    partition: int
    offset: int
    key: str | None
    raw: str = Field(description="the original value, base64")
    error: str
    rejected_at: Timestamp

    @classmethod
    def for_message(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes,
        error: str,
        rejected_at: datetime,
    ) -> DeadLetter:
        return cls(
            source_topic=topic,
            partition=partition,
            offset=offset,
            # A key that is not UTF-8 is kept readable; the exact bytes stay in Kafka.
            key=None if key is None else key.decode("utf-8", errors="backslashreplace"),
            raw=base64.b64encode(value).decode("ascii"),
            error=error,
            rejected_at=rejected_at,
        )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode("utf-8")


def _format_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "event"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not in contract v1)"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_event(raw: bytes, topic: str | None = None) -> Event:
    """Validate one Kafka value against contract v1.

    ``topic`` is the topic name without prefix; when given, the event's schema must
    be the one that topic carries. Raises :class:`InvalidEvent` with a readable reason.
    """
    try:
        obj = strictjson.loads(raw)
    except strictjson.JsonRefused as exc:
        raise InvalidEvent(str(exc)) from None
    if not isinstance(obj, dict):
        raise InvalidEvent("value must be a JSON object")
    schema = obj.get("schema")
    model = MODELS.get(schema) if isinstance(schema, str) else None
    if model is None:
        shown = repr(schema)[:80] if isinstance(schema, str) else type(schema).__name__
        raise InvalidEvent(f"schema: unknown schema {shown}")
    if topic is not None and TOPIC_SCHEMAS.get(topic) != schema:
        raise InvalidEvent(f"schema: {schema} is not accepted on topic {topic}")
    try:
        # Python-mode validation of the parsed object; strictness comes from the models.
        return model.model_validate(obj)  # type: ignore[return-value]
    except ValidationError as exc:
        raise InvalidEvent(_format_errors(exc)[:MAX_REASON_CHARS]) from None

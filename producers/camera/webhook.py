"""The camera webhook's body, apart from HTTP: what an observation may carry, and how it
becomes a ``camera_observation/1`` event; every refusal is a :class:`hailong.http.Refused`
whose messages name fields and positions only, never values.

The body is one observation or a JSON array of up to 500. An observation has exactly
these fields:

==================  ==========================  ============================================
field               type                        meaning
==================  ==========================  ============================================
``camera_id``       id, required                the camera
``office_id``       id, required                the one-stop office it watches
``timestamp``       RFC 3339 with offset, req.  when it was observed
``event_type``      ``emotion`` or ``queue``    what was observed
``observation_id``  id, optional                the vendor's id; a resend with the same id
                                                gets the same ``event_id`` (counted once)
``emotion``         label, for ``emotion``      expression of a person leaving a counter
``score``           number 0..1, for emotion    the model's confidence
``track_id``        id, optional                anonymous track, rotated at least daily
``people_waiting``  integer ≥ 0, for ``queue``  people waiting
``estimated_wait_s`` number ≥ 0, optional       estimated wait, for ``queue``
==================  ==========================  ============================================

(id: 1-64 characters of ``A-Z a-z 0-9 . _ -``.) Emotion labels map to the contract's
sentiment (:data:`EMOTIONS`): happy/joy/... → positive, neutral/calm/surprise → neutral,
sad/angry/disgust/fear/contempt/... → negative.

**Allowlist.** Any other field (``image``, ``face_crop``, ``embedding``, ``snapshot`` or
simply unknown) makes the *whole request* fail with 422 and problem details that name the
offending field names (sanitized, truncated); nothing of the request is published. The
body is parsed here, not by FastAPI (whose 422 echoes the input), and no error message,
response or log line of the adapter ever contains a value from the payload; uvicorn
logs only the request line.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from hailong.contract import CameraObservation
from hailong.http import Refused, json_loads_strict
from producers.service import strict_body

MAX_OBSERVATIONS = 500
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
# Namespace of event ids derived from the vendor's observation_id (uuid5).
EVENT_NAMESPACE = uuid.UUID("0b6f3f0e-6a53-5d0c-9a57-2f1d3c9e7a41")

EMOTIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "happy",
            "happiness",
            "joy",
            "joyful",
            "smile",
            "smiling",
            "pleased",
            "satisfied",
            "positive",
        ),
        "positive",
    ),
    **dict.fromkeys(("neutral", "calm", "surprise", "surprised"), "neutral"),
    **dict.fromkeys(
        (
            "sad",
            "sadness",
            "angry",
            "anger",
            "disgust",
            "disgusted",
            "fear",
            "fearful",
            "scared",
            "contempt",
            "frustrated",
            "annoyed",
            "upset",
            "unhappy",
            "negative",
        ),
        "negative",
    ),
}
# Field names that are images or biometrics: refused with a message that says so.
_VISUAL_RE = re.compile(
    r"image|img|photo|picture|snapshot|frame|jpe?g|png|face|crop|"
    r"embedding|vector|feature|biometric|template|thumb|video|clip|"
    r"base64|pixel",
    re.IGNORECASE,
)

Id = Annotated[str, Field(pattern=ID_PATTERN)]


class WebhookObservation(BaseModel):
    """One observation as cameras send it (see the module docstring)."""

    model_config = strict_body(
        {
            "camera_id": "cam-3",
            "office_id": "HN-00004",
            "timestamp": "2026-11-24T09:15:02+07:00",
            "event_type": "emotion",
            "observation_id": "obs-77812",
            "emotion": "happy",
            "score": 0.91,
            "track_id": "t-1234",
        },
        {
            "camera_id": "cam-1",
            "office_id": "HN-00004",
            "timestamp": "2026-11-24T09:15:00+07:00",
            "event_type": "queue",
            "people_waiting": 7,
            "estimated_wait_s": 420,
        },
    )

    camera_id: Id
    office_id: Id
    timestamp: str = Field(max_length=40, description="RFC 3339 with an offset")
    event_type: Literal["emotion", "queue"]
    observation_id: Id | None = Field(
        None, description="the vendor's id: resends with the same id get the same event_id"
    )
    emotion: str | None = Field(
        None, max_length=32, description="one of: " + ", ".join(sorted(EMOTIONS))
    )
    score: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="confidence 0..1 (emotion)"
    )
    track_id: Id | None = Field(None, description="anonymous track id, rotated at least daily")
    people_waiting: int | None = Field(None, ge=0, description="queue length (queue)")
    estimated_wait_s: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="estimated wait in seconds (queue)"
    )


ALLOWED_FIELDS = frozenset(WebhookObservation.model_fields)


class WebhookAccepted(BaseModel):
    accepted: int = Field(description="observations published (Kafka confirmed each)")
    event_ids: list[str] = Field(description="the contract event_id of each, in order")


def sentiment_of(emotion: str) -> str | None:
    """The contract sentiment of a vendor's emotion label (case-insensitive), or None."""
    return EMOTIONS.get(emotion.strip().lower())


def safe_name(name: str, limit: int = 40) -> str:
    """A field name fit to echo: only ``A-Z a-z 0-9 _ . -`` (others become ``?``),
    at most ``limit`` characters."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "?", name[:limit])
    return clean + ("…" if len(name) > limit else "")


def forbidden_fields(items: list[dict[str, Any]]) -> list[str]:
    """The sanitized names of every field outside the allowlist, sorted, at most 20."""
    names = sorted({safe_name(k) for item in items for k in item if k not in ALLOWED_FIELDS})
    return names[:20]


def _strings(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _strings(k, out)
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    return out


def _scrub(message: str, payload_strings: set[str]) -> str:
    """Belt and braces: a message that quotes any string of the payload is replaced."""
    if any(len(s) >= 3 and s in message for s in payload_strings):
        return "invalid value"
    return message


def read_observations(raw: bytes) -> list[dict[str, Any]]:
    """Parse a webhook body into its observation objects, checking the allowlist first.

    Raises :class:`Refused` (422, or 400 for a body that is not JSON) with messages that
    name fields and positions only, never values.
    """
    try:
        body = json_loads_strict(raw)
    except ValueError as exc:
        raise Refused(400, "invalid-json", "Malformed body", str(exc)) from None
    items = body if isinstance(body, list) else [body]
    if not items:
        raise Refused(422, "no-observations", "No observations", "the array is empty")
    if len(items) > MAX_OBSERVATIONS:
        raise Refused(
            422,
            "too-many-observations",
            "Too many observations",
            f"at most {MAX_OBSERVATIONS} observations per request",
        )
    not_objects = [i for i, item in enumerate(items) if not isinstance(item, dict)]
    if not_objects:
        raise Refused(
            422,
            "invalid-observation",
            "Invalid observations",
            "each observation must be a JSON object",
            errors=[
                {"field": f"[{i}]", "message": "must be a JSON object"} for i in not_objects[:20]
            ],
        )
    forbidden = forbidden_fields(items)
    if forbidden:
        visual = [n for n in forbidden if _VISUAL_RE.search(n)]
        detail = (
            "observations may carry only the documented fields"
            + (
                "; images, face crops, embeddings and other biometric or visual data "
                "are never accepted"
                if visual
                else ""
            )
            + ". Nothing of this request was published."
        )
        raise Refused(
            422,
            "field-not-allowed",
            "Fields not accepted",
            detail,
            fields=forbidden,
            allowed=sorted(ALLOWED_FIELDS),
        )
    return items


def to_events(items: list[dict[str, Any]]) -> list[CameraObservation]:
    """Validate allowlisted observations and map them to contract events."""
    payload_strings = _strings(items, set())
    errors: list[dict[str, str]] = []
    events: list[CameraObservation] = []

    def fail(i: int, where: str, message: str) -> None:
        errors.append(
            {
                "field": f"[{i}].{where}" if where else f"[{i}]",
                "message": _scrub(message, payload_strings),
            }
        )

    for i, item in enumerate(items):
        before = len(errors)
        try:
            obs = WebhookObservation.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False, include_context=False):
                fail(i, ".".join(str(p) for p in err["loc"]), err["msg"])
            continue
        fields: dict[str, Any] = {
            "schema": "camera_observation/1",
            "office_id": obs.office_id,
            "camera_id": obs.camera_id,
            "observed_at": obs.timestamp,
            "event_id": str(
                uuid.uuid5(EVENT_NAMESPACE, f"{obs.office_id}/{obs.camera_id}/{obs.observation_id}")
                if obs.observation_id
                else uuid.uuid4()
            ),
        }
        if obs.track_id is not None:
            fields["track_id"] = obs.track_id
        if obs.event_type == "emotion":
            for f in ("people_waiting", "estimated_wait_s"):
                if getattr(obs, f) is not None:
                    fail(i, f, "not allowed for event_type emotion")
            if obs.emotion is None:
                fail(i, "emotion", "required for event_type emotion")
            elif (sentiment := sentiment_of(obs.emotion)) is None:
                fail(i, "emotion", "not a known label; known: " + ", ".join(sorted(EMOTIONS)))
            else:
                fields["sentiment"] = sentiment
            if obs.score is None:
                fail(i, "score", "required for event_type emotion")
            fields.update(kind="sentiment", confidence=obs.score)
        else:
            for f in ("emotion", "score"):
                if getattr(obs, f) is not None:
                    fail(i, f, "not allowed for event_type queue")
            if obs.people_waiting is None:
                fail(i, "people_waiting", "required for event_type queue")
            fields.update(kind="queue", queue_length=obs.people_waiting)
            if obs.estimated_wait_s is not None:
                fields["wait_seconds"] = obs.estimated_wait_s
        if len(errors) > before:
            continue
        try:
            events.append(CameraObservation.model_validate(fields))
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False, include_context=False):
                where = ".".join(str(p) for p in err["loc"])
                fail(
                    i,
                    "timestamp" if where == "observed_at" else where,
                    "must be an RFC 3339 timestamp with an offset, like 2026-11-24T09:15:02+07:00"
                    if where == "observed_at"
                    else "invalid value",
                )
    if errors:
        raise Refused(
            422,
            "invalid-observation",
            "Invalid observations",
            "some observations are invalid; nothing of this request was published",
            errors=errors[:50],
        )
    return events


def only_own(events: list[CameraObservation], camera_id: str, office_id: str) -> None:
    """Refuse (403) a request with observations of another camera or office than the
    token's: nothing of it is published."""
    strangers = sorted(
        {i for i, e in enumerate(events) if (e.camera_id, e.office_id) != (camera_id, office_id)}
    )
    if strangers:
        raise Refused(
            403,
            "not-this-camera",
            "Not this camera's observations",
            f"this token is camera {camera_id} of office {office_id}; it may post only "
            "its own observations. Nothing of this request was published.",
            errors=[
                {"field": f"[{i}]", "message": "another camera or office"} for i in strangers[:20]
            ],
        )

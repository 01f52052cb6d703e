"""What the QR gateway reads and answers: its API's request and response models, the
problem statuses its routes document, and the survey page's form as read
(:func:`parse_form`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field

from hailong import qrtoken as tokens
from hailong.http import problem_responses
from hailong.questionnaire import Questionnaire
from producers.gateway import page
from producers.service import strict_body

QUESTIONNAIRE = "sipas-5/1"
MAX_TTL_H = 720.0  # 30 days, the QR topic's retention
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

OfficeId = Annotated[
    str, Field(pattern=ID_PATTERN, description="office_id (contract id)", examples=["HN-00004"])
]
Score = Annotated[int, Field(ge=1, le=5)]
TokenPath = Annotated[
    str, Path(max_length=tokens.MAX_TOKEN_CHARS, description="the token, as in the survey URL")
]


class TokenRequest(BaseModel):
    model_config = strict_body({"office_id": "HN-00004", "ttl_hours": 72})

    office_id: OfficeId
    ttl_hours: float | None = Field(
        None,
        gt=0,
        le=MAX_TTL_H,
        description="validity in hours; default the gateway_token_ttl_h setting (72)",
    )


class TokenIssued(BaseModel):
    token: str = Field(description="the signed token (URL-safe)")
    token_id: str = Field(description="the token's id; the survey event carries it")
    office_id: str
    issued_at: datetime
    expires_at: datetime
    url: str = Field(description="the survey page for the citizen: the QR code's content")
    qr_svg: str = Field(description="the QR code of `url`, SVG markup")
    qr_png: str = Field(description="the QR code of `url`, a data:image/png;base64 URI")
    qr_svg_url: str = Field(description="GET: the QR code as image/svg+xml")
    qr_png_url: str = Field(description="GET: the QR code as image/png")


class SurveySubmission(BaseModel):
    model_config = strict_body(
        {
            "token": "v1~HN-00004~qr-…~1767225600~1767484800~…",
            "office_id": "HN-00004",
            "answers": {"A1": 5, "A2": 4, "S1": 5},
            "overall": 5,
            "comment": "Cán bộ nhiệt tình",
        }
    )

    token: str = Field(
        max_length=tokens.MAX_TOKEN_CHARS, description="the token, as in the survey URL /s/<token>"
    )
    office_id: OfficeId = Field(description="must be the office the token was issued for")
    questionnaire: str = Field(QUESTIONNAIRE, max_length=32)
    answers: dict[str, Score] = Field(
        min_length=1, max_length=64, description="criterion code → score 1..5"
    )
    overall: Score | None = None
    comment: str | None = Field(
        None, max_length=1000, description="free text; personal data is scrubbed downstream"
    )


class SurveyAccepted(BaseModel):
    event_id: str
    token_id: str
    office_id: str
    submitted_at: datetime
    questionnaire: str


PROBLEMS: dict[int, str] = {
    400: "malformed body or token, or the office does not match the token's",
    401: "missing or unknown bearer token",
    403: "the token's signature does not match (forged or altered)",
    409: "the token was already used",
    410: "the token has expired",
    413: "the body is larger than gateway_max_body_bytes",
    422: "the body does not fit the schema or the questionnaire",
    429: "too many requests from this address; see Retry-After",
    503: "Kafka did not confirm the survey; nothing was recorded, retry later",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: these statuses as problem details, described by PROBLEMS."""
    return problem_responses({code: PROBLEMS[code] for code in codes})


def pages(success: tuple[int, str], *codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of a page: ``success`` (status, what it is), then these
    statuses as HTML pages saying so."""
    status, description = success
    return {
        status: {"description": description},
        **{
            code: {
                "description": PROBLEMS[code] + " (an HTML page saying so)",
                "content": {"text/html": {}},
            }
            for code in codes
        },
    }


@dataclass
class FormAnswers:
    """A survey form, read: what was answered and what was wrong with it."""

    office_id: str | None = None
    lang: str = "vi"
    answers: dict[str, int] = field(default_factory=dict)
    overall: int | None = None
    comment: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


def parse_form(items: list[tuple[str, str]], q: Questionnaire) -> FormAnswers:
    """Read the page's form fields: one per criterion (``"1"``..``"5"``), ``overall``,
    ``comment``, ``office_id``, ``lang``. Unknown or repeated fields are errors; a
    comment's CRLF line ends (as browsers send them) count as one character."""
    out = FormAnswers()
    seen: set[str] = set()
    for name, value in items:
        if name in seen:
            out.errors.append({"field": name[:40], "message": "given twice"})
            continue
        seen.add(name)
        if name in q.criterion_codes or name == "overall":
            if value not in ("1", "2", "3", "4", "5"):
                out.errors.append({"field": name, "message": "must be 1, 2, 3, 4 or 5"})
            elif name == "overall":
                out.overall = int(value)
            else:
                out.answers[name] = int(value)
        elif name == "comment":
            text = value.replace("\r\n", "\n")
            if len(text) > 1000:
                out.errors.append({"field": "comment", "message": "at most 1000 characters"})
            out.comment = text if text.strip() else None
        elif name == "office_id":
            out.office_id = value
        elif name == "lang":
            out.lang = page.pick_lang(value)
        else:
            out.errors.append(
                {"field": re.sub(r"[^A-Za-z0-9._-]", "?", name[:40]), "message": "unknown field"}
            )
    if not out.answers and not out.errors:
        out.errors.append({"field": "answers", "message": "answer at least one criterion"})
    return out

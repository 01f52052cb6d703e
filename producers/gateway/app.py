"""The QR gateway's HTTP service (FastAPI; OpenAPI at ``/docs`` and ``/openapi.json``).

Three audiences:

- the office's queue/ticket system issues a signed token per citizen
  (``POST /api/v1/tokens``, bearer: its own issuer token, for its office only, at
  ``gateway_issue_per_minute``) and prints its QR code;
- the citizen opens ``/s/<token>`` on their phone and submits the survey (an HTML form,
  see :mod:`~producers.gateway.page`); other front ends use ``POST /api/v1/surveys``;
- operations check ``/healthz``.

A submission is accepted only if the token's signature is valid (else 403), it has not
expired (410), the submission names the token's office (400), the token was not used
(409, durable: :mod:`~producers.gateway.store`) and the answers fit the questionnaire
(422). The token is reserved, the ``qr_survey/1`` event is published to the QR topic
keyed by office, and the citizen gets the answer only after Kafka confirmed it; if Kafka
failed, the reservation is released and the answer is 503, so the citizen can retry.
Bodies above ``gateway_max_body_bytes`` get 413; citizen-facing requests above
``gateway_rate_per_minute`` per client address get 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

import segno
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from hailong import qrtoken as tokens
from hailong.clock import SYSTEM, Clock
from hailong.contract import QrSurvey
from hailong.errors import DeliveryError
from hailong.kafka import GATEWAY
from hailong.qrtoken import QR_TOKEN_HEADER
from hailong.questionnaire import Questionnaire, questionnaires
from hailong.settings import Settings
from producers.gateway import page
from producers.gateway.store import TokenStore
from producers.web import (
    DELIVERY_TIMEOUT_S,
    BodyLimit,
    ConfirmingProducer,
    OfficeNames,
    RateLimiter,
    RegisteredTokens,
    client_address,
    problem,
    retry_after,
    service_signer,
)

log = logging.getLogger("hailong.gateway")
# Its device id in the device registry (kind gateway): it signs what it publishes.
GATEWAY_DEVICE = "qr-gateway"

QUESTIONNAIRE = "sipas-5/1"
MAX_TTL_H = 720.0  # 30 days, the QR topic's retention
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
CITIZEN_PATHS = ("/s/", "/api/v1/surveys")

OfficeId = Annotated[
    str, Field(pattern=ID_PATTERN, description="office_id (contract id)", examples=["HN-00004"])
]
Score = Annotated[int, Field(ge=1, le=5)]


# --- API models ------------------------------------------------------------------------
class FieldError(BaseModel):
    field: str = Field(description="where: a dotted path into the body, or a form field")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(examples=["urn:hailong:problem:token-expired"])
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"office_id": "HN-00004", "ttl_hours": 72}]},
    )

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
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "token": "v1~HN-00004~qr-…~1767225600~1767484800~…",
                    "office_id": "HN-00004",
                    "answers": {"A1": 5, "A2": 4, "S1": 5},
                    "overall": 5,
                    "comment": "Cán bộ nhiệt tình",
                }
            ]
        },
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


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "model": Problem,
            "description": PROBLEMS[code],
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }


def _pages(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "description": PROBLEMS[code] + " (an HTML page saying so)",
            "content": {"text/html": {}},
        }
        for code in codes
    }


# --- submission logic ------------------------------------------------------------------
class Refused(Exception):
    """A submission or page request that is refused; ``kind`` names the page text."""

    def __init__(
        self,
        status: int,
        slug: str,
        kind: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.kind, self.detail = status, slug, kind, detail
        self.errors = errors or []


TOKEN_KINDS = {
    tokens.MalformedToken: "malformed",
    tokens.ForgedToken: "forged",
    tokens.ExpiredToken: "expired",
}


def _validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        out.append({"field": loc, "message": msg})
    return out


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


class Gateway:
    """The gateway's state (keys, token store, producer) and its submission logic."""

    def __init__(
        self,
        settings: Settings,
        delivery_timeout_s: float = DELIVERY_TIMEOUT_S,
        clock: Clock = SYSTEM,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.secret = settings.key("gateway_secret")
        self.delivery_timeout_s = delivery_timeout_s
        self.store = TokenStore(
            settings.stack_dir / "gateway" / "tokens.sqlite",
            stale_after_s=max(120.0, 4 * delivery_timeout_s),
            clock=clock,
        )
        self.questionnaire = questionnaires()[QUESTIONNAIRE]
        self.limiter = RateLimiter(settings.gateway_rate_per_minute, clock=clock.monotonic)
        self.producer: ConfirmingProducer | None = None

    def start(self) -> None:
        self.producer = ConfirmingProducer(
            self.settings,
            GATEWAY,
            self.delivery_timeout_s,
            service_signer(self.settings, GATEWAY_DEVICE),
        )

    def stop(self) -> None:
        if self.producer is not None:
            self.producer.close()
        self.store.close()

    def check_token(self, text: str, *, check_expiry: bool = True) -> tokens.Token:
        try:
            return tokens.verify(self.secret, text, self.clock.now(), check_expiry=check_expiry)
        except tokens.TokenError as exc:
            raise Refused(exc.status, exc.slug, TOKEN_KINDS[type(exc)], str(exc)) from None

    @staticmethod
    def used(token: tokens.Token) -> Refused:
        return Refused(
            409,
            "token-used",
            "used",
            f"token {token.token_id} was already used: one submission per token",
        )

    async def check_unused(self, token: tokens.Token) -> None:
        if await asyncio.to_thread(self.store.state, token.token_id) is not None:
            raise self.used(token)

    async def submit(
        self,
        token_text: str,
        office_id: str | None,
        answers: dict[str, int],
        overall: int | None = None,
        comment: str | None = None,
        questionnaire: str = QUESTIONNAIRE,
    ) -> QrSurvey:
        """Check everything, publish the survey, return it once Kafka confirmed."""
        token = self.check_token(token_text)
        if office_id != token.office_id:
            raise Refused(
                400,
                "office-mismatch",
                "office",
                "office_id does not match the office the token was issued for",
            )
        await self.check_unused(token)
        fields: dict[str, Any] = {
            "schema": "qr_survey/1",
            "event_id": str(uuid.uuid4()),
            "token_id": token.token_id,
            "office_id": token.office_id,
            "submitted_at": self.clock.now(),
            "questionnaire": questionnaire,
            "answers": answers,
        }
        if overall is not None:
            fields["overall"] = overall
        if comment is not None:
            fields["comment"] = comment
        try:
            event = QrSurvey.model_validate(fields)
        except ValidationError as exc:
            raise Refused(
                422,
                "invalid-survey",
                "invalid",
                "the answers do not fit the questionnaire",
                _validation_errors(exc),
            ) from None
        reserved = await asyncio.to_thread(
            self.store.reserve, token.token_id, token.office_id, token.expires_at
        )
        if not reserved:
            raise self.used(token)
        # Shielded: a client that disconnects must not cancel between publish and record.
        await asyncio.shield(asyncio.ensure_future(self._publish(event, token.text)))
        return event

    async def _publish(self, event: QrSurvey, token_text: str) -> None:
        assert self.producer is not None, "the gateway was not started"
        try:
            # The token travels with the survey: the stream worker checks it too.
            await self.producer.send(
                self.settings.topics.qr,
                event.key,
                event.to_json(),
                [(QR_TOKEN_HEADER, token_text.encode("ascii"))],
            )
        except BaseException as exc:
            await asyncio.to_thread(self.store.release, event.token_id)
            if not isinstance(exc, DeliveryError):
                raise
            log.warning("survey of token %s not published, token released: %s", event.token_id, exc)
            raise Refused(
                503,
                "kafka-unavailable",
                "unavailable",
                "the survey could not be recorded (Kafka did not confirm it); "
                "nothing was kept, the token can be used again: retry later",
            ) from None
        await asyncio.to_thread(self.store.confirm, event.token_id, str(event.event_id))
        log.info(
            "survey %s of token %s for %s published",
            event.event_id,
            event.token_id,
            event.office_id,
        )


# --- HTTP helpers ----------------------------------------------------------------------
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def html(
    render: Callable[[str], str], status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """An HTML page with a CSP that allows only its own inline style and script."""
    nonce = secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(
        render(nonce),
        status_code=status,
        headers={**SECURITY_HEADERS, "Content-Security-Policy": csp, **(headers or {})},
    )


def _lang_of(scope: Scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return page.pick_lang((query.get("lang") or [None])[0])


def _is_page(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith("/s/")


class CitizenRateLimit:
    """ASGI middleware: the rate limit on citizen-facing paths (pages and survey API)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(CITIZEN_PATHS):
            wait = self.limiter.take(client_address(scope))
            if wait > 0:
                after = retry_after(wait)
                response: Response
                if _is_page(scope):
                    lang = _lang_of(scope)
                    response = html(
                        lambda n: page.message_page("rate", lang, n, s=after),
                        429,
                        {"Retry-After": after},
                    )
                else:
                    response = problem(
                        429,
                        "rate-limited",
                        "Too many requests",
                        f"more than {self.limiter.capacity:.0f} requests per "
                        f"minute from this address; retry in {after} s",
                        headers={"Retry-After": after},
                    )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _too_large(max_bytes: int) -> Callable[[Scope], Response]:
    def build(scope: Scope) -> Response:
        if _is_page(scope):
            lang = _lang_of(scope)
            return html(lambda n: page.message_page("too_large", lang, n), 413)
        return problem(
            413, "body-too-large", "Request body too large", f"the body exceeds {max_bytes} bytes"
        )

    return build


def qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


def qr_svg(url: str) -> str:
    buf = io.BytesIO()
    qr_code(url).save(buf, kind="svg", scale=4, xmldecl=False, title="QR")
    return buf.getvalue().decode("utf-8")


def qr_png(url: str, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    qr_code(url).save(buf, kind="png", scale=scale)
    return buf.getvalue()


# --- the app ---------------------------------------------------------------------------
# Module level: FastAPI resolves these (string) annotations in the module's namespace.
issuer = HTTPBearer(
    auto_error=False,
    scheme_name="issuer token",
    description="the issuer token of an office's queue system (`issuer_token` "
    "in the config of `hailong devices register --kind issuer "
    "--office O`)",
)
Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(issuer)]
TokenPath = Annotated[
    str, Path(max_length=tokens.MAX_TOKEN_CHARS, description="the token, as in the survey URL")
]
Lang = Annotated[str | None, Query(description="vi (default) or en")]

DESCRIPTION = """
The QR survey gateway of Hailong. The office's queue/ticket system **issues** a signed,
single-use token per citizen (`POST /api/v1/tokens`) and prints its QR code; the
citizen opens `/s/<token>` on a phone, answers questionnaire `sipas-5/1` and submits.
Every accepted submission becomes one `qr_survey/1` event (wire contract v1) on the QR
topic, and the answer comes only after Kafka confirmed it.

Errors of the JSON API are RFC 9457 problem details (`application/problem+json`);
errors of the citizen's pages are readable pages in Vietnamese or English, with the
same status codes.
"""


def create_app(
    settings: Settings, *, delivery_timeout_s: float = DELIVERY_TIMEOUT_S, clock: Clock = SYSTEM
) -> FastAPI:
    """The gateway as an ASGI app. Kafka's producer starts with the app (lifespan)."""
    gw = Gateway(settings, delivery_timeout_s, clock)
    q = gw.questionnaire

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        gw.start()
        try:
            yield
        finally:
            await asyncio.to_thread(gw.stop)

    app = FastAPI(
        title="Hailong QR survey gateway",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "issuing", "description": "for the office's queue system"},
            {"name": "citizens", "description": "the survey pages (HTML)"},
            {"name": "surveys", "description": "the survey API for other front ends"},
            {"name": "operations"},
        ],
    )
    app.state.gateway = gw

    @app.exception_handler(RequestValidationError)
    async def invalid_request(req: Request, exc: RequestValidationError) -> Response:
        if req.url.path.startswith("/s/"):  # e.g. an overlong token: a page, not JSON
            lang = page.pick_lang(req.query_params.get("lang"))
            return html(lambda n: page.message_page("malformed", lang, n), 400)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(400, "invalid-json", "Malformed JSON", "the body is not valid JSON")
        listed = []
        for e in errors:
            loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
            msg = "unknown field" if e.get("type") == "extra_forbidden" else str(e.get("msg"))
            listed.append({"field": loc, "message": msg.removeprefix("Value error, ")})
        # Never echo the submitted values (FastAPI's default 422 would).
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            "the body does not fit the schema",
            errors=listed,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(req: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and req.url.path.startswith("/s/"):  # a mangled link
            lang = page.pick_lang(req.query_params.get("lang"))
            return html(lambda n: page.message_page("malformed", lang, n), 404)
        return problem(
            exc.status_code,
            "http-error",
            str(exc.detail),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )

    def refused_page(exc: Refused, lang: str) -> HTMLResponse:
        return html(lambda n: page.message_page(exc.kind, lang, n), exc.status)

    def refused_problem(exc: Refused) -> JSONResponse:
        titles = {
            "token-malformed": "Malformed token",
            "token-forged": "Forged token",
            "token-expired": "Expired token",
            "token-used": "Token already used",
            "office-mismatch": "Office does not match the token",
            "invalid-survey": "Invalid survey",
            "kafka-unavailable": "Not recorded",
        }
        headers = {"Retry-After": "30"} if exc.status == 503 else None
        return problem(
            exc.status,
            exc.slug,
            titles.get(exc.slug, "Refused"),
            exc.detail,
            headers=headers,
            **({"errors": exc.errors} if exc.errors else {}),
        )

    names = OfficeNames(settings, settings.gateway_registry_refresh_s, clock=gw.clock.monotonic)
    issuers = RegisteredTokens(
        settings,
        "issuer",
        settings.gateway_registry_refresh_s,
        settings.gateway_issue_per_minute,
        "the issuer token of your office",
        clock=gw.clock.monotonic,
    )

    async def check_issuer(
        creds: HTTPAuthorizationCredentials | None, office_id: str
    ) -> Response | None:
        """The issuer's token must be registered, within its rate, and of this office."""
        holder = await issuers.admit(creds.credentials if creds else None)
        if isinstance(holder, Response):
            return holder
        if holder.office_id != office_id:
            log.warning("issuer %s asked for a token of another office", holder.device_id)
            return problem(
                403,
                "not-your-office",
                "Not your office",
                f"this issuer token is for office {holder.office_id}",
            )
        return None

    # --- issuing -------------------------------------------------------------------------
    @app.post(
        "/api/v1/tokens",
        tags=["issuing"],
        status_code=201,
        response_model=TokenIssued,
        summary="Issue a survey token for one citizen",
        responses={
            **_problems(401, 413, 422),
            **{
                code: {
                    "model": Problem,
                    "description": text,
                    "content": {"application/problem+json": {}},
                }
                for code, text in (
                    (403, "the issuer token is for another office"),
                    (429, "too many tokens for this issuer; see Retry-After"),
                    (503, "the device registry cannot be read; retry"),
                )
            },
        },
    )
    async def issue_token(body: TokenRequest, creds: Creds) -> Any:
        """Issue a signed, single-use survey token for an office, valid for ``ttl_hours``
        (default 72 h). The answer carries the survey URL for the citizen and its QR code
        (SVG markup and a PNG data URI), plus URLs of the QR code as images."""
        if (denied := await check_issuer(creds, body.office_id)) is not None:
            return denied
        ttl = timedelta(hours=body.ttl_hours or settings.gateway_token_ttl_h)
        token = tokens.issue(gw.secret, body.office_id, ttl, gw.clock.now())
        url = f"{settings.gateway_url}/s/{token.text}"
        base = f"{settings.gateway_url}/api/v1/tokens/{token.text}"
        log.info(
            "issued token %s for %s, expires %s",
            token.token_id,
            token.office_id,
            token.expires_at.isoformat(),
        )
        png = await asyncio.to_thread(qr_png, url)
        return TokenIssued(
            token=token.text,
            token_id=token.token_id,
            office_id=token.office_id,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
            url=url,
            qr_svg=qr_svg(url),
            qr_png="data:image/png;base64," + base64.b64encode(png).decode(),
            qr_svg_url=f"{base}/qr.svg",
            qr_png_url=f"{base}/qr.png",
        )

    @app.get(
        "/api/v1/tokens/{token}/qr.svg",
        tags=["issuing"],
        summary="QR code as SVG",
        response_class=Response,
        responses={
            200: {
                "content": {"image/svg+xml": {}},
                "description": "the QR code of the token's survey URL",
            },
            **_problems(400, 403, 410),
        },
    )
    async def token_qr_svg(token: TokenPath) -> Response:
        """The QR code of a token's survey URL, as SVG. Only for tokens this gateway
        signed and that have not expired (no bearer key needed: the token is the secret,
        so a ticket printer or a screen can embed it as an image)."""
        try:
            tok = gw.check_token(token)
        except Refused as exc:
            return refused_problem(exc)
        return Response(
            qr_svg(f"{settings.gateway_url}/s/{tok.text}"),
            media_type="image/svg+xml",
            headers=SECURITY_HEADERS,
        )

    @app.get(
        "/api/v1/tokens/{token}/qr.png",
        tags=["issuing"],
        summary="QR code as PNG",
        response_class=Response,
        responses={
            200: {
                "content": {"image/png": {}},
                "description": "the QR code of the token's survey URL",
            },
            **_problems(400, 403, 410),
        },
    )
    async def token_qr_png(
        token: TokenPath,
        scale: Annotated[int, Query(ge=1, le=40, description="pixels per module")] = 8,
    ) -> Response:
        """The QR code of a token's survey URL, as PNG (see the SVG variant)."""
        try:
            tok = gw.check_token(token)
        except Refused as exc:
            return refused_problem(exc)
        png = await asyncio.to_thread(qr_png, f"{settings.gateway_url}/s/{tok.text}", scale)
        return Response(png, media_type="image/png", headers=SECURITY_HEADERS)

    # --- citizens' pages ---------------------------------------------------------------
    @app.get(
        "/s/{token}",
        tags=["citizens"],
        response_class=HTMLResponse,
        summary="The survey page",
        responses={
            200: {"description": "the questionnaire as an HTML form"},
            **_pages(400, 403, 409, 410, 429),
        },
    )
    async def survey(token: TokenPath, lang: Lang = None) -> Response:
        """The survey for the citizen, in Vietnamese (``?lang=en``: English), mobile
        first, without external assets; works as a plain form without JS. An invalid,
        expired or used token gets a page saying so, with the matching status."""
        chosen = page.pick_lang(lang)
        try:
            tok = gw.check_token(token)
            await gw.check_unused(tok)
        except Refused as exc:
            return refused_page(exc, chosen)
        label = await asyncio.to_thread(names.label, tok.office_id)
        return html(
            lambda n: page.survey_page(q, tok.text, tok.office_id, chosen, n, office_label=label)
        )

    @app.post(
        "/s/{token}",
        tags=["citizens"],
        response_class=HTMLResponse,
        summary="Submit the survey form",
        responses={
            303: {"description": "accepted and confirmed by Kafka: to the thank-you page"},
            **_pages(400, 403, 409, 410, 413, 422, 429, 503),
        },
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "description": "one field per criterion code (1..5), overall "
                            "(1..5, optional), comment (optional), office_id, "
                            "lang",
                        }
                    }
                }
            }
        },
    )
    async def submit_form(token: TokenPath, request: Request, lang: Lang = None) -> Response:
        """The page's form POST. Accepted → 303 to the thank-you page (after Kafka
        confirmed). Invalid answers (422) or Kafka unavailable (503) → the form again,
        with the answers kept and a message."""
        chosen = page.pick_lang(lang)
        try:
            tok = gw.check_token(token)
        except Refused as exc:
            return refused_page(exc, chosen)
        try:
            form = await request.form(max_files=0, max_fields=64)
            items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            has_files = len(items) != len(form.multi_items())
        except Exception:  # noqa: BLE001 - any unreadable form is the client's error
            items, has_files = [], True
        parsed = parse_form(items, q)
        chosen = parsed.lang if lang is None else chosen
        if has_files:
            parsed.errors.append({"field": "body", "message": "not a form of this page"})

        def again(
            status: int, banner: tuple[str, dict[str, Any]], headers: dict[str, str] | None = None
        ) -> HTMLResponse:
            label = names.label(tok.office_id)
            return html(
                lambda n: page.survey_page(
                    q,
                    tok.text,
                    tok.office_id,
                    chosen,
                    n,
                    values=parsed.answers,
                    overall=parsed.overall,
                    comment=parsed.comment,
                    banner=banner,
                    office_label=label,
                ),
                status,
                headers,
            )

        try:
            if parsed.office_id != tok.office_id:
                raise Refused(400, "office-mismatch", "office", "office mismatch")
            await gw.check_unused(tok)
            if parsed.errors:
                raise Refused(422, "invalid-survey", "invalid", "invalid form", parsed.errors)
            await gw.submit(
                tok.text, parsed.office_id, parsed.answers, parsed.overall, parsed.comment
            )
        except Refused as exc:
            if exc.kind == "invalid":
                what = ", ".join(e["field"] for e in exc.errors) or "?"
                return again(422, ("invalid_banner", {"what": what}))
            if exc.kind == "unavailable":
                return again(503, ("unavailable_banner", {}), {"Retry-After": "30"})
            return refused_page(exc, chosen)
        return RedirectResponse(
            f"/s/{tok.text}/thanks?lang={chosen}", status_code=303, headers=SECURITY_HEADERS
        )

    @app.get(
        "/s/{token}/thanks",
        tags=["citizens"],
        response_class=HTMLResponse,
        summary="The thank-you page",
        responses={
            303: {"description": "not submitted yet: back to the survey"},
            **_pages(400, 403),
        },
    )
    async def thanks(token: TokenPath, lang: Lang = None) -> Response:
        """Shown after a confirmed submission (POST-redirect-GET, so reloading it does
        not submit again)."""
        chosen = page.pick_lang(lang)
        try:
            tok = gw.check_token(token, check_expiry=False)
        except Refused as exc:
            return refused_page(exc, chosen)
        if await asyncio.to_thread(gw.store.state, tok.token_id) != "used":
            return RedirectResponse(f"/s/{tok.text}?lang={chosen}", status_code=303)
        return html(lambda n: page.message_page("thanks", chosen, n, ok=True))

    # --- survey API ----------------------------------------------------------------------
    @app.post(
        "/api/v1/surveys",
        tags=["surveys"],
        status_code=201,
        response_model=SurveyAccepted,
        summary="Submit a survey (JSON)",
        responses=_problems(400, 403, 409, 410, 413, 422, 429, 503),
    )
    async def submit_json(body: SurveySubmission) -> Any:
        """Submit one survey for a token, for front ends other than the page. The answer
        (201) comes after Kafka confirmed the ``qr_survey/1`` event; 503 means nothing was
        recorded and the same token may be submitted again."""
        try:
            event = await gw.submit(
                body.token,
                body.office_id,
                body.answers,
                body.overall,
                body.comment,
                body.questionnaire,
            )
        except Refused as exc:
            return refused_problem(exc)
        return SurveyAccepted(
            event_id=str(event.event_id),
            token_id=event.token_id,
            office_id=event.office_id,
            submitted_at=event.submitted_at,
            questionnaire=event.questionnaire,
        )

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness",
        responses={200: {"description": "the service runs"}},
    )
    async def healthz() -> dict[str, str]:
        """The process is up and its token store answers."""
        await asyncio.to_thread(gw.store.state, "healthz")
        return {"status": "ok", "topic": settings.topics.qr}

    app.add_middleware(
        BodyLimit,
        max_bytes=settings.gateway_max_body_bytes,
        too_large=_too_large(settings.gateway_max_body_bytes),
    )
    app.add_middleware(CitizenRateLimit, limiter=gw.limiter)  # outermost: before the body
    return app

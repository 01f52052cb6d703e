"""The HTTP kit: what every Hailong HTTP service shares (the QR gateway, the camera
adapter, the dashboard), independent of any stage.

- problem details (RFC 9457): the :class:`Problem` model for OpenAPI
  (:func:`problem_responses`), :func:`problem` responses, and :class:`Refused`, the one
  exception a service raises to refuse a request;
- :func:`install_errors`: the error handlers (a request that does not fit the schema →
  422 naming fields, never values; HTTP errors and :class:`Refused` → problem details;
  a :data:`PageFor` hook answers with HTML pages on a service's page paths);
- :class:`BodyLimit` (413), :class:`RateLimiter` and :class:`AddressRateLimit` (429),
  :func:`json_loads_strict`, :func:`security_headers`, :func:`client_address`,
  :func:`bearer_ok`;
- :func:`serve`: run an app with uvicorn (``hailong gateway|camera|web``).
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from hailong import strictjson
from hailong.errors import HailongError

PROBLEM_TYPE = "urn:hailong:problem:"


# --- problem details -------------------------------------------------------------------
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


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response (RFC 9457)."""
    body = {"type": PROBLEM_TYPE + slug, "title": title, "status": status, "detail": detail}
    return JSONResponse(
        {**body, **extra},
        status_code=status,
        headers=headers,
        media_type="application/problem+json",
    )


def problem_responses(
    described: Mapping[int, str], model: type[BaseModel] = Problem
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for problem details: status → what it means."""
    media = "application/problem+json"
    return {
        c: {"model": model, "description": d, "content": {media: {}}} for c, d in described.items()
    }


class Refused(HailongError):
    """A request refused: the problem details to answer with. ``extra`` are further
    members of the body (``errors``: a list of ``{"field", "message"}``; the camera's
    ``fields`` and ``allowed``); ``headers`` go with the answer (``Retry-After``)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = dict(headers) if headers is not None else None
        self.extra = extra

    @property
    def errors(self) -> list[dict[str, str]]:
        """The fields at fault, if the refusal lists them."""
        return list(self.extra.get("errors") or [])

    def response(self) -> JSONResponse:
        return problem(
            self.status, self.slug, self.title, self.detail, headers=self.headers, **self.extra
        )


# A service's HTML answer to a refusal on one of its page paths, or None (then the
# refusal's problem details answer).
PageFor = Callable[[Request, Refused], Response | None]


def answer(request: Request, refused: Refused, page_for: PageFor | None = None) -> Response:
    """The page ``page_for`` gives for the refusal, else its problem details."""
    page = page_for(request, refused) if page_for is not None else None
    return page if page is not None else refused.response()


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's (or FastAPI's) errors as ``{"field", "message"}``: a dotted location
    (``body`` left out) and the message, never the input."""
    listed = []
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        msg = "unknown field" if e.get("type") == "extra_forbidden" else str(e.get("msg"))
        listed.append({"field": loc, "message": msg.removeprefix("Value error, ")})
    return listed


def invalid_request(errors: Sequence[Mapping[str, Any]]) -> Refused:
    """The refusal of a request FastAPI could not validate (never echoing the values
    sent, as FastAPI's default 422 would)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return Refused(400, "invalid-json", "Malformed JSON", "the body is not valid JSON")
    in_body = all(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors)
    return Refused(
        422,
        "invalid-request",
        "Invalid request",
        "the body does not fit the schema" if in_body else "invalid parameters",
        errors=field_errors(errors),
    )


def install_errors(app: FastAPI, page_for: PageFor | None = None) -> None:
    """Answer :class:`Refused`, requests that do not fit the schema and HTTP errors
    with problem details, or with the page ``page_for`` gives."""

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return answer(request, exc, page_for)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return answer(request, invalid_request(exc.errors()), page_for)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        return answer(
            request,
            Refused(exc.status_code, "http-error", detail, detail, headers=headers),
            page_for,
        )


# --- request bodies --------------------------------------------------------------------
class BodyLimit:
    """Refuse bodies larger than ``max_bytes`` with 413, before the app sees them.

    A declared ``Content-Length`` above the limit is refused at once; otherwise the
    body is read (and counted) up to the limit and replayed to the app, so a chunked
    body without a length is refused as soon as it crosses the limit. The answer is
    problem details ``body-too-large``, or the page ``page_for`` gives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, page_for: PageFor | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.page_for = page_for

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = Refused(
            413,
            "body-too-large",
            "Request body too large",
            f"the body exceeds {self.max_bytes} bytes",
        )
        await answer(Request(scope), refused, self.page_for)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_bytes:
                await self.too_large(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self.too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> AsgiMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def json_loads_strict(raw: bytes) -> Any:
    """Parse a request body with the platform's strict, bounded JSON parser
    (``hailong.strictjson``: UTF-8 only, no duplicate keys, no NaN/Infinity, numbers and
    nesting bounded; the body's size is bounded by the service).

    Raises ``ValueError`` with a message that never quotes the input.
    """
    try:
        return strictjson.loads(raw, "the body", max_bytes=None)
    except strictjson.JsonRefused as exc:
        raise ValueError(exc.unquoted) from None


# --- rate limits -----------------------------------------------------------------------
class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled evenly.

    In memory and per process: several service processes behind a balancer each allow
    ``per_minute`` (set the limit accordingly, or rate-limit at the balancer).
    """

    MAX_CLIENTS = 100_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Take one request for ``client``: 0 if allowed, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.refill_per_s)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > self.MAX_CLIENTS:
                    self._forget_full(now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.refill_per_s

    def _forget_full(self, now: float) -> None:
        # Buckets that have refilled completely carry no information.
        for client, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.refill_per_s >= self.capacity:
                del self._buckets[client]


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class AddressRateLimit:
    """ASGI middleware: ``limiter`` per client address on the paths that start with one
    of ``paths``; above it, 429 with ``Retry-After`` (problem details ``rate-limited``,
    or the page ``page_for`` gives). Add it last, so that it runs before the body is
    read."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        paths: tuple[str, ...],
        page_for: PageFor | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.paths = paths
        self.page_for = page_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(self.paths):
            wait = self.limiter.take(client_address(scope))
            if wait > 0:
                after = retry_after(wait)
                refused = Refused(
                    429,
                    "rate-limited",
                    "Too many requests",
                    f"more than {self.limiter.capacity:.0f} requests per "
                    f"minute from this address; retry in {after} s",
                    headers={"Retry-After": after},
                )
                await answer(Request(scope), refused, self.page_for)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- headers and clients ---------------------------------------------------------------
def security_headers(
    *, csp: str | None = None, referrer: str = "no-referrer", no_store: bool = False
) -> dict[str, str]:
    """The headers every page and file of a service carries: no sniffing, no framing,
    a referrer policy; optionally a content security policy and ``no-store``."""
    return {
        **({"Cache-Control": "no-store"} if no_store else {}),
        **({"Content-Security-Policy": csp} if csp is not None else {}),
        "Referrer-Policy": referrer,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def client_address(scope: Scope) -> str:
    """The client's address as the server saw it (after trusted proxy headers)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


def bearer(header: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer <credentials>`` header (stripped),
    or None for no header or another scheme."""
    scheme, _, value = (header or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def bearer_ok(header: str | None, key: str) -> bool:
    """True when ``header`` is ``Bearer <key>``; compared in constant time."""
    given = bearer(header)
    return given is not None and hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))


# --- serving ---------------------------------------------------------------------------
def serve(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    name: str,
    log_level: str = "info",
    trusted_proxies: str | None = None,
    access_filters: Sequence[logging.Filter] = (),
) -> None:
    """Serve ``app`` with uvicorn until interrupted, without a ``Server`` header.

    Log lines go to stderr as ``<time> <name> <LEVEL> <message>``; ``access_filters``
    are added to uvicorn's access log (the gateway's blanks token signatures).
    ``trusted_proxies``: the proxies whose ``X-Forwarded-For`` is believed for the
    client address, comma-separated; ``""``: none, every client is its connecting
    address; None: uvicorn's default (127.0.0.1).
    """
    import uvicorn

    logging.basicConfig(
        level=log_level.upper(), format=f"%(asctime)s {name} %(levelname)s %(message)s"
    )
    for access_filter in access_filters:
        logging.getLogger("uvicorn.access").addFilter(access_filter)
    proxies: dict[str, Any] = (
        {}
        if trusted_proxies is None
        else {
            "proxy_headers": bool(trusted_proxies),
            "forwarded_allow_ips": trusted_proxies or None,
        }
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, **proxies)

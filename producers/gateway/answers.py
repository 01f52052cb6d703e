"""How the QR gateway answers besides JSON: the citizens' HTML pages (each with its own
content security policy), the page that answers a refusal on a survey path
(:func:`page_for`, the gateway's hook for :func:`hailong.http.install_errors`, its body
limit and its rate limit), and the QR code images."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from typing import Any

import segno
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from hailong.http import Refused, security_headers
from producers.gateway import page

SECURITY_HEADERS = security_headers(no_store=True)
PAGE_PATHS = "/s/"  # the citizens' pages; refusals there are pages too

# The page text (page.message_page's kind) for each refusal.
PAGE_KINDS = {
    "token-malformed": "malformed",
    "token-forged": "forged",
    "token-expired": "expired",
    "token-used": "used",
    "office-mismatch": "office",
    "invalid-survey": "invalid",
    "kafka-unavailable": "unavailable",
    "body-too-large": "too_large",
    "rate-limited": "rate",
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


def message(
    kind: str,
    lang: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    ok: bool = False,
    **values: Any,
) -> HTMLResponse:
    """A page with one of page.py's messages (``kind``)."""
    return html(lambda n: page.message_page(kind, lang, n, ok=ok, **values), status, headers)


def refused_page(refused: Refused, lang: str) -> HTMLResponse | None:
    """The page saying why, with the refusal's status (None: no page for it)."""
    kind = PAGE_KINDS.get(refused.slug)
    if kind is None:
        return None
    headers = refused.headers or {}
    values: dict[str, Any] = {"s": headers["Retry-After"]} if kind == "rate" else {}
    return message(kind, lang, refused.status, refused.headers, **values)


def page_for(request: Request, refused: Refused) -> Response | None:
    """On the survey paths, a page instead of problem details: a request FastAPI could
    not read (e.g. an overlong token) or a mangled link (404) is a malformed link."""
    if not request.url.path.startswith(PAGE_PATHS):
        return None
    lang = page.pick_lang(request.query_params.get("lang"))
    if refused.slug in ("invalid-request", "invalid-json"):
        return message("malformed", lang, 400)
    if refused.slug == "http-error":
        return message("malformed", lang, 404) if refused.status == 404 else None
    return refused_page(refused, lang)


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

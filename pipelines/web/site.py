"""What every route of the dashboard shares (:class:`Site`): the settings and clock, the
templates, the cached registry reads, who is asking (a session's account), rendering a
page with the security headers, and refusals.

A refusal is a :class:`hailong.http.Refused` made by :func:`denied`: on the read API
(``/api/``) it answers as problem details; on a page, no session redirects to the login
and a refusal shows the error page (:meth:`Site.error_page`, the dashboard's hook for
:func:`hailong.http.install_errors`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from hailong.clock import Clock
from hailong.http import Refused, security_headers
from hailong.settings import Settings
from pipelines.web import data
from pipelines.web.auth import Account, csrf_token
from pipelines.web.i18n import LANGS, translate
from pipelines.web.store import Accounts
from pipelines.web.views import (
    CITY_LIVE_TTL_S,
    REGISTRY_TTL_S,
    Cached,
    RegistryView,
    fmt,
    read_registry,
)
from warehouse.client import Warehouse

HERE = Path(__file__).parent
SESSION_COOKIE = "hailong_session"
LANG_COOKIE = "lang"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = security_headers(csp=CSP, referrer="same-origin")

# A refusal by status: its slug, title, and what the read API says.
DENIALS = {
    401: ("unauthorized", "Unauthorized", "a valid bearer token is needed"),
    403: ("forbidden", "Forbidden", "not in this token's scope"),
    404: ("not-found", "Not found", "not found"),
}
DENIAL_SLUGS = {slug for slug, _, _ in DENIALS.values()}


def denied(status: int) -> Refused:
    """The account may not see this (403), it does not exist (404), or there is no
    session or token (401: a page redirects to the login)."""
    slug, title, detail = DENIALS[status]
    return Refused(status, slug, title, detail)


class Site:
    """The dashboard's shared state and the helpers its routes use."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["us_time"] = lambda us: (
            fmt(datetime.fromtimestamp(us / 1e6, UTC)) if us else "—"
        )
        self.registry = Cached(clock, read_registry, REGISTRY_TTL_S)
        self.city_live = Cached(clock, data.city_live, CITY_LIVE_TTL_S)

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        with Warehouse(self.settings) as wh:
            yield wh

    def registry_of(self, wh: Warehouse) -> RegistryView:
        """The registry's maps (cached for ``REGISTRY_TTL_S``)."""
        return self.registry.get(wh)[0]

    def lang_of(self, request: Request) -> str:
        lang = request.cookies.get(LANG_COOKIE, "vi")
        return lang if lang in LANGS else "vi"

    def account_of(self, request: Request) -> Account | None:
        with Accounts(self.settings, self.clock) as accounts:
            return accounts.session(request.cookies.get(SESSION_COOKIE))

    def need(self, request: Request) -> Account:
        """The session's account (a dependency of the pages); 401 without one."""
        account = self.account_of(request)
        if account is None:
            raise denied(401)
        return account

    def page(
        self,
        request: Request,
        template: str,
        account: Account | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        lang = self.lang_of(request)
        token = request.cookies.get(SESSION_COOKIE, "")
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "t": lambda key: translate(key, lang),
                "lang": lang,
                "account": account,
                "csrf": csrf_token(token) if token and account else "",
                "fmt": fmt,
                "now": self.clock.now(),
                **context,
            },
            status_code=status,
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    def error_page(self, request: Request, refused: Refused) -> Response | None:
        """A refusal on a page: to the login without a session, else the error page
        (None on the read API and for other errors: problem details)."""
        if request.url.path.startswith("/api/") or refused.slug not in DENIAL_SLUGS:
            return None
        if refused.status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        message = "not_found" if refused.status == 404 else "forbidden"
        return self.page(request, "error.html", None, status=refused.status, message=message)

    @staticmethod
    def same_origin(request: Request) -> None:
        """A POST must come from this site's own pages (with SameSite cookies and the
        CSRF token, a third line of defence)."""
        origin = request.headers.get("origin")
        if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise denied(403)

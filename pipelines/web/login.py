"""The dashboard's session routes: ``/login`` (a form; the session cookie: HttpOnly,
SameSite=Strict, Secure behind https), ``/logout`` (with the session's CSRF token) and
``/lang/{lang}`` (the language cookie). No ``from __future__ import annotations``:
FastAPI reads the routes' annotations."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipelines.web.auth import AuthError, csrf_ok
from pipelines.web.i18n import LANGS
from pipelines.web.site import LANG_COOKIE, SESSION_COOKIE, Site
from pipelines.web.store import Accounts, LockedOut
from pipelines.web.views import safe_next


def login_routes(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    settings, clock = site.settings, site.clock

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return site.page(request, "login.html", None, next=safe_next(next))

    @router.post("/login")
    def login(
        request: Request,
        name: Annotated[str, Form()],
        password: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        site.same_origin(request)
        try:
            with Accounts(settings, clock) as accounts:
                token = accounts.login(name.strip().lower(), password)
        except LockedOut:
            return site.page(
                request, "login.html", None, status=429, error="locked", next=safe_next(next)
            )
        except AuthError:
            return site.page(
                request, "login.html", None, status=401, error="wrong_login", next=safe_next(next)
            )
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        site.same_origin(request)
        token = request.cookies.get(SESSION_COOKIE, "")
        if token and csrf_ok(token, csrf):
            with Accounts(settings, clock) as accounts:
                accounts.logout(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/lang/{lang}")
    def set_lang(request: Request, lang: str) -> Response:
        back = safe_next(request.headers.get("referer", "/").split(request.url.netloc, 1)[-1])
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(
            LANG_COOKIE, lang if lang in LANGS else "vi", samesite="lax", max_age=365 * 86400
        )
        return response

    return router

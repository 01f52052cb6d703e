"""``hailong web``: the dashboard for the city, its units and offices; the public portal;
the read API (issue 15).

- **Pages** (a session: ``/login``): ``/city``, ``/unit/{code}``, ``/office/{id}``,
  ``/staff/{id}``, ``/alerts`` (acknowledge). Each checks the account's scope
  (``pipelines/web/auth.py``) and answers 403 outside it. The office page polls
  ``/office/{id}/live.json`` and updates its figures without a reload.
- **Public portal** (no login): ``/public``, ``/public/{period}``, the methodology, open
  data ``/public/{period}.csv`` and ``.json``: published rankings only, no staff data.
- **Read API** ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``): a bearer token per unit
  or for the city (``hailong users token``: the scope of a unit's account, read-only), or
  a dashboard session (its account's scope); pages of ``limit`` rows from ``offset``,
  JSON or CSV (``format=csv``).

Security: sessions are HttpOnly, SameSite=Strict cookies (Secure behind https); every
form carries a CSRF token bound to the session; a POST from another origin is refused;
pages send a content security policy allowing only this server's scripts; templates
escape everything (Jinja2 autoescape).

(No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
and those name dependencies local to :func:`create_app`.)
"""

import csv
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import GZipMiddleware

from hailong.clock import SYSTEM, Clock
from hailong.settings import Settings
from pipelines.web import data
from pipelines.web.auth import Account, AuthError, csrf_ok, csrf_token
from pipelines.web.i18n import LANGS, translate
from pipelines.web.store import Accounts, LockedOut
from warehouse.client import Warehouse

HERE = Path(__file__).parent
SESSION_COOKIE = "hailong_session"
LANG_COOKIE = "lang"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
MAX_PAGE = 1000


class Denied(Exception):
    """The account may not see this (403), or there is no session (redirect to login)."""

    def __init__(self, status: int) -> None:
        self.status = status


def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(settings: Settings, clock: Clock = SYSTEM, live_poll_s: float = 5.0) -> FastAPI:
    app = FastAPI(
        title="Hailong read API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["us_time"] = lambda us: (
        fmt(datetime.fromtimestamp(us / 1e6, UTC)) if us else "—"
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @contextmanager
    def warehouse() -> Iterator[Warehouse]:
        with Warehouse(settings) as wh:
            yield wh

    registry = Cached(clock, read_registry, REGISTRY_TTL_S)
    city_live = Cached(clock, data.city_live, CITY_LIVE_TTL_S)

    def lang_of(request: Request) -> str:
        lang = request.cookies.get(LANG_COOKIE, "vi")
        return lang if lang in LANGS else "vi"

    def account_of(request: Request) -> Account | None:
        with Accounts(settings, clock) as accounts:
            return accounts.session(request.cookies.get(SESSION_COOKIE))

    def need(request: Request) -> Account:
        account = account_of(request)
        if account is None:
            raise Denied(401)
        return account

    def page(
        request: Request, template: str, account: Account | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        lang = lang_of(request)
        token = request.cookies.get(SESSION_COOKIE, "")
        response = templates.TemplateResponse(
            request,
            template,
            {
                "t": lambda key: translate(key, lang),
                "lang": lang,
                "account": account,
                "csrf": csrf_token(token) if token and account else "",
                "fmt": fmt,
                "now": clock.now(),
                **context,
            },
            status_code=status,
        )
        secure(response)
        return response

    def secure(response: Response) -> None:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        if request.url.path.startswith("/api/"):
            detail = {
                401: "a valid bearer token is needed",
                403: "not in this token's scope",
                404: "not found",
            }[exc.status]
            return JSONResponse({"detail": detail}, status_code=exc.status)
        if exc.status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return page(
            request,
            "error.html",
            None,
            status=exc.status,
            message="not_found" if exc.status == 404 else "forbidden",
        )

    def same_origin(request: Request) -> None:
        """A POST must come from this site's own pages (with SameSite cookies and the
        CSRF token, a third line of defence)."""
        origin = request.headers.get("origin")
        if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise Denied(403)

    # --- login ---------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return page(request, "login.html", None, next=safe_next(next))

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        name: Annotated[str, Form()],
        password: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        same_origin(request)
        try:
            with Accounts(settings, clock) as accounts:
                token = accounts.login(name.strip().lower(), password)
        except LockedOut:
            return page(
                request, "login.html", None, status=429, error="locked", next=safe_next(next)
            )
        except AuthError:
            return page(
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

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        same_origin(request)
        token = request.cookies.get(SESSION_COOKIE, "")
        if token and csrf_ok(token, csrf):
            with Accounts(settings, clock) as accounts:
                accounts.logout(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/lang/{lang}", include_in_schema=False)
    def set_lang(request: Request, lang: str) -> Response:
        back = safe_next(request.headers.get("referer", "/").split(request.url.netloc, 1)[-1])
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(
            LANG_COOKIE, lang if lang in LANGS else "vi", samesite="lax", max_age=365 * 86400
        )
        return response

    # --- the dashboard -------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(account: Annotated[Account, Depends(need)]) -> Response:
        if account.sees_city():
            return RedirectResponse("/city", status_code=303)
        scope = account.scope.split(":", 1)[-1]
        if account.role == "unit" or account.scope.startswith("unit:"):
            return RedirectResponse(f"/unit/{scope}", status_code=303)
        if account.role == "staff":
            return RedirectResponse(f"/staff/{scope}", status_code=303)
        return RedirectResponse(f"/office/{scope}", status_code=303)

    @app.get("/city", response_class=HTMLResponse, include_in_schema=False)
    def city(
        request: Request, account: Annotated[Account, Depends(need)], all: bool = False
    ) -> HTMLResponse:
        show_all = all
        if not account.sees_city():
            raise Denied(403)
        with warehouse() as wh:
            periods = data.ranking_periods(wh, clock, published_only=False)
            period = periods[0] if periods else None
            rows = data.ranking(wh, period) if period else []
            names = registry.get(wh)[0].names
            live, live_at = city_live.get(wh)
            alerts = data.open_alerts(wh)
            landed = data.latest_landed(wh)
        groups = grouped(rows)
        return page(
            request,
            "city.html",
            account,
            period=period,
            preview=bool(period and data.period_end(period) > clock.now()),
            groups=groups if show_all else shortened(groups, LEAGUE_ROWS),
            show_all=show_all,
            long=any(len(g) > LEAGUE_ROWS for _, g in groups),
            live=live,
            live_at=live_at,
            names=names,
            alerts=alerts,
            landed=landed,
        )

    @app.get("/unit/{code}", response_class=HTMLResponse, include_in_schema=False)
    def unit(
        request: Request, code: str, account: Annotated[Account, Depends(need)]
    ) -> HTMLResponse:
        if not account.sees_unit(code):
            raise Denied(403)
        with warehouse() as wh:
            reg = registry.get(wh)[0]
            unit_map = reg.unit_of
            offices = sorted(o for o, u in unit_map.items() if u == code)
            known = reg.units
            if code not in known:
                return page(request, "error.html", account, status=404, message="not_found")
            history = [
                r
                for p in data.ranking_periods(wh, clock, False)[:12]
                for r in data.ranking(wh, p, [code])
            ]
            live = data.live_index(wh, offices, windows=("24h", "7d", "30d"))
            alerts = [a for a in data.open_alerts(wh) if a["office_id"] in offices]
            names = reg.names
            landed = data.latest_landed(wh)
        return page(
            request,
            "unit.html",
            account,
            code=code,
            unit=known[code],
            history=history,
            live=live,
            alerts=alerts,
            names=names,
            landed=landed,
        )

    def office_context(wh: Warehouse, office_id: str, account: Account) -> dict[str, Any]:
        unit_map = registry.get(wh)[0].unit_of
        now = clock.now()
        staff_ok = account.role != "viewer"
        return {
            "office_id": office_id,
            "unit_code": unit_map.get(office_id, ""),
            "name": registry.get(wh)[0].names.get(office_id, office_id),
            "live": data.live_index(wh, [office_id]),
            "hourly": data.hourly(wh, office_id, now - timedelta(hours=48)),
            "chart_from": int(now.timestamp()) - 48 * 3600,
            "chart_to": int(now.timestamp()),
            "counters": data.counters(wh, office_id, now - timedelta(days=30)),
            "staff": data.staff_scores(wh, office_id) if staff_ok else None,
            "devices": data.devices(wh, office_id),
            "comments": data.comments(wh, office_id),
            "alerts": [a for a in data.open_alerts(wh) if a["office_id"] == office_id],
            "landed": data.latest_landed(wh),
        }

    @app.get("/office/{office_id}", response_class=HTMLResponse, include_in_schema=False)
    def office(
        request: Request, office_id: str, account: Annotated[Account, Depends(need)]
    ) -> HTMLResponse:
        with warehouse() as wh:
            unit_map = registry.get(wh)[0].unit_of
            if not account.sees_office(office_id, unit_map):
                raise Denied(403)
            if office_id not in unit_map:
                return page(request, "error.html", account, status=404, message="not_found")
            context = office_context(wh, office_id, account)
        return page(request, "office.html", account, poll_s=live_poll_s, **context)

    @app.get("/office/{office_id}/live.json", include_in_schema=False)
    def office_live(office_id: str, account: Annotated[Account, Depends(need)]) -> JSONResponse:
        with warehouse() as wh:
            if not account.sees_office(office_id, registry.get(wh)[0].unit_of):
                raise Denied(403)
            live = data.live_index(wh, [office_id])
            landed = data.latest_landed(wh)
        return JSONResponse(
            {
                "office_id": office_id,
                "read_at": clock.now().isoformat(),
                "landed_at": landed.isoformat() if landed else None,
                "windows": {r["window"]: jsonable(r) for r in live},
            },
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/staff/{staff_id}", response_class=HTMLResponse, include_in_schema=False)
    def staff(
        request: Request,
        staff_id: str,
        account: Annotated[Account, Depends(need)],
        office: str = "",
    ) -> HTMLResponse:
        office_id = office or (account.office_id if account.role == "staff" else "")
        with warehouse() as wh:
            unit_map = registry.get(wh)[0].unit_of
            if not office_id or not account.sees_staff(staff_id, office_id, unit_map):
                raise Denied(403)
            scores = data.staff_scores(wh, office_id, staff_id)
        return page(
            request, "staff.html", account, staff_id=staff_id, office_id=office_id, scores=scores
        )

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts(request: Request, account: Annotated[Account, Depends(need)]) -> HTMLResponse:
        if account.role == "staff":
            raise Denied(403)
        with warehouse() as wh:
            unit_map = registry.get(wh)[0].unit_of
            mine = [
                a for a in data.open_alerts(wh) if account.sees_office(a["office_id"], unit_map)
            ]
            names = registry.get(wh)[0].names
        return page(request, "alerts.html", account, alerts=mine, names=names)

    @app.post("/alerts/{alert_id}/ack", include_in_schema=False)
    def acknowledge(
        request: Request,
        alert_id: str,
        account: Annotated[Account, Depends(need)],
        csrf: Annotated[str, Form()] = "",
        comment: Annotated[str, Form()] = "",
    ) -> Response:
        same_origin(request)
        if not csrf_ok(request.cookies.get(SESSION_COOKIE, ""), csrf) or not account.can_act:
            raise Denied(403)
        from streams.alert_engine import act
        from streams.alert_life import AlertError

        with warehouse() as wh:
            rows = wh.execute(
                "SELECT office_id FROM alerts WHERE alert_id = %(a)s", {"a": alert_id}
            )
            if not rows or not account.sees_office(rows[0][0], registry.get(wh)[0].unit_of):
                raise Denied(403)
            try:
                act(wh, alert_id, "acknowledged", account.name, comment[:500], clock.now())
            except AlertError:
                pass  # acknowledged meanwhile, or resolved: the inbox shows how it stands
        return RedirectResponse("/alerts", status_code=303)

    # --- the public portal ---------------------------------------------------------------

    @app.get("/public", response_class=HTMLResponse, include_in_schema=False)
    def public(request: Request) -> HTMLResponse:
        with warehouse() as wh:
            periods = data.ranking_periods(wh, clock, published_only=True)
            rows = data.ranking(wh, periods[0]) if periods else []
        return page(
            request,
            "public.html",
            account_of(request),
            periods=periods,
            period=periods[0] if periods else None,
            groups=grouped(rows),
        )

    @app.get("/public/methodology", response_class=HTMLResponse, include_in_schema=False)
    def methodology(request: Request) -> HTMLResponse:
        with warehouse() as wh:
            weights = data.weights_json(wh)
        return page(
            request,
            "methodology.html",
            account_of(request),
            weights=weights,
            min_sample=settings.min_sample,
        )

    def published(wh: Warehouse, period: str) -> list[dict[str, Any]]:
        if period not in data.ranking_periods(wh, clock, published_only=True):
            raise Denied(404)
        return data.ranking(wh, period)

    @app.get("/public/{period}.json", include_in_schema=False)
    def public_json(period: str) -> JSONResponse:
        with warehouse() as wh:
            return JSONResponse(data.open_data(published(wh, period)))

    @app.get("/public/{period}.csv", include_in_schema=False)
    def public_csv(period: str) -> Response:
        with warehouse() as wh:
            rows = published(wh, period)
        return Response(
            to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="hailong-{period}.csv"'},
        )

    @app.get("/public/{period}", response_class=HTMLResponse, include_in_schema=False)
    def public_period(request: Request, period: str) -> HTMLResponse:
        with warehouse() as wh:
            rows = published(wh, period)
        return page(
            request,
            "public.html",
            account_of(request),
            periods=[period],
            period=period,
            groups=grouped(rows),
        )

    # --- the read API --------------------------------------------------------------------

    def api_account(request: Request) -> Account:
        """Who asks the API: a bearer token (a unit's, or the city's) or a dashboard
        session (the same scope as its pages); 401 without either."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer":
            with Accounts(settings, clock) as accounts:
                found = accounts.api_token(token.strip())
            if found is None:
                raise Denied(401)
            return Account(
                f"token:{found.label}", "unit" if found.unit_code else "viewer", found.unit_code
            )
        account = account_of(request)
        if account is None:
            raise Denied(401)
        return account

    def unit_rows(account: Account, unit_map: dict[str, str]) -> list[str] | None:
        """The units whose rows the account may read (None: all)."""
        if account.sees_city():
            return None
        return sorted({u for u in unit_map.values() if account.sees_unit(u)})

    def paged(
        rows: list[dict[str, Any]],
        start: int,
        limit: int,
        fmt_: str,
        total: int | None = None,
        offset: int | None = None,
    ) -> Response:
        """``rows[start:start + limit]``; ``total``/``offset``: when ``rows`` is already
        the page (its rows computed for the page only)."""
        chunk = rows[start : start + limit]
        total = len(rows) if total is None else total
        offset = start if offset is None else offset
        if fmt_ == "csv":
            return Response(
                to_csv(chunk),
                media_type="text/csv; charset=utf-8",
                headers={"X-Total-Count": str(total)},
            )
        return JSONResponse(
            {"total": total, "offset": offset, "limit": limit, "rows": [jsonable(r) for r in chunk]}
        )

    Offset = Annotated[int, Query(ge=0)]
    Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
    Format = Annotated[str, Query(pattern="^(json|csv)$")]

    @app.get("/api/v1/offices", tags=["live"])
    def api_offices(
        request: Request, offset: Offset = 0, limit: Limit = 100, format: Format = "json"
    ) -> Response:
        """The live index (24 h) of every office in the caller's scope."""
        account = api_account(request)
        with warehouse() as wh:
            unit_map = registry.get(wh)[0].unit_of
            offices = sorted(o for o in unit_map if account.sees_office(o, unit_map))
            page_of = offices[offset : offset + limit]  # the index of this page's offices only
            rows = [
                {"unit_code": unit_map[r["office_id"]], **r}
                for r in data.live_index(wh, page_of, windows=("24h",))
            ]
        return paged(rows, 0, limit, format, total=len(offices), offset=offset)

    @app.get("/api/v1/offices/{office_id}", tags=["live"])
    def api_office(request: Request, office_id: str) -> JSONResponse:
        """One office's live index, every window."""
        account = api_account(request)
        with warehouse() as wh:
            unit_map = registry.get(wh)[0].unit_of
            if office_id not in unit_map:
                raise Denied(404)
            if not account.sees_office(office_id, unit_map):
                raise Denied(403)
            live = data.live_index(wh, [office_id])
        return JSONResponse(
            {
                "office_id": office_id,
                "unit_code": unit_map[office_id],
                "windows": {r["window"]: jsonable(r) for r in live},
            }
        )

    @app.get("/api/v1/rankings/{period}", tags=["rankings"])
    def api_ranking(
        request: Request,
        period: str,
        offset: Offset = 0,
        limit: Limit = 100,
        format: Format = "json",
    ) -> Response:
        """A period's ranking: the rows of the units the caller may see."""
        account = api_account(request)
        with warehouse() as wh:
            rows = data.ranking(wh, period, unit_rows(account, registry.get(wh)[0].unit_of))
        return paged(rows, offset, limit, format)

    @app.get("/api/v1/alerts", tags=["alerts"])
    def api_alerts(
        request: Request, offset: Offset = 0, limit: Limit = 100, format: Format = "json"
    ) -> Response:
        """Open alerts in the caller's scope."""
        account = api_account(request)
        with warehouse() as wh:
            unit_map = registry.get(wh)[0].unit_of
            rows = [
                {**a, "numbers": json.dumps(a["numbers"])}
                for a in data.open_alerts(wh)
                if account.sees_office(a["office_id"], unit_map)
            ]
        return paged(rows, offset, limit, format)

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_file() -> Response:
        return Response(
            plotly_js().read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return app


LEAGUE_ROWS = 25  # per peer group on the overview: the first and last; ?all=1 for every one


@dataclass(frozen=True)
class RegistryView:
    unit_of: dict[str, str]
    names: dict[str, str]
    units: dict[str, dict[str, str]]


def read_registry(wh: Warehouse) -> RegistryView:
    """The registry's maps every page needs (read once a minute: ``REGISTRY_TTL_S``; a
    city's registry changes a few times a year)."""
    return RegistryView(data.unit_of(wh), data.office_names(wh), data.units(wh))


REGISTRY_TTL_S = 60.0
CITY_LIVE_TTL_S = 10.0  # the whole city's sums, shared by everyone who opens the overview


class Cached:
    """One read shared by every request for ``ttl_s`` seconds, with the time it was made
    (a page shows it)."""

    def __init__(self, clock: Clock, read: Any, ttl_s: float) -> None:
        self.clock, self.read, self.ttl_s = clock, read, ttl_s
        self._value: Any = None
        self._at: datetime | None = None
        self._mono = 0.0
        self._lock = threading.Lock()

    def get(self, wh: Warehouse) -> tuple[Any, datetime]:
        with self._lock:
            if self._at is None or self.clock.monotonic() - self._mono > self.ttl_s:
                self._value, self._at = self.read(wh), self.clock.now()
                self._mono = self.clock.monotonic()
            return self._value, self._at


def shortened(
    groups: list[tuple[str, list[dict[str, Any]]]], n: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each group's first and last ``n`` rows (all of a group of at most 2n)."""
    return [(g, rows if len(rows) <= 2 * n else [*rows[:n], *rows[-n:]]) for g, rows in groups]


def safe_next(target: str) -> str:
    """Only a path of this site (no scheme, no host, no //evil.example)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def grouped(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["peer_group"], []).append(r)
    return sorted(groups.items())


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(jsonable(r) for r in rows)
    return out.getvalue()


def fmt(value: Any, digits: int = 1) -> str:
    """A number for a page: '—' when absent."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)

"""The dashboard's pages (a session: ``/login``): ``/city``, ``/unit/{code}``,
``/office/{id}`` (and ``/office/{id}/live.json``, which the office page polls to update
its figures without a reload), ``/staff/{id}``, ``/alerts`` (acknowledge). Each checks
the account's scope (``pipelines/web/auth.py``) and answers 403 outside it. No ``from
__future__ import annotations``: FastAPI reads the routes' annotations, and those name a
dependency local to :func:`dashboard_routes`."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pipelines.web import data
from pipelines.web.auth import Account, csrf_ok
from pipelines.web.site import SESSION_COOKIE, Site, denied
from pipelines.web.views import LEAGUE_ROWS, grouped, jsonable, shortened
from warehouse.client import Warehouse


def dashboard_routes(site: Site, live_poll_s: float) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    clock = site.clock
    Me = Annotated[Account, Depends(site.need)]

    @router.get("/")
    def home(account: Me) -> Response:
        if account.sees_city():
            return RedirectResponse("/city", status_code=303)
        scope = account.scope.split(":", 1)[-1]
        if account.role == "unit" or account.scope.startswith("unit:"):
            return RedirectResponse(f"/unit/{scope}", status_code=303)
        if account.role == "staff":
            return RedirectResponse(f"/staff/{scope}", status_code=303)
        return RedirectResponse(f"/office/{scope}", status_code=303)

    @router.get("/city", response_class=HTMLResponse)
    def city(request: Request, account: Me, all: bool = False) -> HTMLResponse:
        show_all = all
        if not account.sees_city():
            raise denied(403)
        with site.warehouse() as wh:
            periods = data.ranking_periods(wh, clock, published_only=False)
            period = periods[0] if periods else None
            rows = data.ranking(wh, period) if period else []
            names = site.registry_of(wh).names
            live, live_at = site.city_live.get(wh)
            alerts = data.open_alerts(wh)
            landed = data.latest_landed(wh)
        groups = grouped(rows)
        return site.page(
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

    @router.get("/unit/{code}", response_class=HTMLResponse)
    def unit(request: Request, code: str, account: Me) -> HTMLResponse:
        if not account.sees_unit(code):
            raise denied(403)
        with site.warehouse() as wh:
            reg = site.registry_of(wh)
            offices = sorted(o for o, u in reg.unit_of.items() if u == code)
            if code not in reg.units:
                return site.page(request, "error.html", account, status=404, message="not_found")
            history = [
                r
                for p in data.ranking_periods(wh, clock, False)[:12]
                for r in data.ranking(wh, p, [code])
            ]
            live = data.live_index(wh, offices, windows=("24h", "7d", "30d"))
            alerts = [a for a in data.open_alerts(wh) if a["office_id"] in offices]
            landed = data.latest_landed(wh)
        return site.page(
            request,
            "unit.html",
            account,
            code=code,
            unit=reg.units[code],
            history=history,
            live=live,
            alerts=alerts,
            names=reg.names,
            landed=landed,
        )

    def office_context(wh: Warehouse, office_id: str, account: Account) -> dict[str, Any]:
        reg = site.registry_of(wh)
        now = clock.now()
        staff_ok = account.role != "viewer"
        return {
            "office_id": office_id,
            "unit_code": reg.unit_of.get(office_id, ""),
            "name": reg.names.get(office_id, office_id),
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

    @router.get("/office/{office_id}", response_class=HTMLResponse)
    def office(request: Request, office_id: str, account: Me) -> HTMLResponse:
        with site.warehouse() as wh:
            unit_map = site.registry_of(wh).unit_of
            if not account.sees_office(office_id, unit_map):
                raise denied(403)
            if office_id not in unit_map:
                return site.page(request, "error.html", account, status=404, message="not_found")
            context = office_context(wh, office_id, account)
        return site.page(request, "office.html", account, poll_s=live_poll_s, **context)

    @router.get("/office/{office_id}/live.json")
    def office_live(office_id: str, account: Me) -> JSONResponse:
        with site.warehouse() as wh:
            if not account.sees_office(office_id, site.registry_of(wh).unit_of):
                raise denied(403)
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

    @router.get("/staff/{staff_id}", response_class=HTMLResponse)
    def staff(request: Request, staff_id: str, account: Me, office: str = "") -> HTMLResponse:
        office_id = office or (account.office_id if account.role == "staff" else "")
        with site.warehouse() as wh:
            unit_map = site.registry_of(wh).unit_of
            if not office_id or not account.sees_staff(staff_id, office_id, unit_map):
                raise denied(403)
            scores = data.staff_scores(wh, office_id, staff_id)
        return site.page(
            request, "staff.html", account, staff_id=staff_id, office_id=office_id, scores=scores
        )

    @router.get("/alerts", response_class=HTMLResponse)
    def alerts(request: Request, account: Me) -> HTMLResponse:
        if account.role == "staff":
            raise denied(403)
        with site.warehouse() as wh:
            reg = site.registry_of(wh)
            mine = [
                a for a in data.open_alerts(wh) if account.sees_office(a["office_id"], reg.unit_of)
            ]
        return site.page(request, "alerts.html", account, alerts=mine, names=reg.names)

    @router.post("/alerts/{alert_id}/ack")
    def acknowledge(
        request: Request,
        alert_id: str,
        account: Me,
        csrf: Annotated[str, Form()] = "",
        comment: Annotated[str, Form()] = "",
    ) -> Response:
        site.same_origin(request)
        if not csrf_ok(request.cookies.get(SESSION_COOKIE, ""), csrf) or not account.can_act:
            raise denied(403)
        from warehouse.alerts import AlertError, act

        with site.warehouse() as wh:
            rows = wh.execute(
                "SELECT office_id FROM alerts WHERE alert_id = %(a)s", {"a": alert_id}
            )
            if not rows or not account.sees_office(rows[0][0], site.registry_of(wh).unit_of):
                raise denied(403)
            try:
                act(wh, alert_id, "acknowledged", account.name, comment[:500], clock.now())
            except AlertError:
                pass  # acknowledged meanwhile, or resolved: the inbox shows how it stands
        return RedirectResponse("/alerts", status_code=303)

    return router

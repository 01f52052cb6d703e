"""The public portal (no login): ``/public``, ``/public/{period}``, the methodology, open
data ``/public/{period}.csv`` and ``.json``: published rankings only (a period that has
ended, computed after its end), no staff data; another period is 404. No ``from
__future__ import annotations``: FastAPI reads the routes' annotations."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from pipelines.web import data
from pipelines.web.site import Site, denied
from pipelines.web.views import grouped, to_csv
from warehouse.client import Warehouse


def portal_routes(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    clock = site.clock

    def published(wh: Warehouse, period: str) -> list[dict[str, Any]]:
        if period not in data.ranking_periods(wh, clock, published_only=True):
            raise denied(404)
        return data.ranking(wh, period)

    def ranking_page(request: Request, periods: list[str], rows: list[dict[str, Any]]) -> Response:
        return site.page(
            request,
            "public.html",
            site.account_of(request),
            periods=periods,
            period=periods[0] if periods else None,
            groups=grouped(rows),
        )

    @router.get("/public", response_class=HTMLResponse)
    def public(request: Request) -> Response:
        with site.warehouse() as wh:
            periods = data.ranking_periods(wh, clock, published_only=True)
            rows = data.ranking(wh, periods[0]) if periods else []
        return ranking_page(request, periods, rows)

    @router.get("/public/methodology", response_class=HTMLResponse)
    def methodology(request: Request) -> HTMLResponse:
        with site.warehouse() as wh:
            weights = data.weights_json(wh)
        return site.page(
            request,
            "methodology.html",
            site.account_of(request),
            weights=weights,
            min_sample=site.settings.min_sample,
        )

    @router.get("/public/{period}.json")
    def public_json(period: str) -> JSONResponse:
        with site.warehouse() as wh:
            return JSONResponse(data.open_data(published(wh, period)))

    @router.get("/public/{period}.csv")
    def public_csv(period: str) -> Response:
        with site.warehouse() as wh:
            rows = published(wh, period)
        return Response(
            to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="hailong-{period}.csv"'},
        )

    @router.get("/public/{period}", response_class=HTMLResponse)
    def public_period(request: Request, period: str) -> Response:
        with site.warehouse() as wh:
            rows = published(wh, period)
        return ranking_page(request, [period], rows)

    return router

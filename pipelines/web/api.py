"""The read API ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``): a bearer token per
unit or for the city (``hailong users token``: the scope of a unit's account, read-only),
or a dashboard session (its account's scope); pages of ``limit`` rows from ``offset``,
JSON or CSV (``format=csv``). Refusals are problem details. No ``from __future__ import
annotations``: FastAPI reads the routes' annotations."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from hailong.http import bearer
from pipelines.web import data
from pipelines.web.auth import Account
from pipelines.web.site import Site, denied
from pipelines.web.store import Accounts
from pipelines.web.views import jsonable, to_csv
from warehouse.client import Warehouse

MAX_PAGE = 1000

Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Format = Annotated[str, Query(pattern="^(json|csv)$")]


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


def unit_rows(account: Account, unit_map: dict[str, str]) -> list[str] | None:
    """The units whose rows the account may read (None: all)."""
    if account.sees_city():
        return None
    return sorted({u for u in unit_map.values() if account.sees_unit(u)})


def api_routes(site: Site) -> APIRouter:
    router = APIRouter()

    def api_account(request: Request) -> Account:
        """Who asks the API: a bearer token (a unit's, or the city's) or a dashboard
        session (the same scope as its pages); 401 without either."""
        token = bearer(request.headers.get("authorization", ""))
        if token is not None:
            with Accounts(site.settings, site.clock) as accounts:
                found = accounts.api_token(token)
            if found is None:
                raise denied(401)
            return Account(
                f"token:{found.label}", "unit" if found.unit_code else "viewer", found.unit_code
            )
        account = site.account_of(request)
        if account is None:
            raise denied(401)
        return account

    @contextmanager
    def reading(request: Request) -> Iterator[tuple[Account, Warehouse, dict[str, str]]]:
        """Who asks (401 first), the warehouse, and each office's unit."""
        account = api_account(request)
        with site.warehouse() as wh:
            yield account, wh, site.registry_of(wh).unit_of

    @router.get("/api/v1/offices", tags=["live"])
    def api_offices(
        request: Request, offset: Offset = 0, limit: Limit = 100, format: Format = "json"
    ) -> Response:
        """The live index (24 h) of every office in the caller's scope."""
        with reading(request) as (account, wh, unit_map):
            offices = sorted(o for o in unit_map if account.sees_office(o, unit_map))
            page_of = offices[offset : offset + limit]  # the index of this page's offices only
            rows = [
                {"unit_code": unit_map[r["office_id"]], **r}
                for r in data.live_index(wh, page_of, windows=("24h",))
            ]
        return paged(rows, 0, limit, format, total=len(offices), offset=offset)

    @router.get("/api/v1/offices/{office_id}", tags=["live"])
    def api_office(request: Request, office_id: str) -> JSONResponse:
        """One office's live index, every window."""
        with reading(request) as (account, wh, unit_map):
            if office_id not in unit_map:
                raise denied(404)
            if not account.sees_office(office_id, unit_map):
                raise denied(403)
            live = data.live_index(wh, [office_id])
        return JSONResponse(
            {
                "office_id": office_id,
                "unit_code": unit_map[office_id],
                "windows": {r["window"]: jsonable(r) for r in live},
            }
        )

    @router.get("/api/v1/rankings/{period}", tags=["rankings"])
    def api_ranking(
        request: Request,
        period: str,
        offset: Offset = 0,
        limit: Limit = 100,
        format: Format = "json",
    ) -> Response:
        """A period's ranking: the rows of the units the caller may see."""
        with reading(request) as (account, wh, unit_map):
            rows = data.ranking(wh, period, unit_rows(account, unit_map))
        return paged(rows, offset, limit, format)

    @router.get("/api/v1/alerts", tags=["alerts"])
    def api_alerts(
        request: Request, offset: Offset = 0, limit: Limit = 100, format: Format = "json"
    ) -> Response:
        """Open alerts in the caller's scope."""
        with reading(request) as (account, wh, unit_map):
            rows = [
                {**a, "numbers": json.dumps(a["numbers"])}
                for a in data.open_alerts(wh)
                if account.sees_office(a["office_id"], unit_map)
            ]
        return paged(rows, offset, limit, format)

    return router

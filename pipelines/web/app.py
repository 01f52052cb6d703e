"""``hailong web``: the dashboard for the city, its units and offices; the public portal;
the read API (issue 15). This module wires them (no ``from __future__ import
annotations``: FastAPI reads the routes' annotations).

- **Pages** (a session: ``/login``, :mod:`~pipelines.web.login`): the city, a unit, an
  office, a civil servant, the alerts (:mod:`~pipelines.web.pages`).
- **Public portal** (no login): :mod:`~pipelines.web.portal`.
- **Read API** ``/api/v1``: :mod:`~pipelines.web.api`.
- What they share (templates, cached reads, the account asking, refusals):
  :mod:`~pipelines.web.site`; what they make of the reads: :mod:`~pipelines.web.views`.

Security: sessions are HttpOnly, SameSite=Strict cookies (Secure behind https); every
form carries a CSRF token bound to the session; a POST from another origin is refused;
pages send a content security policy allowing only this server's scripts; templates
escape everything (Jinja2 autoescape). Errors are problem details
(:mod:`hailong.http`), except on pages: the login, or the error page.
"""

import argparse
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from hailong.clock import SYSTEM, Clock
from hailong.http import install_errors, serve
from hailong.settings import Settings
from pipelines.web.api import api_routes
from pipelines.web.login import login_routes
from pipelines.web.pages import dashboard_routes
from pipelines.web.portal import portal_routes
from pipelines.web.site import HERE, Site


def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(settings: Settings, clock: Clock = SYSTEM, live_poll_s: float = 5.0) -> FastAPI:
    """The dashboard, the portal and the read API as an ASGI app; the office page polls
    its live figures every ``live_poll_s`` seconds."""
    app = FastAPI(
        title="Hailong read API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    site = Site(settings, clock)
    install_errors(app, site.error_page)
    app.include_router(login_routes(site))
    app.include_router(dashboard_routes(site, live_poll_s))
    app.include_router(portal_routes(site))
    app.include_router(api_routes(site))

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_file() -> Response:
        return Response(
            plotly_js().read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return app


def run_cli(settings: Settings, args: argparse.Namespace) -> None:
    """``hailong web``: prepare the private database, then serve the dashboard with
    uvicorn until interrupted (``args``: ``host``, ``port``)."""
    from warehouse.private import prepare_private

    prepare_private(settings)
    print(
        f"web: the dashboard at http://{args.host}:{args.port}/ (log in: `hailong users "
        "add`), the public portal at /public, the read API at /api/v1 "
        "(OpenAPI: /api/v1/openapi.json)",
        flush=True,
    )
    serve(create_app(settings, SYSTEM), args.host, args.port, name="web", log_level="warning")

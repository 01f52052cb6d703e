"""The QR gateway's HTTP service (FastAPI; OpenAPI at ``/docs`` and ``/openapi.json``):
the wiring of its parts (no ``from __future__ import annotations``: FastAPI reads the
routes' annotations).

Three audiences:

- the office's queue/ticket system issues a signed token per citizen and prints its QR
  code (:mod:`~producers.gateway.api`, issuing);
- the citizen opens ``/s/<token>`` on their phone and submits the survey
  (:mod:`~producers.gateway.citizens`); other front ends use ``POST /api/v1/surveys``
  (:mod:`~producers.gateway.api`);
- operations check ``/healthz``.

What a submission must satisfy, and when it is confirmed: :mod:`~producers.gateway.service`.
Bodies above ``gateway_max_body_bytes`` get 413; citizen-facing requests above
``gateway_rate_per_minute`` per client address get 429 with ``Retry-After``. Errors of
the JSON API are problem details, those of the citizens' pages are pages
(:func:`~producers.gateway.answers.page_for`).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hailong.clock import SYSTEM, Clock
from hailong.http import AddressRateLimit, BodyLimit, install_errors
from hailong.settings import Settings
from producers.gateway.answers import page_for
from producers.gateway.api import issuing_routes, survey_api_routes
from producers.gateway.citizens import citizen_routes
from producers.gateway.service import Gateway
from producers.service import DELIVERY_TIMEOUT_S, add_healthz

CITIZEN_PATHS = ("/s/", "/api/v1/surveys")

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
    install_errors(app, page_for)
    app.include_router(issuing_routes(gw))
    app.include_router(citizen_routes(gw))
    app.include_router(survey_api_routes(gw))

    add_healthz(
        app,
        settings.topics.qr,
        "The process is up and its token store answers.",
        lambda: gw.store.state("healthz"),
    )
    app.add_middleware(BodyLimit, max_bytes=settings.gateway_max_body_bytes, page_for=page_for)
    # Outermost: the rate limit applies before the body is read.
    app.add_middleware(AddressRateLimit, limiter=gw.limiter, paths=CITIZEN_PATHS, page_for=page_for)
    return app

"""The QR gateway's JSON API (no ``from __future__ import annotations``: FastAPI reads
the routes' annotations).

- issuing, for an office's queue/ticket system: ``POST /api/v1/tokens`` (bearer: its
  own issuer token, for its office only, at ``gateway_issue_per_minute``) and the QR
  code of a token as SVG or PNG;
- surveys, for front ends other than the page: ``POST /api/v1/surveys``.

Refusals are :class:`hailong.http.Refused`: problem details.
"""

import asyncio
import base64
import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hailong import qrtoken as tokens
from hailong.http import Refused, problem_responses
from producers.gateway.answers import SECURITY_HEADERS, qr_png, qr_svg
from producers.gateway.models import (
    SurveyAccepted,
    SurveySubmission,
    TokenIssued,
    TokenPath,
    TokenRequest,
    problems,
)
from producers.gateway.service import Gateway
from producers.service import RegisteredTokens

log = logging.getLogger("hailong.gateway")

issuer = HTTPBearer(
    auto_error=False,
    scheme_name="issuer token",
    description="the issuer token of an office's queue system (`issuer_token` "
    "in the config of `hailong devices register --kind issuer "
    "--office O`)",
)
Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(issuer)]


def qr_image(kind: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of a QR code image route."""
    return {
        200: {"content": {kind: {}}, "description": "the QR code of the token's survey URL"},
        **problems(400, 403, 410),
    }


def issuing_routes(gw: Gateway) -> APIRouter:
    """Issuing tokens and their QR codes."""
    settings = gw.settings
    router = APIRouter(tags=["issuing"])
    issuers = RegisteredTokens(
        settings,
        "issuer",
        settings.gateway_registry_refresh_s,
        settings.gateway_issue_per_minute,
        "the issuer token of your office",
        clock=gw.clock.monotonic,
    )

    async def check_issuer(creds: HTTPAuthorizationCredentials | None, office_id: str) -> None:
        """The issuer's token must be registered, within its rate, and of this office."""
        holder = await issuers.admit(creds.credentials if creds else None)
        if holder.office_id != office_id:
            log.warning("issuer %s asked for a token of another office", holder.device_id)
            raise Refused(
                403,
                "not-your-office",
                "Not your office",
                f"this issuer token is for office {holder.office_id}",
            )

    @router.post(
        "/api/v1/tokens",
        status_code=201,
        response_model=TokenIssued,
        summary="Issue a survey token for one citizen",
        responses={
            **problems(401, 413, 422),
            **problem_responses(
                {
                    403: "the issuer token is for another office",
                    429: "too many tokens for this issuer; see Retry-After",
                    503: "the device registry cannot be read; retry",
                }
            ),
        },
    )
    async def issue_token(body: TokenRequest, creds: Creds) -> Any:
        """Issue a signed, single-use survey token for an office, valid for ``ttl_hours``
        (default 72 h). The answer carries the survey URL for the citizen and its QR code
        (SVG markup and a PNG data URI), plus URLs of the QR code as images."""
        await check_issuer(creds, body.office_id)
        ttl = timedelta(hours=body.ttl_hours or settings.gateway_token_ttl_h)
        token = tokens.issue(gw.secret, body.office_id, ttl, gw.clock.now())
        url = f"{settings.gateway_url}/s/{token.text}"
        base = f"{settings.gateway_url}/api/v1/tokens/{token.text}"
        log.info(
            "issued token %s for %s, expires %s",
            token.token_id,
            token.office_id,
            token.expires_at.isoformat(),
        )
        png = await asyncio.to_thread(qr_png, url)
        return TokenIssued.model_validate(
            {
                **asdict(token),  # its office_id, token_id, issued_at, expires_at
                "token": token.text,
                "url": url,
                "qr_svg": qr_svg(url),
                "qr_png": "data:image/png;base64," + base64.b64encode(png).decode(),
                "qr_svg_url": f"{base}/qr.svg",
                "qr_png_url": f"{base}/qr.png",
            }
        )

    @router.get(
        "/api/v1/tokens/{token}/qr.svg",
        summary="QR code as SVG",
        response_class=Response,
        responses=qr_image("image/svg+xml"),
    )
    async def token_qr_svg(token: TokenPath) -> Response:
        """The QR code of a token's survey URL, as SVG. Only for tokens this gateway
        signed and that have not expired (no bearer key needed: the token is the secret,
        so a ticket printer or a screen can embed it as an image)."""
        tok = gw.check_token(token)
        return Response(
            qr_svg(f"{settings.gateway_url}/s/{tok.text}"),
            media_type="image/svg+xml",
            headers=SECURITY_HEADERS,
        )

    @router.get(
        "/api/v1/tokens/{token}/qr.png",
        summary="QR code as PNG",
        response_class=Response,
        responses=qr_image("image/png"),
    )
    async def token_qr_png(
        token: TokenPath,
        scale: Annotated[int, Query(ge=1, le=40, description="pixels per module")] = 8,
    ) -> Response:
        """The QR code of a token's survey URL, as PNG (see the SVG variant)."""
        tok = gw.check_token(token)
        png = await asyncio.to_thread(qr_png, f"{settings.gateway_url}/s/{tok.text}", scale)
        return Response(png, media_type="image/png", headers=SECURITY_HEADERS)

    return router


def survey_api_routes(gw: Gateway) -> APIRouter:
    """The survey API for front ends other than the page."""
    router = APIRouter(tags=["surveys"])

    @router.post(
        "/api/v1/surveys",
        status_code=201,
        response_model=SurveyAccepted,
        summary="Submit a survey (JSON)",
        responses=problems(400, 403, 409, 410, 413, 422, 429, 503),
    )
    async def submit_json(body: SurveySubmission) -> Any:
        """Submit one survey for a token, for front ends other than the page. The answer
        (201) comes after Kafka confirmed the ``qr_survey/1`` event; 503 means nothing was
        recorded and the same token may be submitted again."""
        event = await gw.submit(
            body.token,
            body.office_id,
            body.answers,
            body.overall,
            body.comment,
            body.questionnaire,
        )
        return SurveyAccepted(
            event_id=str(event.event_id),
            token_id=event.token_id,
            office_id=event.office_id,
            submitted_at=event.submitted_at,
            questionnaire=event.questionnaire,
        )

    return router

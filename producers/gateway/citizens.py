"""The QR gateway's pages for citizens (no ``from __future__ import annotations``:
FastAPI reads the routes' annotations).

The citizen opens ``/s/<token>`` on their phone and submits the survey as an HTML form
(see :mod:`~producers.gateway.page`); after Kafka confirmed it, a thank-you page. An
invalid, expired or used token gets a page saying so, with the matching status
(:func:`~producers.gateway.answers.page_for` turns every refusal on these paths into
its page).
"""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hailong.http import Refused
from producers.gateway import page
from producers.gateway.answers import SECURITY_HEADERS, html, message, refused_page
from producers.gateway.models import TokenPath, pages, parse_form
from producers.gateway.service import Gateway, invalid_survey, office_mismatch
from producers.service import OfficeNames

Lang = Annotated[str | None, Query(description="vi (default) or en")]

FORM_BODY = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "description": "one field per criterion code (1..5), overall "
                    "(1..5, optional), comment (optional), office_id, "
                    "lang",
                }
            }
        }
    }
}


def citizen_routes(gw: Gateway) -> APIRouter:
    """The survey page, its form's POST and the thank-you page."""
    settings = gw.settings
    q = gw.questionnaire
    names = OfficeNames(settings, settings.gateway_registry_refresh_s, clock=gw.clock.monotonic)
    router = APIRouter(tags=["citizens"], default_response_class=HTMLResponse)

    @router.get(
        "/s/{token}",
        summary="The survey page",
        responses=pages((200, "the questionnaire as an HTML form"), 400, 403, 409, 410, 429),
    )
    async def survey(token: TokenPath, lang: Lang = None) -> Response:
        """The survey for the citizen, in Vietnamese (``?lang=en``: English), mobile
        first, without external assets; works as a plain form without JS. An invalid,
        expired or used token gets a page saying so, with the matching status."""
        chosen = page.pick_lang(lang)
        tok = gw.check_token(token)
        await gw.check_unused(tok)
        label = await asyncio.to_thread(names.label, tok.office_id)
        return html(
            lambda n: page.survey_page(q, tok.text, tok.office_id, chosen, n, office_label=label)
        )

    @router.post(
        "/s/{token}",
        summary="Submit the survey form",
        responses=pages(
            (303, "accepted and confirmed by Kafka: to the thank-you page"),
            *(400, 403, 409, 410, 413, 422, 429, 503),
        ),
        openapi_extra=FORM_BODY,
    )
    async def submit_form(token: TokenPath, request: Request, lang: Lang = None) -> Response:
        """The page's form POST. Accepted → 303 to the thank-you page (after Kafka
        confirmed). Invalid answers (422) or Kafka unavailable (503) → the form again,
        with the answers kept and a message."""
        tok = gw.check_token(token)
        try:
            form = await request.form(max_files=0, max_fields=64)
            items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            has_files = len(items) != len(form.multi_items())
        except Exception:  # noqa: BLE001 - any unreadable form is the client's error
            items, has_files = [], True
        parsed = parse_form(items, q)
        chosen = parsed.lang if lang is None else page.pick_lang(lang)
        if has_files:
            parsed.errors.append({"field": "body", "message": "not a form of this page"})

        def again(
            status: int, banner: tuple[str, dict[str, Any]], headers: dict[str, str] | None = None
        ) -> HTMLResponse:
            label = names.label(tok.office_id)
            return html(
                lambda n: page.survey_page(
                    q,
                    tok.text,
                    tok.office_id,
                    chosen,
                    n,
                    values=parsed.answers,
                    overall=parsed.overall,
                    comment=parsed.comment,
                    banner=banner,
                    office_label=label,
                ),
                status,
                headers,
            )

        try:
            if parsed.office_id != tok.office_id:
                raise office_mismatch("office mismatch")
            await gw.check_unused(tok)
            if parsed.errors:
                raise invalid_survey("invalid form", parsed.errors)
            await gw.submit(
                tok.text, parsed.office_id, parsed.answers, parsed.overall, parsed.comment
            )
        except Refused as exc:
            if exc.slug == "invalid-survey":
                what = ", ".join(e["field"] for e in exc.errors) or "?"
                return again(422, ("invalid_banner", {"what": what}))
            if exc.slug == "kafka-unavailable":
                return again(503, ("unavailable_banner", {}), {"Retry-After": "30"})
            return refused_page(exc, chosen) or exc.response()
        return RedirectResponse(
            f"/s/{tok.text}/thanks?lang={chosen}", status_code=303, headers=SECURITY_HEADERS
        )

    @router.get(
        "/s/{token}/thanks",
        summary="The thank-you page",
        responses=pages((303, "not submitted yet: back to the survey"), 400, 403),
    )
    async def thanks(token: TokenPath, lang: Lang = None) -> Response:
        """Shown after a confirmed submission (POST-redirect-GET, so reloading it does
        not submit again)."""
        chosen = page.pick_lang(lang)
        tok = gw.check_token(token, check_expiry=False)
        if await asyncio.to_thread(gw.store.state, tok.token_id) != "used":
            return RedirectResponse(f"/s/{tok.text}?lang={chosen}", status_code=303)
        return message("thanks", chosen, ok=True)

    return router

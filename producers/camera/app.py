"""The camera adapter's HTTP service (FastAPI; OpenAPI at ``/docs``): the webhook
``POST /api/v1/observations`` and ``/healthz`` (no ``from __future__ import
annotations``: FastAPI reads the routes' annotations).

What a body may carry and how it is read: :mod:`~producers.camera.webhook`. Bodies above
``MAX_BODY_BYTES`` get 413; every refusal is problem details (:mod:`hailong.http`).
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hailong.errors import DeliveryError
from hailong.http import BodyLimit, Problem, Refused, install_errors, problem_responses
from hailong.kafka import CAMERA_ADAPTER
from hailong.settings import Settings
from producers.camera.webhook import (
    EMOTIONS,
    MAX_OBSERVATIONS,
    WebhookAccepted,
    WebhookObservation,
    only_own,
    read_observations,
    to_events,
)
from producers.service import (
    DELIVERY_TIMEOUT_S,
    ConfirmingProducer,
    RegisteredTokens,
    add_healthz,
    service_signer,
)

log = logging.getLogger("hailong.camera")
# Its device id in the device registry (kind gateway): it signs what it publishes.
ADAPTER_DEVICE = "camera-adapter"
MAX_BODY_BYTES = 256 * 1024

webhook_auth = HTTPBearer(
    auto_error=False,
    scheme_name="camera webhook token",
    description="the camera's own webhook token (`webhook_token` in the "
    "config `hailong devices register --kind camera` wrote)",
)
Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(webhook_auth)]


class FieldsProblem(Problem):
    """RFC 9457 problem details; ``fields`` lists refused field names, ``allowed`` the
    fields an observation may carry."""

    fields: list[str] | None = None
    allowed: list[str] | None = None


DESCRIPTION = f"""
Analytics cameras (or their vendor's server) POST what they **derived** — an emotion
label of a person leaving a counter, or a queue length — to `/api/v1/observations`;
each observation becomes a `camera_observation/1` event (wire contract v1).

Only the fields of `WebhookObservation` are accepted. A request with any other field
(`image`, `face_crop`, `embedding`, ... or simply unknown) is refused as a whole (422,
the field names listed in `fields`) and nothing of it is published, logged or echoed.

Emotion labels → sentiment: {
    "; ".join(
        f"{s}: {', '.join(k for k, v in EMOTIONS.items() if v == s)}"
        for s in ("positive", "neutral", "negative")
    )
}.
"""

RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(
        {
            400: "the body is not (strict) JSON",
            401: "missing or wrong bearer key",
            413: f"body above {MAX_BODY_BYTES} bytes",
        }
    ),
    **problem_responses(
        {
            422: "a field outside the allowlist (named in `fields`; nothing published) or "
            "invalid observations (`errors`)"
        },
        FieldsProblem,
    ),
    **problem_responses(
        {503: "Kafka did not confirm; send again (with observation_id, a resend is counted once)"}
    ),
}
SCHEMA = WebhookObservation.model_json_schema()
BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        SCHEMA,
                        {
                            "type": "array",
                            "items": SCHEMA,
                            "maxItems": MAX_OBSERVATIONS,
                            "minItems": 1,
                        },
                    ]
                }
            }
        },
    }
}


def create_app(
    settings: Settings,
    *,
    delivery_timeout_s: float = DELIVERY_TIMEOUT_S,
) -> FastAPI:
    """The camera adapter as an ASGI app; Kafka's producer starts with the app."""
    cameras = RegisteredTokens(
        settings,
        "camera",
        settings.camera_registry_refresh_s,
        settings.camera_rate_per_minute,
        "the camera's webhook token",
    )
    producer: list[ConfirmingProducer] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        signer = service_signer(settings, ADAPTER_DEVICE)
        producer.append(ConfirmingProducer(settings, CAMERA_ADAPTER, delivery_timeout_s, signer))
        try:
            yield
        finally:
            await asyncio.to_thread(producer[0].close)

    app = FastAPI(
        title="Hailong camera adapter", version="1", lifespan=lifespan, description=DESCRIPTION
    )
    install_errors(app)

    @app.post(
        "/api/v1/observations",
        tags=["cameras"],
        response_model=WebhookAccepted,
        summary="Receive camera observations (webhook)",
        responses=RESPONSES,
        openapi_extra=BODY,
    )
    async def observations(request: Request, creds: Creds) -> Any:
        """Publish one observation (a JSON object) or several (an array) as
        ``camera_observation/1`` events; answers after Kafka confirmed all of them. A
        field outside the allowlist fails the whole request (422) and nothing is
        published; the response names the fields, never their values."""
        camera = await cameras.admit(creds.credentials if creds else None)
        try:
            events = to_events(read_observations(await request.body()))
            only_own(events, camera.device_id, camera.office_id)
        except Refused as exc:
            fields = exc.extra.get("fields")
            log.warning(
                "webhook refused (%s)%s",
                exc.slug,
                f": fields {', '.join(fields)}" if fields else "",
            )
            raise
        try:
            await asyncio.gather(
                *(producer[0].send(settings.topics.camera, e.key, e.to_json()) for e in events)
            )
        except DeliveryError as exc:
            log.warning("webhook of %d observations not fully published: %s", len(events), exc)
            raise Refused(
                503,
                "kafka-unavailable",
                "Not recorded",
                "Kafka did not confirm every observation; send the request again",
                headers={"Retry-After": "30"},
            ) from None
        log.info("published %d camera observations", len(events))
        return WebhookAccepted(accepted=len(events), event_ids=[str(e.event_id) for e in events])

    add_healthz(app, settings.topics.camera, "The process is up.")
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    return app

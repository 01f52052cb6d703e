"""The QR gateway's state and submission logic, apart from HTTP: its key, its token
store, its Kafka producer; checking a token and publishing a survey.

A submission is accepted only if the token's signature is valid (else 403), it has not
expired (410), the submission names the token's office (400), the token was not used
(409, durable: :mod:`~producers.gateway.store`) and the answers fit the questionnaire
(422). The token is reserved, the ``qr_survey/1`` event is published to the QR topic
keyed by office, and the citizen gets the answer only after Kafka confirmed it; if Kafka
failed, the reservation is released and the answer is 503, so the citizen can retry.
Every refusal is a :class:`hailong.http.Refused`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from pydantic import ValidationError

from hailong import qrtoken as tokens
from hailong.clock import SYSTEM, Clock
from hailong.contract import QrSurvey
from hailong.errors import DeliveryError
from hailong.http import RateLimiter, Refused, field_errors
from hailong.kafka import GATEWAY
from hailong.qrtoken import QR_TOKEN_HEADER
from hailong.questionnaire import questionnaires
from hailong.settings import Settings
from producers.gateway.models import QUESTIONNAIRE
from producers.gateway.store import TokenStore
from producers.service import DELIVERY_TIMEOUT_S, ConfirmingProducer, service_signer

log = logging.getLogger("hailong.gateway")
# Its device id in the device registry (kind gateway): it signs what it publishes.
GATEWAY_DEVICE = "qr-gateway"

TOKEN_TITLES: dict[type[tokens.TokenError], str] = {
    tokens.MalformedToken: "Malformed token",
    tokens.ForgedToken: "Forged token",
    tokens.ExpiredToken: "Expired token",
}


def office_mismatch(detail: str) -> Refused:
    return Refused(400, "office-mismatch", "Office does not match the token", detail)


def invalid_survey(detail: str, errors: list[dict[str, str]]) -> Refused:
    return Refused(422, "invalid-survey", "Invalid survey", detail, errors=errors)


class Gateway:
    """The gateway's state (keys, token store, producer) and its submission logic."""

    def __init__(
        self,
        settings: Settings,
        delivery_timeout_s: float = DELIVERY_TIMEOUT_S,
        clock: Clock = SYSTEM,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.secret = settings.key("gateway_secret")
        self.delivery_timeout_s = delivery_timeout_s
        self.store = TokenStore(
            settings.stack_dir / "gateway" / "tokens.sqlite",
            stale_after_s=max(120.0, 4 * delivery_timeout_s),
            clock=clock,
        )
        self.questionnaire = questionnaires()[QUESTIONNAIRE]
        self.limiter = RateLimiter(settings.gateway_rate_per_minute, clock=clock.monotonic)
        self.producer: ConfirmingProducer | None = None

    def start(self) -> None:
        self.producer = ConfirmingProducer(
            self.settings,
            GATEWAY,
            self.delivery_timeout_s,
            service_signer(self.settings, GATEWAY_DEVICE),
        )

    def stop(self) -> None:
        if self.producer is not None:
            self.producer.close()
        self.store.close()

    def check_token(self, text: str, *, check_expiry: bool = True) -> tokens.Token:
        try:
            return tokens.verify(self.secret, text, self.clock.now(), check_expiry=check_expiry)
        except tokens.TokenError as exc:
            raise Refused(exc.status, exc.slug, TOKEN_TITLES[type(exc)], str(exc)) from None

    @staticmethod
    def used(token: tokens.Token) -> Refused:
        return Refused(
            409,
            "token-used",
            "Token already used",
            f"token {token.token_id} was already used: one submission per token",
        )

    async def check_unused(self, token: tokens.Token) -> None:
        if await asyncio.to_thread(self.store.state, token.token_id) is not None:
            raise self.used(token)

    async def submit(
        self,
        token_text: str,
        office_id: str | None,
        answers: dict[str, int],
        overall: int | None = None,
        comment: str | None = None,
        questionnaire: str = QUESTIONNAIRE,
    ) -> QrSurvey:
        """Check everything, publish the survey, return it once Kafka confirmed."""
        token = self.check_token(token_text)
        if office_id != token.office_id:
            raise office_mismatch("office_id does not match the office the token was issued for")
        await self.check_unused(token)
        fields: dict[str, Any] = {
            "schema": "qr_survey/1",
            "event_id": str(uuid.uuid4()),
            "token_id": token.token_id,
            "office_id": token.office_id,
            "submitted_at": self.clock.now(),
            "questionnaire": questionnaire,
            "answers": answers,
        }
        if overall is not None:
            fields["overall"] = overall
        if comment is not None:
            fields["comment"] = comment
        try:
            event = QrSurvey.model_validate(fields)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            raise invalid_survey(
                "the answers do not fit the questionnaire", field_errors(errors)
            ) from None
        reserved = await asyncio.to_thread(
            self.store.reserve, token.token_id, token.office_id, token.expires_at
        )
        if not reserved:
            raise self.used(token)
        # Shielded: a client that disconnects must not cancel between publish and record.
        await asyncio.shield(asyncio.ensure_future(self._publish(event, token.text)))
        return event

    async def _publish(self, event: QrSurvey, token_text: str) -> None:
        assert self.producer is not None, "the gateway was not started"
        try:
            # The token travels with the survey: the stream worker checks it too.
            await self.producer.send(
                self.settings.topics.qr,
                event.key,
                event.to_json(),
                [(QR_TOKEN_HEADER, token_text.encode("ascii"))],
            )
        except BaseException as exc:
            await asyncio.to_thread(self.store.release, event.token_id)
            if not isinstance(exc, DeliveryError):
                raise
            log.warning("survey of token %s not published, token released: %s", event.token_id, exc)
            raise Refused(
                503,
                "kafka-unavailable",
                "Not recorded",
                "the survey could not be recorded (Kafka did not confirm it); "
                "nothing was kept, the token can be used again: retry later",
                headers={"Retry-After": "30"},
            ) from None
        await asyncio.to_thread(self.store.confirm, event.token_id, str(event.event_id))
        log.info(
            "survey %s of token %s for %s published",
            event.event_id,
            event.token_id,
            event.office_id,
        )

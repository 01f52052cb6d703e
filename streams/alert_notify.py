"""What an alert says and to whom (issue 14): the message of ``satisfaction.alerts.v1``,
the signature of a webhook, the routing table and the daily digest. Pure: the engine
sends (Kafka, HTTP, SMTP); this module decides the bytes and the recipients.

**The message** (:class:`AlertMessage`, schema ``alert/1``): one JSON object per change
of an alert's life, keyed by ``office_id`` on the topic. A receiver keeps one message
per (``alert_id``, ``kind``, ``hour``): the engine may send a change again after a
restart, never a different one.

**Webhooks** carry the message as the body and a header
``Hailong-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` made with
the route's secret; a receiver recomputes it, compares in constant time and refuses a
``t`` more than 5 minutes away from its clock (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from streams.alert_life import Change

SIGNATURE_HEADER = "Hailong-Signature"
TOLERANCE_S = 300


class AlertMessage(BaseModel):
    """One change of an alert, as published and sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_: Literal["alert/1"] = Field("alert/1", alias="schema")
    alert_id: str
    office_id: str
    unit_code: str
    rule: str
    kind: Literal["raised", "reminded", "acknowledged", "resolved", "snoozed"]
    state: Literal["raised", "acknowledged", "resolved"]
    hour: datetime = Field(description="the hour evaluated, or of the person's action (UTC)")
    raised_at: datetime
    by: str
    comment: str = ""
    numbers: dict[str, float]

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode("utf-8")


def _hour(h: int) -> datetime:
    return datetime.fromtimestamp(h * 3600, UTC)


def message(change: Change, unit_code: str, hour: int) -> AlertMessage:
    a = change.alert
    return AlertMessage(
        alert_id=a.alert_id,
        office_id=a.office_id,
        unit_code=unit_code,
        rule=a.rule,
        kind=change.kind,
        state=a.state,
        hour=_hour(hour),
        raised_at=_hour(a.raised_hour),
        by=change.by,
        comment=str(change.extra.get("comment", a.comment) or ""),
        numbers={k: float(v) for k, v in a.numbers.items()},
    )


def signature(body: bytes, secret: str, at_s: int) -> str:
    """The ``Hailong-Signature`` header of a webhook body sent at ``at_s``."""
    mac = hmac.new(secret.encode("utf-8"), f"{at_s}.".encode() + body, hashlib.sha256)
    return f"t={at_s},v1={mac.hexdigest()}"


def verify(
    body: bytes, header: str, secret: str, now_s: float, tolerance_s: int = TOLERANCE_S
) -> bool:
    """A receiver's check of a webhook: the signature matches and is fresh."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        at_s = int(fields["t"])
        given = fields["v1"]
    except (ValueError, KeyError):
        return False
    if abs(now_s - at_s) > tolerance_s:
        return False
    expected = signature(body, secret, at_s).split("v1=", 1)[1]
    return hmac.compare_digest(given, expected)


class Route(BaseModel):
    """Who hears about an office's alerts: ``match`` is an office id, a unit code, or
    ``*`` (the city); e-mail addresses and/or a webhook; now or in a daily digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    match: str
    email: tuple[str, ...] = ()
    webhook: str | None = None
    secret: SecretStr | None = Field(None, description="the webhook's signing secret")
    mode: Literal["immediate", "digest"] = "immediate"
    rules: tuple[str, ...] = Field((), description="only these rules; empty: all")

    @model_validator(mode="after")
    def _complete(self) -> Route:
        if not self.email and not self.webhook:
            raise ValueError(f"route {self.match!r}: give e-mail addresses or a webhook")
        if self.webhook and not self.webhook.startswith(("https://", "http://")):
            raise ValueError(f"route {self.match!r}: the webhook must be an http(s) URL")
        if self.webhook and (self.secret is None or len(self.secret.get_secret_value()) < 16):
            raise ValueError(
                f"route {self.match!r}: a webhook needs a secret of at least "
                "16 characters to sign with"
            )
        return self

    @property
    def channel(self) -> str:
        """The route's name in ``alert_deliveries``: what it sends to, and how."""
        target = self.webhook or ",".join(self.email)
        return f"{self.mode}:{self.match}:{target}"


class RoutingTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    routes: tuple[Route, ...] = ()

    def routes_for(self, office_id: str, unit_code: str, rule: str) -> list[Route]:
        """Every route that matches the office, its unit or the city, for this rule."""
        base = rule.split("/", 1)[0]  # a device's rule: "silent_device/K-1"
        return [
            r
            for r in self.routes
            if r.match in (office_id, unit_code, "*") and (not r.rules or base in r.rules)
        ]


def digest(messages: Sequence[AlertMessage], day: str) -> tuple[str, str]:
    """A daily digest's subject and plain text: the day's changes, office by office."""
    opened = sum(m.kind == "raised" for m in messages)
    subject = f"Hailong alerts {day}: {opened} raised, {len(messages)} changes"
    lines = [subject, ""]
    for m in sorted(messages, key=lambda m: (m.office_id, m.hour, m.rule)):
        numbers = ", ".join(f"{k} {v:.3g}" for k, v in sorted(m.numbers.items()))
        lines.append(
            f"{m.hour:%H:%M} UTC  {m.office_id:<14} {m.rule:<14} {m.kind:<12} "
            f"{m.by}{': ' + m.comment if m.comment else ''}  [{numbers}]"
        )
    return subject, "\n".join(lines) + "\n"

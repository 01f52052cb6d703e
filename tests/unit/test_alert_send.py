"""Alerts reach people: an e-mail arrives at a real SMTP server (aiosmtpd, in this
process) and a webhook with a valid signature at a local HTTP receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest

from streams.alert_life import Policy, Track, step
from streams.alert_notify import message
from streams.alert_rules import Finding
from streams.alert_send import Mailer, SendError, post_webhook
from tests.serving import free_port, smtp_server, webhook_receiver

SECRET = "route-secret"  # noqa: S105 - a test's


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, str, bool]]]]:
    with webhook_receiver(SECRET) as server:
        yield server


def alert() -> Any:
    _, changes = step(
        Track(),
        Finding("credible_drop", "HN-1", {"window_share": 0.55}),
        480_009,
        Policy(),
        "credible_drop",
        "HN-1",
    )
    return message(changes[0], "U-1", 480_009)


def test_an_email_arrives_at_a_real_smtp_server(smtp: tuple[int, list[Any]]) -> None:
    port, received = smtp
    m = alert()
    Mailer("127.0.0.1", port, "hailong@hanoi.example").send(
        ["chair@u1.example"], f"Alert: {m.rule} at {m.office_id}", "Sự hài lòng giảm\n"
    )
    (envelope,) = received
    assert envelope.mail_from == "hailong@hanoi.example"
    assert envelope.rcpt_tos == ["chair@u1.example"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == "Alert: credible_drop at HN-1"
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes) and "Sự hài lòng giảm" in payload.decode("utf-8")
    with pytest.raises(SendError, match="not sent"):
        Mailer("127.0.0.1", free_port(), "x@example").send(["y@example"], "s", "t")


def test_a_signed_webhook_arrives_and_a_forged_one_is_refused(
    receiver: tuple[str, list[tuple[bytes, str, bool]]],
) -> None:
    url, got = receiver
    body = alert().to_json()
    assert post_webhook(url, body, SECRET, int(time.time())) == 204
    assert got[0][0] == body and got[0][1].startswith("t=")
    with pytest.raises(SendError, match="answered 401"):
        post_webhook(url, body, "not-the-secret", int(time.time()))
    with pytest.raises(SendError, match="answered 401"):
        post_webhook(url, body, SECRET, int(time.time()) - 3600)  # a stale signature
    with pytest.raises(SendError, match="not an http"):
        post_webhook("file:///etc/passwd", body, SECRET, 0)

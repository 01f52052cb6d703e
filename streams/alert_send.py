"""Sending alerts (issue 14): e-mail over SMTP and signed JSON webhooks. Both block, so
the engine calls them from a thread; both raise :class:`SendError` with the reason
when the other side did not take the message, so the engine can retry later.

E-mail: ``smtplib`` (STARTTLS and login when configured), plain text, UTF-8.
Webhook: HTTP POST of the ``alert/1`` JSON with the ``Hailong-Signature`` header
(``streams/alert_notify.py``); any 2xx answer is taken.
"""

from __future__ import annotations

import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from streams.alert_notify import SIGNATURE_HEADER, signature

TIMEOUT_S = 15.0


class SendError(RuntimeError):
    """The message was not taken; the text says why."""


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    starttls: bool = False
    user: str = ""
    password: str = ""

    def send(self, to: Sequence[str], subject: str, text: str) -> None:
        if not to:
            return
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, ", ".join(to), subject
        mail.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"mail to {', '.join(to)} via {self.host}:{self.port} not sent: "
                            f"{exc}") from exc
        if refused:
            raise SendError(f"the SMTP server refused {', '.join(refused)}")


def post_webhook(url: str, body: bytes, secret: str, at_s: int,
                 timeout_s: float = TIMEOUT_S) -> int:
    """POST a signed alert; return the HTTP status (2xx), or raise SendError."""
    if not url.startswith(("https://", "http://")):
        raise SendError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, method="POST",
        headers={"Content-Type": "application/json",
                 SIGNATURE_HEADER: signature(body, secret, at_s)})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        raise SendError(f"webhook {url} answered {exc.code}") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise SendError(f"webhook {url} not reached: {exc}") from exc

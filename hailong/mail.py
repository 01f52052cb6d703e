"""E-mail over SMTP, for the alerts (streams/alert_engine.py) and the monthly report's
delivery (pipelines/delivery.py): ``smtplib``, STARTTLS and login when configured
(``HAILONG_SMTP_*``), plain text in UTF-8, files attached. :class:`SendError` says why
a mail was not taken, so the caller can try again later."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

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

    def send(
        self,
        to: Sequence[str],
        subject: str,
        text: str,
        attachments: Sequence[tuple[str, bytes, str]] = (),
    ) -> None:
        """Send one plain-text mail; ``attachments``: (file name, bytes, MIME type)."""
        if not to:
            return
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, ", ".join(to), subject
        mail.set_content(text)
        for name, content, mime in attachments:
            kind, _, sub = mime.partition("/")
            if kind == "text":  # UTF-8 text, said so (a CSV of Vietnamese names)
                mail.add_attachment(content.decode("utf-8"), subtype=sub, filename=name)
            else:
                mail.add_attachment(content, maintype=kind, subtype=sub, filename=name)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(
                f"mail to {', '.join(to)} via {self.host}:{self.port} not sent: {exc}"
            ) from exc
        if refused:
            raise SendError(f"the SMTP server refused {', '.join(refused)}")

"""Sending alerts (issue 14): e-mail over SMTP and signed JSON webhooks. Both block, so
the engine calls them from a thread; both raise :class:`SendError` with the reason
when the other side did not take the message, so the engine can retry later.

E-mail: :class:`hailong.mail.Mailer` (SMTP, shared with the monthly report's delivery).
Webhook: HTTP POST of the ``alert/1`` JSON with the ``Hailong-Signature`` header
(``streams/alert_notify.py``); any 2xx answer is taken.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from hailong.mail import TIMEOUT_S, Mailer, SendError
from streams.alert_notify import SIGNATURE_HEADER, signature

__all__ = ["Mailer", "SendError", "post_webhook"]


def post_webhook(
    url: str, body: bytes, secret: str, at_s: int, timeout_s: float = TIMEOUT_S
) -> int:
    """POST a signed alert; return the HTTP status (2xx), or raise SendError."""
    if not url.startswith(("https://", "http://")):
        raise SendError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(body, secret, at_s),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        raise SendError(f"webhook {url} answered {exc.code}") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise SendError(f"webhook {url} not reached: {exc}") from exc

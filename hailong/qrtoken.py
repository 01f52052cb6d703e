"""Signed QR tokens: who may submit one survey, for which office, until when.

A token is short enough for a QR code on a queue ticket and needs no database to
verify::

    v1~<office_id>~<token_id>~<issued_at>~<expires_at>~<signature>

``issued_at`` and ``expires_at`` are Unix seconds; ``signature`` is the unpadded
base64url HMAC-SHA256, under the gateway secret, of everything before the last ``~``.
Identifiers use the contract's charset (``A-Z a-z 0-9 . _ -``), so ``~`` never occurs in
them and every character of a token is URL-safe. Signatures are compared in constant
time. Whether a token was already used is not in the token: the gateway's
:mod:`~producers.gateway.store` records that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hailong.errors import HailongError

VERSION = "v1"
# The Kafka header in which the QR gateway sends a survey's token with the survey, so
# that the stream worker verifies the token too (``streams/plausible.py``).
QR_TOKEN_HEADER = "hailong-qr-token"  # noqa: S105 - a header's name
_ID = r"[A-Za-z0-9._-]{1,64}"
_TOKEN_RE = re.compile(rf"v1~({_ID})~({_ID})~(\d{{1,12}})~(\d{{1,12}})~([A-Za-z0-9_-]{{43}})")
MAX_TOKEN_CHARS = 256


class TokenError(HailongError):
    """A token that does not allow a submission; ``status`` is the HTTP status."""

    status = 400
    slug = "token-invalid"


class MalformedToken(TokenError):
    """Not a token of this gateway at all (wrong shape)."""

    status = 400
    slug = "token-malformed"


class ForgedToken(TokenError):
    """Shaped like a token, but its signature does not match (tampered or foreign)."""

    status = 403
    slug = "token-forged"


class ExpiredToken(TokenError):
    """Correctly signed, but past its expiry."""

    status = 410
    slug = "token-expired"


@dataclass(frozen=True)
class Token:
    """The verified content of a token."""

    office_id: str
    token_id: str
    issued_at: datetime
    expires_at: datetime
    text: str


def new_token_id() -> str:
    """A fresh token id: ``qr-`` and 128 random bits, base64url (25 characters)."""
    return "qr-" + secrets.token_urlsafe(16)


def _signature(key: str, message: str) -> str:
    mac = hmac.new(key.encode("utf-8"), message.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _unix(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return int(at.timestamp())


def sign(
    key: str, office_id: str, token_id: str, issued_at: datetime, expires_at: datetime
) -> Token:
    """Make a token. Times are truncated to whole seconds."""
    for name, value in (("office_id", office_id), ("token_id", token_id)):
        if not re.fullmatch(_ID, value):
            raise ValueError(f"{name} must be 1-64 characters of A-Z a-z 0-9 . _ -")
    body = f"{VERSION}~{office_id}~{token_id}~{_unix(issued_at)}~{_unix(expires_at)}"
    return Token(
        office_id,
        token_id,
        datetime.fromtimestamp(_unix(issued_at), UTC),
        datetime.fromtimestamp(_unix(expires_at), UTC),
        f"{body}~{_signature(key, body)}",
    )


def issue(key: str, office_id: str, ttl: timedelta, now: datetime) -> Token:
    """A new token for ``office_id``, valid for ``ttl`` from ``now`` (the caller's clock)."""
    return sign(key, office_id, new_token_id(), now, now + ttl)


def verify(key: str, text: str, now: datetime, *, check_expiry: bool = True) -> Token:
    """Check a token's shape, signature and expiry; return its content.

    Raises :class:`MalformedToken`, :class:`ForgedToken` or :class:`ExpiredToken`.
    The signature is checked before the expiry, so a forged token is reported as
    forged whatever expiry it claims.
    """
    if len(text) > MAX_TOKEN_CHARS:
        raise MalformedToken("the token is too long")
    m = _TOKEN_RE.fullmatch(text)
    if m is None:
        raise MalformedToken("the token is malformed")
    body, _, signature = text.rpartition("~")
    if not hmac.compare_digest(signature.encode("ascii"), _signature(key, body).encode("ascii")):
        raise ForgedToken("the token's signature does not match (altered or not issued here)")
    office_id, token_id, issued, expires = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
    try:
        issued_at = datetime.fromtimestamp(issued, UTC)
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, ValueError, OSError):
        raise MalformedToken("the token's times are out of range") from None
    if check_expiry and now >= expires_at:
        raise ExpiredToken(f"the token expired at {expires_at.isoformat()}")
    return Token(office_id, token_id, issued_at, expires_at, text)

"""Signed events: every device signs the exact value bytes it publishes (Ed25519).

Contract v1 values stay as they are; the proof travels in three Kafka headers:

* ``hailong-device``: the device id (a kiosk's ``device_id``, a camera's ``camera_id``,
  a gateway's own id), UTF-8;
* ``hailong-key``: which of the device's keys signed (a decimal number: a rotation
  makes a new key, the old one stops);
* ``hailong-sig``: the Ed25519 signature of the message value, 64 bytes, base64.

The platform keeps only public keys (``warehouse/devices.py``): nothing in ClickHouse is
a secret, and anyone with the public keys can re-verify every counted event from raw
(``hailong audit verify``). A device's private key exists in its config file only,
written once by ``hailong devices register``. Ed25519 (RFC 8032) is in OpenSSL 3, so a
vendor signs from a shell too (README, "Device protocol").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from hailong import qrtoken
from hailong.contract import QrSurvey

DEVICE_HEADER = "hailong-device"
KEY_HEADER = "hailong-key"
SIGNATURE_HEADER = "hailong-sig"
MAX_DEVICE_ID = 128

Headers = Sequence[tuple[str, bytes | None]]


class SignatureRefused(ValueError):
    """The headers do not carry a well-formed signature (the reason in the message)."""


@dataclass(frozen=True)
class Signed:
    """What a message's headers claim: who signed it, with which key, and the signature."""

    device_id: str
    key_id: int
    signature: bytes


def new_key() -> tuple[bytes, bytes]:
    """A new key pair: (private key, public key), 32 raw bytes each."""
    private = Ed25519PrivateKey.generate()
    return (
        private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


class Signer:
    """A device's signing key (its private key never leaves the device's config)."""

    def __init__(self, device_id: str, key_id: int, private_key: bytes) -> None:
        self.device_id = device_id
        self.key_id = key_id
        self._key = Ed25519PrivateKey.from_private_bytes(private_key)

    def headers(self, value: bytes) -> list[tuple[str, bytes]]:
        """The headers that sign ``value``."""
        return [
            (DEVICE_HEADER, self.device_id.encode("utf-8")),
            (KEY_HEADER, str(self.key_id).encode("ascii")),
            (SIGNATURE_HEADER, base64.b64encode(self._key.sign(value))),
        ]


def read_headers(headers: Headers | None) -> Signed:
    """The signature a message's headers carry; :class:`SignatureRefused` if none, or
    if a header is missing, repeated or malformed."""
    found: dict[str, bytes] = {}
    for name, value in headers or ():
        if name in (DEVICE_HEADER, KEY_HEADER, SIGNATURE_HEADER):
            if name in found:
                raise SignatureRefused(f"header {name} appears twice")
            found[name] = value or b""
    if not found:
        raise SignatureRefused("unsigned: no hailong-device/hailong-key/hailong-sig headers")
    missing = [h for h in (DEVICE_HEADER, KEY_HEADER, SIGNATURE_HEADER) if h not in found]
    if missing:
        raise SignatureRefused(f"header(s) {', '.join(missing)} missing")
    try:
        device = found[DEVICE_HEADER].decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRefused("header hailong-device is not UTF-8") from None
    if not device or len(device) > MAX_DEVICE_ID:
        raise SignatureRefused(f"header hailong-device must have 1-{MAX_DEVICE_ID} characters")
    key = found[KEY_HEADER]
    if not key.isdigit() or len(key) > 9:
        raise SignatureRefused("header hailong-key must be a number of at most 9 digits")
    try:
        signature = base64.b64decode(found[SIGNATURE_HEADER], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRefused("header hailong-sig is not base64") from None
    if len(signature) != 64:
        raise SignatureRefused(
            f"header hailong-sig holds {len(signature)} bytes, not the 64 of an Ed25519 signature"
        )
    return Signed(device, int(key), signature)


def verify(public_key: bytes, value: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the Ed25519 signature of ``value`` by ``public_key``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, value)
    except (InvalidSignature, ValueError):
        return False
    return True


class Keyring:
    """Signers by device id, and the gateway that signs for devices without keys of
    their own (QR surveys come from phones through the QR gateway). With ``qr_secret``
    (the gateway's token key) a QR survey also carries a token for its token id, as the
    QR gateway sends it: for simulated traffic."""

    def __init__(
        self,
        signers: Sequence[Signer] = (),
        gateway: Signer | None = None,
        qr_secret: str | None = None,
    ) -> None:
        self.signers = {s.device_id: s for s in signers}
        self.gateway = gateway
        self.qr_secret = qr_secret

    def qr_token(
        self, office_id: str, token_id: str, submitted_at: datetime
    ) -> list[tuple[str, bytes]]:
        """The token header of a survey (issued an hour before it, valid 72 h)."""
        if self.qr_secret is None:
            return []
        token = qrtoken.sign(
            self.qr_secret,
            office_id,
            token_id,
            submitted_at - timedelta(hours=1),
            submitted_at + timedelta(hours=71),
        )
        return [(qrtoken.QR_TOKEN_HEADER, token.text.encode("ascii"))]

    def signer_of(self, event: object) -> Signer | None:
        """Who signs ``event``: its kiosk or camera, else the gateway."""
        device = getattr(event, "device_id", None) or getattr(event, "camera_id", None)
        if device is not None and device in self.signers:
            return self.signers[device]
        return self.gateway

    def headers(self, event: object, value: bytes) -> list[tuple[str, bytes]]:
        """The headers that sign ``value`` (the bytes of ``event``); none if no signer."""
        signer = self.signer_of(event)
        token = (
            self.qr_token(event.office_id, event.token_id, event.submitted_at)
            if isinstance(event, QrSurvey)
            else []
        )
        return token + (signer.headers(value) if signer is not None else [])

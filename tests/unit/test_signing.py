"""Signed events (hailong/signing.py) and the worker's signature rule
(streams/plausible.signature_doubt), as pure logic."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hailong.contract import parse_event
from hailong.signing import (
    DEVICE_HEADER,
    KEY_HEADER,
    SIGNATURE_HEADER,
    Keyring,
    SignatureRefused,
    Signer,
    new_key,
    read_headers,
    verify,
)
from streams.plausible import signature_doubt
from tests.events import kiosk_press
from warehouse.buckets import epoch_us
from warehouse.devices import DeviceKeys, Key

T = epoch_us(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
PRIVATE, PUBLIC = new_key()
OTHER_PRIVATE, OTHER_PUBLIC = new_key()
GATE_PRIVATE, GATE_PUBLIC = new_key()
KEYS = DeviceKeys(
    (3, T),
    {
        ("K1", 1): Key("K1", 1, "kiosk", "HN-1", PUBLIC, 0, 0, 0),
        ("K2", 1): Key("K2", 1, "kiosk", "HN-2", OTHER_PUBLIC, 0, 0, 0),
        ("K3", 1): Key("K3", 1, "kiosk", "HN-1", OTHER_PUBLIC, 0, 0, T - 1),  # revoked
        ("K4", 1): Key("K4", 1, "kiosk", "HN-1", OTHER_PUBLIC, 0, T - 100, 0),  # ended
        ("C1", 1): Key("C1", 1, "camera", "HN-1", OTHER_PUBLIC, 0, 0, 0),
        ("GW", 1): Key("GW", 1, "gateway", "", GATE_PUBLIC, 0, 0, 0),
    },
)


def press(device: str = "K1", office: str = "HN-1", event_id: uuid.UUID | None = None) -> bytes:
    return kiosk_press(office, device, "2026-03-10T09:00:00+07:00", event_id=event_id)


def doubt(value: bytes, headers: Any, broker: int | None = T) -> str | None:
    event = parse_event(value, "satisfaction.kiosk.v1")
    return signature_doubt("kiosk", event, value, headers, T, broker, KEYS)


def test_a_signed_press_of_a_registered_kiosk_passes() -> None:
    value = press()
    headers = Signer("K1", 1, PRIVATE).headers(value)
    assert [h for h, _ in headers] == [DEVICE_HEADER, KEY_HEADER, SIGNATURE_HEADER]
    assert doubt(value, list(headers)) is None
    signed = read_headers(headers)
    assert verify(PUBLIC, value, signed.signature)
    assert not verify(PUBLIC, value + b" ", signed.signature)


def signed(value: bytes, device: str, private: bytes = OTHER_PRIVATE) -> list[Any]:
    """The headers of ``value`` signed by ``device`` with ``private`` (key 1)."""
    return list(Signer(device, 1, private).headers(value))


def test_each_attack_has_its_reason() -> None:
    value = press()
    replayed = press(event_id=uuid.uuid4())  # the same press under a new event_id
    k9, k3, k4, c1, for_b = press("K9"), press("K3"), press("K4"), press("C1"), press(office="HN-2")
    mismatch = "does not match the message's value"
    cases = {
        "unsigned": (value, None, "unsigned"),
        "unknown device": (k9, signed(k9, "K9", PRIVATE), "device 'K9' key 1 is not registered"),
        "registered id, wrong key": (value, signed(value, "K1"), mismatch),
        "replayed under a new event_id": (replayed, signed(value, "K1", PRIVATE), mismatch),
        "A's device for B": (
            for_b,
            signed(for_b, "K1", PRIVATE),
            "bound to office 'HN-1', not 'HN-2'",
        ),
        "revoked": (k3, signed(k3, "K3"), "was revoked at"),
        "ended key": (k4, signed(k4, "K4"), "not at the event's time"),
        "signed by another kiosk": (
            value,
            signed(value, "K2"),
            "signed an event of device_id 'K1'",
        ),
        "a camera signs a press": (
            c1,
            signed(c1, "C1"),
            "is a camera, which does not sign kiosk events",
        ),
    }
    for name, (v, headers, reason) in cases.items():
        got = doubt(v, headers)
        assert got is not None and reason in got, (name, got)


def test_revocation_counts_from_the_brokers_clock() -> None:
    """A revoked key cannot sign back-dated events: what the broker received after the
    revocation is refused, whatever time the event claims."""
    value = press("K3")
    headers = list(Signer("K3", 1, OTHER_PRIVATE).headers(value))
    assert "revoked" in (doubt(value, headers, broker=T) or "")
    assert doubt(value, headers, broker=T - 2) is None  # received before the revocation


def test_malformed_headers_are_refused_never_raised() -> None:
    value = press()
    good = Signer("K1", 1, PRIVATE).headers(value)
    sig = good[2][1]
    for headers, reason in [
        ([(DEVICE_HEADER, b"K1"), (KEY_HEADER, b"1")], "hailong-sig missing"),
        ([*good, (KEY_HEADER, b"1")], "appears twice"),
        ([(DEVICE_HEADER, b"\xff"), (KEY_HEADER, b"1"), (SIGNATURE_HEADER, sig)], "not UTF-8"),
        ([(DEVICE_HEADER, b"K1"), (KEY_HEADER, b"-1"), (SIGNATURE_HEADER, sig)], "hailong-key"),
        ([(DEVICE_HEADER, b"K1"), (KEY_HEADER, b"1"), (SIGNATURE_HEADER, b"!!")], "not base64"),
        (
            [
                (DEVICE_HEADER, b"K1"),
                (KEY_HEADER, b"1"),
                (SIGNATURE_HEADER, base64.b64encode(b"x" * 10)),
            ],
            "10 bytes",
        ),
        ([(DEVICE_HEADER, None), (KEY_HEADER, b"1"), (SIGNATURE_HEADER, sig)], "1-128"),
    ]:
        got = doubt(value, headers)
        assert got is not None and reason in got, (reason, got)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([DEVICE_HEADER, KEY_HEADER, SIGNATURE_HEADER, "x"]),
            st.none() | st.binary(max_size=120),
        ),
        max_size=6,
    )
)
def test_any_headers_give_a_signature_or_a_refusal(headers: list[tuple[str, bytes | None]]) -> None:
    try:
        read_headers(headers)
    except SignatureRefused as exc:
        assert str(exc)


def test_a_qr_survey_is_signed_by_a_gateway_and_a_keyring_picks_the_signer() -> None:
    from tests.unit.test_contract import QR

    value = json.dumps(QR).encode()
    event = parse_event(value, "satisfaction.qr.v1")
    gateway = Signer("GW", 1, GATE_PRIVATE)
    ring = Keyring([Signer("K1", 1, PRIVATE)], gateway)
    assert ring.signer_of(event) is gateway
    assert signature_doubt("qr", event, value, ring.headers(event, value), T, T, KEYS) is None
    kiosk_signed = list(Signer("K1", 1, PRIVATE).headers(value))
    assert "is a kiosk, which does not sign qr events" in (
        signature_doubt("qr", event, value, kiosk_signed, T, T, KEYS) or ""
    )
    press_event = parse_event(press(), "satisfaction.kiosk.v1")
    assert ring.signer_of(press_event).device_id == "K1"  # type: ignore[union-attr]
    assert Keyring().headers(press_event, press()) == []


def test_a_qr_survey_counts_only_with_the_gateways_token() -> None:
    from datetime import timedelta

    from hailong import qrtoken
    from streams.plausible import qr_token_doubt
    from tests.unit.test_contract import QR

    secret = "gateway-secret"  # noqa: S105 - a made-up key
    value = json.dumps(QR).encode()
    event = parse_event(value, "satisfaction.qr.v1")
    ring = Keyring(gateway=Signer("GW", 1, GATE_PRIVATE), qr_secret=secret)
    headers = ring.headers(event, value)
    assert headers[0][0] == qrtoken.QR_TOKEN_HEADER
    assert qr_token_doubt(event, headers, secret, 600_000_000) is None  # type: ignore[arg-type]
    at = event.submitted_at  # type: ignore[union-attr]

    def token(
        secret: str = secret,
        office: str = event.office_id,
        token_id: str = event.token_id,  # type: ignore[union-attr]
        expires: timedelta = timedelta(hours=1),
    ) -> list[tuple[str, bytes | None]]:
        t = qrtoken.sign(secret, office, token_id, at - timedelta(hours=2), at + expires)
        return [(qrtoken.QR_TOKEN_HEADER, t.text.encode())]

    for headers_, reason in [
        ([], "no QR token"),
        (token(secret="another"), "the QR token: the token's signature does not match"),  # noqa: S106
        (token(office="HN-99999"), "of office 'HN-99999'"),
        (token(token_id="tok-other"), "the QR token is token 'tok-other'"),  # noqa: S106
        (token(expires=-timedelta(hours=1)), "after the token expired"),
        ([(qrtoken.QR_TOKEN_HEADER, b"v1~x")], "the QR token: the token is malformed"),
        ([*token(), *token()], "appears twice"),
    ]:
        got = qr_token_doubt(event, headers_, secret, 600_000_000)  # type: ignore[arg-type]
        assert got is not None and reason in got, (reason, got)

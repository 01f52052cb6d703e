"""The local stack's certificate authority and the broker's TLS certificate.

Kafka's client listener takes TLS (SASL_SSL), so passwords and events never cross the
network in clear. ``hailong stack start`` makes, once, under ``<stack_dir>/kafka/tls/``:

- ``ca.pem``: the stack's own CA certificate, the one file clients need
  (``ssl.ca.location``; a device config carries it inline). ``ca.key`` (0600) never
  leaves the machine.
- ``broker.pem`` (0600): the broker's private key and certificate chain, in the PEM
  form Kafka reads (``ssl.keystore.type=PEM``), for 127.0.0.1 and ``localhost``.

The broker certificate is made again when it is missing or expires within 30 days; the
CA lives ten years. On an existing cluster none of this is used: point
``HAILONG_KAFKA_CA_FILE`` at its CA.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hailong.clock import Clock

CA_DAYS = 3650
BROKER_DAYS = 825
RENEW_BEFORE_DAYS = 30


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8 unencrypted: what Kafka's PEM key store reads without ssl.key.password.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hailong local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def ensure_certificates(folder: Path, clock: Clock) -> tuple[Path, Path]:
    """Make the CA and the broker certificate under ``folder`` when needed; return the
    paths of ``ca.pem`` and ``broker.pem``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_pem, ca_key_path, broker_pem = folder / "ca.pem", folder / "ca.key", folder / "broker.pem"
    now = clock.now()
    if not (ca_pem.exists() and ca_key_path.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("Hailong local CA"))
            .issuer_name(_name("Hailong local CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, _key_pem(ca_key))
        ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        broker_pem.unlink(missing_ok=True)  # signed by a CA that is gone
    if broker_pem.exists():
        cert = x509.load_pem_x509_certificate(broker_pem.read_bytes())
        if cert.not_valid_after_utc - now > timedelta(days=RENEW_BEFORE_DAYS):
            return ca_pem, broker_pem
    ca = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    signing_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    assert isinstance(signing_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=BROKER_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(signing_key, hashes.SHA256())
    )
    _write_private(
        broker_pem,
        _key_pem(key)
        + cert.public_bytes(serialization.Encoding.PEM)
        + ca.public_bytes(serialization.Encoding.PEM),
    )
    return ca_pem, broker_pem

"""Who each component is on Kafka (hailong/kafka.py) and the stack's TLS files
(infra/tls.py), without a broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from hailong.clock import TestingClock
from hailong.errors import ConfigError
from hailong.kafka import (
    ADMIN,
    ROLES,
    WORKER,
    client_config,
    device_connection,
    device_settings,
    login,
    producer_config,
)
from hailong.settings import load_settings
from infra.tls import BROKER_DAYS, RENEW_BEFORE_DAYS, ensure_certificates


def test_local_roles_have_their_own_accounts_and_passwords(tmp_path: Path) -> None:
    s = load_settings(stack_dir=tmp_path)
    accounts = {role: login(s, role) for role in ROLES}
    assert {a[0] for a in accounts.values() if a} == {f"hailong.{r}" for r in ROLES}
    assert len({a[1] for a in accounts.values() if a}) == len(ROLES)  # all different
    for role in ROLES:
        path = tmp_path / "kafka" / "accounts" / role
        assert path.stat().st_mode & 0o077 == 0  # owner only
    assert login(s, WORKER) == accounts[WORKER]  # kept, not made again
    config = client_config(s, WORKER)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.username"] == "hailong.worker"
    assert config["ssl.ca.location"] == str(tmp_path / "kafka" / "tls" / "ca.pem")
    with pytest.raises(ValueError, match="no Kafka role"):
        login(s, "intruder")


def test_an_existing_cluster_takes_the_processs_account(tmp_path: Path) -> None:
    s = load_settings(
        stack_dir=tmp_path,
        kafka_bootstrap="k1:9093",
        kafka_user="hanoi-worker",
        kafka_password="s3cret",  # noqa: S106
        kafka_ca_file=tmp_path / "ca.pem",
    )
    for role in (ADMIN, WORKER):
        config = client_config(s, role)
        assert (config["sasl.username"], config["sasl.password"]) == ("hanoi-worker", "s3cret")
        assert config["ssl.ca.location"] == str(tmp_path / "ca.pem")
    without = load_settings(stack_dir=tmp_path, kafka_bootstrap="k1:9093")
    with pytest.raises(ConfigError, match="HAILONG_KAFKA_USER"):
        client_config(without, WORKER)
    assert "ssl.ca.location" not in client_config(
        without.model_copy(update={"kafka_user": "u"}), WORKER
    )  # the system's CAs
    plain = load_settings(
        stack_dir=tmp_path, kafka_bootstrap="k1:9092", kafka_security_protocol="PLAINTEXT"
    )
    assert client_config(plain, WORKER) == {
        "bootstrap.servers": "k1:9092",
        "security.protocol": "PLAINTEXT",
    }


def test_a_device_config_carries_everything_to_connect(tmp_path: Path) -> None:
    s = load_settings(stack_dir=tmp_path, topic_prefix="hanoi.")
    ca = tmp_path / "kafka" / "tls" / "ca.pem"
    ca.parent.mkdir(parents=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\n...\n")
    fields = device_settings(s, "device.K-1", "pw")
    assert fields["topic"] == "hanoi.satisfaction.kiosk.v1"
    connection = device_connection({"device_id": "K-1", **fields})
    assert connection["sasl.username"] == "device.K-1" and connection["sasl.password"] == "pw"
    assert connection["ssl.ca.pem"] == ca.read_text()
    assert connection["topic"] == "hanoi.satisfaction.kiosk.v1"
    assert device_connection({"device_id": "K-1"}) == {}  # an old config: no account
    # The device's connection replaces the settings' account entirely.
    conn = {k: v for k, v in connection.items() if k != "topic"}
    config = producer_config(s, WORKER, connection=conn)
    assert config["sasl.username"] == "device.K-1" and "ssl.ca.location" not in config
    assert config["enable.idempotence"] is True


def test_the_broker_certificate_is_signed_by_the_stacks_ca_and_renewed(tmp_path: Path) -> None:
    clock = TestingClock(datetime(2026, 3, 1, tzinfo=UTC))
    ca_path, broker_path = ensure_certificates(tmp_path, clock)
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0
    assert broker_path.stat().st_mode & 0o077 == 0
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    pem = broker_path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka reads it
    broker = x509.load_pem_x509_certificates(pem)[0]
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    broker.verify_directly_issued_by(ca)
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert broker.not_valid_before_utc <= clock.now() <= broker.not_valid_after_utc
    # Again: nothing changes; close to expiry: a new broker certificate, same CA.
    assert ensure_certificates(tmp_path, clock) == (ca_path, broker_path)
    assert broker_path.read_bytes() == pem
    clock.advance((BROKER_DAYS - RENEW_BEFORE_DAYS + 1) * 86400)
    ensure_certificates(tmp_path, clock)
    renewed = x509.load_pem_x509_certificates(broker_path.read_bytes())[0]
    assert renewed.serial_number != broker.serial_number
    renewed.verify_directly_issued_by(ca)
    assert x509.load_pem_x509_certificate(ca_path.read_bytes()) == ca

"""Kafka clients of every component: who they are, and reliable publishing.

**Who.** Kafka admits no anonymous client (infra/kafka/server.properties.template): each
component connects as its own account with SCRAM-SHA-512 over TLS, and may do only what
its account's ACLs allow (infra/access.py). :func:`client_config` gives the librdkafka
settings of a *role*: ``admin`` (the platform's administrator: topics, accounts, ACLs),
``worker`` (reads the event topics, writes dead letters), ``gateway`` (the QR gateway:
writes QR surveys), ``camera-adapter`` (writes camera observations) and ``simulator``
(the demo's and the benchmarks' simulated devices). On the local stack each role has its
own password, made by the stack; elsewhere the process's account comes from
``HAILONG_KAFKA_USER`` / ``HAILONG_KAFKA_PASSWORD``. A kiosk connects with the account in
its device config (:func:`device_connection`, ``producer_config(connection=...)``).

**Reliable publishing.** Producer settings follow librdkafka's no-loss advice:
idempotence (which implies acks=all and bounded in-flight requests), and a long delivery
timeout so a broker outage of minutes is ridden out inside the client rather than
surfaced as a failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from hailong.errors import ConfigError, DeliveryError
from hailong.settings import Settings

# librdkafka's defaults are 5 min; devices may be offline for longer, so let the
# client keep retrying for an hour before a message is reported as failed.
DELIVERY_TIMEOUT_MS = 3_600_000
PARTITIONER = "murmur2_random"  # = Java's default for keyed messages; random without a key


ADMIN, WORKER, GATEWAY, CAMERA_ADAPTER, SIMULATOR = (
    "admin",
    "worker",
    "gateway",
    "camera-adapter",
    "simulator",
)
ROLES = (ADMIN, WORKER, GATEWAY, CAMERA_ADAPTER, SIMULATOR)


def principal(role: str) -> str:
    """The Kafka user name of a platform role on the local stack (``hailong.worker``).
    Devices' accounts are ``device.<device_id>``: no device id can name a role."""
    return f"hailong.{role}"


def device_principal(device_id: str) -> str:
    return f"device.{device_id}"


def account_password(settings: Settings, name: str) -> str:
    """The local stack's password of account ``name`` (a role, or ``broker``), kept in
    ``<stack_dir>/kafka/accounts/`` (mode 0600), made on first use."""
    return settings.stack_secret(name, settings.kafka_dir / "accounts")


def login(settings: Settings, role: str) -> tuple[str, str] | None:
    """(user, password) of a role, or None when the cluster takes no SASL."""
    if not settings.kafka_security_protocol.startswith("SASL"):
        return None
    if settings.kafka_user is not None:
        password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
        return settings.kafka_user, password
    if settings.local_kafka:
        if role not in ROLES:
            raise ValueError(f"no Kafka role {role!r}")
        return principal(role), account_password(settings, role)
    raise ConfigError(
        f"Kafka at {settings.bootstrap_servers} takes {settings.kafka_security_protocol}: "
        "set HAILONG_KAFKA_USER and HAILONG_KAFKA_PASSWORD to this process's account "
        f"(the {role}'s), or HAILONG_KAFKA_SECURITY_PROTOCOL for a cluster without SASL"
    )


def client_config(settings: Settings, role: str) -> dict[str, Any]:
    """Where and as whom to connect: librdkafka's bootstrap, security and SASL settings
    of ``role``."""
    protocol = settings.kafka_security_protocol
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": protocol,
    }
    if protocol.startswith("SASL"):
        user, password = login(settings, role) or ("", "")
        config.update(
            {
                "sasl.mechanism": settings.kafka_sasl_mechanism,
                "sasl.username": user,
                "sasl.password": password,
            }
        )
    if protocol.endswith("SSL") and settings.kafka_ca is not None:
        config["ssl.ca.location"] = str(settings.kafka_ca)
    return config


def device_settings(settings: Settings, user: str, password: str) -> dict[str, Any]:
    """The connection fields of a device config (``hailong devices register``): what a
    kiosk, or a vendor's own client, needs to publish as its account. The brokers' CA
    certificate travels inline, so the config is the only file a device needs."""
    ca = settings.kafka_ca
    return {
        "kafka_bootstrap": settings.bootstrap_servers,
        "kafka_security_protocol": settings.kafka_security_protocol,
        "kafka_sasl_mechanism": settings.kafka_sasl_mechanism,
        "kafka_user": user,
        "kafka_password": password,
        "kafka_ca_pem": ca.read_text() if ca is not None and ca.exists() else None,
        "topic": settings.topics.kiosk,
    }


def device_connection(config: dict[str, Any]) -> dict[str, Any]:
    """librdkafka settings (plus ``topic``) from a device config's connection fields."""
    if not config.get("kafka_user"):
        return {}
    out = {
        "bootstrap.servers": config["kafka_bootstrap"],
        "security.protocol": config["kafka_security_protocol"],
        "sasl.mechanism": config["kafka_sasl_mechanism"],
        "sasl.username": config["kafka_user"],
        "sasl.password": config["kafka_password"],
        "topic": config["topic"],
    }
    if config.get("kafka_ca_pem"):
        out["ssl.ca.pem"] = config["kafka_ca_pem"]
    return out


def ssl_context(settings: Settings) -> Any:
    """An ``ssl.SSLContext`` that trusts the brokers' CA (aiokafka's, i.e. faust's)."""
    import ssl

    ca = settings.kafka_ca
    return ssl.create_default_context(cafile=str(ca) if ca is not None else None)


def producer_config(
    settings: Settings, role: str, *, connection: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """librdkafka configuration for a no-loss producer of ``role``, or of the account
    and brokers of ``connection`` (a device's, :func:`device_connection`)."""
    return {
        **(connection or client_config(settings, role)),
        "enable.idempotence": True,
        "acks": "all",
        "message.timeout.ms": DELIVERY_TIMEOUT_MS,
        "linger.ms": 5,
        "compression.type": "lz4",
        # The Java client's partitioner (murmur2 of the key), not librdkafka's default
        # (CRC32): an office's events from Hailong's producers and from a vendor's Java
        # client then share one partition, so one worker sees them in order.
        "partitioner": PARTITIONER,
        **extra,
    }


def make_producer(settings: Settings, role: str, **extra: Any) -> Producer:
    return Producer(producer_config(settings, role, **extra))


def admin_client(settings: Settings, role: str = ADMIN, extra: dict[str, Any] | None = None) -> Any:
    """A confluent-kafka AdminClient of ``role`` (the administrator by default)."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({**client_config(settings, role), **(extra or {})})


Headers = list[tuple[str, str | bytes | None]]


def deliver(
    producer: Producer,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes] | tuple[bytes | None, bytes, Headers]],
    timeout_s: float = 60.0,
) -> int:
    """Publish ``(key, value)`` pairs and wait until Kafka confirmed every one.

    Raises :class:`DeliveryError` if any message was not confirmed; the caller can
    simply call again (the stream worker does), at the cost of possible duplicates,
    which downstream dedups by ``event_id``.
    """
    failures: list[KafkaError] = []
    sent = 0

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(err)

    for key, value, *headers in messages:
        while True:
            try:
                producer.produce(
                    topic,
                    value=value,
                    key=key,
                    on_delivery=on_delivery,
                    headers=headers[0] if headers else None,
                )
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry.
                producer.poll(0.5)
            except KafkaException as exc:
                # Refused before sending (a message over message.max.bytes, a topic the
                # client knows is gone): the caller decides what to retry, nothing crashes.
                err = exc.args[0]
                raise DeliveryError(
                    f"message to {topic} refused: {err.str()}", err.name()
                ) from None
        producer.poll(0)
        sent += 1
    remaining = producer.flush(timeout_s)
    if remaining:
        raise DeliveryError(
            f"{remaining} of {sent} messages to {topic} not confirmed within {timeout_s:.0f} s"
        )
    if failures:
        first = failures[0]
        hint = (
            " (create the topics with `hailong topics`)"
            if first.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
            else ""
        )
        raise DeliveryError(
            f"{len(failures)} of {sent} messages to {topic} failed: {first.str()}{hint}",
            first.name(),
        )
    return sent

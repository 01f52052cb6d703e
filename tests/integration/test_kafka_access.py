"""Issue 13: nothing without a credential can read, write or administer Kafka, and each
account can do only its own part (infra/access.py), on the real broker.

Each attempt is made for real; afterwards the admin checks nothing changed: the topics
are there with their retention, no message was added, the worker's offsets stand."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from hailong.kafka import ADMIN, GATEWAY, WORKER, admin_client, client_config, login
from hailong.settings import Settings
from infra.access import grant_device, revoke_device
from tests.conftest import read_topic

pytestmark = pytest.mark.integration

QUICK = {"socket.timeout.ms": 4000, "socket.connection.setup.timeout.ms": 4000, "log_level": 0}


def anonymous(settings: Settings) -> dict[str, dict[str, Any]]:
    """Ways to come without a credential: plain TCP, TLS without SASL, SASL with a made-up
    password, and the broker's own listener without its password."""
    bootstrap = settings.bootstrap_servers
    ca = str(settings.kafka_ca)
    return {
        "plaintext": {"bootstrap.servers": bootstrap, "security.protocol": "PLAINTEXT"},
        "tls, no sasl": {
            "bootstrap.servers": bootstrap,
            "security.protocol": "SSL",
            "ssl.ca.location": ca,
        },
        "wrong password": {
            "bootstrap.servers": bootstrap,
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": ca,
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "hailong.admin",
            "sasl.password": "guess",
        },
        "internal listener": {
            "bootstrap.servers": f"127.0.0.1:{settings.kafka_internal_port}",
            "security.protocol": "PLAINTEXT",
        },
    }


def attempts(config: dict[str, Any], settings: Settings) -> dict[str, Callable[[], Any]]:
    """Each thing an intruder would do; each returns normally only if the broker did it."""
    t = settings.topics

    def produce() -> None:
        said: list[Any] = []  # what the broker said to the client (authentication, ...)
        p = Producer({**config, **QUICK, "message.timeout.ms": 5000, "error_cb": said.append})
        errors: list[Any] = []
        p.produce(
            t.kiosk, key=b"HN-00001", value=b"{}", on_delivery=lambda err, _m: errors.append(err)
        )
        p.flush(8)
        if not errors or errors[0] is not None:
            raise KafkaException(
                f"{errors[0] if errors else 'not delivered'}; {'; '.join(e.str() for e in said)}"
            )

    def consume() -> None:
        c = Consumer(
            {**config, **QUICK, "group.id": settings.consumer_group, "enable.auto.commit": False}
        )
        try:
            c.assign([TopicPartition(t.kiosk, p, 0) for p in range(12)])
            for _ in range(6):
                msg = c.poll(1.0)
                if msg is not None and msg.error() is None:
                    return
                if msg is not None:
                    raise KafkaException(msg.error())
            raise KafkaException("nothing read")
        finally:
            c.close()

    # The client must outlive its futures (a destroyed handle fails them locally).
    admin = AdminClient({**config, **QUICK})

    def create() -> None:
        admin.create_topics([NewTopic(f"{settings.topic_prefix}stolen", 1, 1)], request_timeout=6)[
            f"{settings.topic_prefix}stolen"
        ].result()

    def delete() -> None:
        admin.delete_topics([t.kiosk], request_timeout=6)[t.kiosk].result()

    def alter() -> None:
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

        resource = ConfigResource(
            ResourceType.TOPIC,
            t.kiosk,
            incremental_configs=[
                ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)
            ],
        )
        for future in admin.incremental_alter_configs([resource], request_timeout=6).values():
            future.result()

    def reset_offsets() -> None:
        request = ConsumerGroupTopicPartitions(
            settings.consumer_group, [TopicPartition(t.kiosk, 0, 0)]
        )
        for future in admin.alter_consumer_group_offsets([request], request_timeout=6).values():
            future.result()

    return {
        "produce": produce,
        "consume": consume,
        "create topic": create,
        "delete topic": delete,
        "alter config": alter,
        "reset offsets": reset_offsets,
    }


def refused(
    config: dict[str, Any], settings: Settings, allowed: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Try everything but ``allowed`` at once; return what each attempt got: the reason
    it was refused, or "" if the broker did it."""

    def one(attempt: Callable[[], Any]) -> str:
        try:
            attempt()
        except (KafkaException, ValueError) as exc:
            return str(exc) or type(exc).__name__
        return ""

    tried = {n: a for n, a in attempts(config, settings).items() if n not in allowed}
    with ThreadPoolExecutor(len(tried)) as pool:
        results = dict(zip(tried, pool.map(one, tried.values()), strict=True))
    return results


def state(settings: Settings) -> tuple[Any, ...]:
    """What an intruder would change: topics, retention, messages, committed offsets."""
    admin = admin_client(settings)
    t = settings.topics
    topics = sorted(
        n for n in admin.list_topics(timeout=10).topics if n.startswith(settings.topic_prefix)
    )
    config = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t.kiosk)])
    retention = next(iter(config.values())).result()["retention.ms"].value
    offsets = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(settings.consumer_group)]
    )
    committed = sorted(
        (p.topic, p.partition, p.offset)
        for p in next(iter(offsets.values())).result().topic_partitions
    )
    return topics, retention, len(read_topic(settings, t.kiosk)), committed


def commit_worker_offset(settings: Settings) -> None:
    """Give the worker's group a committed offset an intruder could try to reset."""
    c = Consumer(
        {
            **client_config(settings, WORKER),
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
        }
    )
    try:
        c.commit(offsets=[TopicPartition(settings.topics.kiosk, 0, 1)], asynchronous=False)
    finally:
        c.close()


def test_anonymous_clients_can_do_nothing(settings: Settings) -> None:
    # A message a reader could steal, written as the admin (whose account works: the
    # refusals below are about credentials, not a broken broker).
    p = Producer(client_config(settings, ADMIN))
    p.produce(settings.topics.kiosk, key=b"HN-00001", value=b"{}", partition=0)
    assert p.flush(30) == 0
    commit_worker_offset(settings)
    before = state(settings)
    with ThreadPoolExecutor(4) as pool:
        ways = anonymous(settings)
        results = dict(
            zip(ways, pool.map(lambda c: refused(c, settings), ways.values()), strict=True)
        )
    for way, result in results.items():
        assert set(result) == set(attempts({}, settings))
        assert all(result.values()), (way, result)  # every attempt failed
    # The broker said why to the made-up password (the others it just drops).
    assert "Authentication failed" in results["wrong password"]["produce"]
    assert state(settings) == before


def test_each_account_does_only_its_part(settings: Settings) -> None:
    commit_worker_offset(settings)
    kiosk = grant_device(settings, "K-access-1", "kiosk", progress=lambda _m: None)
    assert kiosk is not None and kiosk[0] == "device.K-access-1"
    device = {
        **client_config(settings, ADMIN),
        "sasl.username": kiosk[0],
        "sasl.password": kiosk[1],
    }
    before = state(settings)
    # A kiosk writes its topic and nothing else: it cannot read other offices' ratings.
    device_produce = attempts(device, settings)["produce"]
    device_produce()  # allowed: its one press
    result = refused(device, settings, allowed=frozenset({"produce"}))
    assert all(result.values()), result
    assert "authoriz" in result["consume"].lower() or "AUTHORIZATION" in result["consume"]
    qr = {**device, **QUICK, "message.timeout.ms": 5000}
    errors: list[Any] = []
    q = Producer(qr)
    q.produce(
        settings.topics.qr,
        key=b"HN-00001",
        value=b"{}",
        on_delivery=lambda err, _m: errors.append(err),
    )
    q.flush(8)
    assert errors and errors[0] is not None and "AUTHORIZATION" in errors[0].name()
    # The worker reads and writes dead letters; it administers nothing, writes no events.
    # (It may commit, hence reset, its own group's offsets: not tried.)
    worker = client_config(settings, WORKER)
    attempts(worker, settings)["consume"]()  # allowed
    result = refused(worker, settings, allowed=frozenset({"consume", "reset offsets"}))
    assert all(result.values()), result
    # The gateway writes QR surveys only.
    assert all(refused(client_config(settings, GATEWAY), settings).values())
    after = state(settings)
    assert after[:2] == before[:2] and after[3] == before[3]
    assert after[2] == before[2] + 1  # the kiosk's one press

    # Revoked: its password no longer opens a connection.
    revoke_device(settings, "K-access-1", "kiosk")
    result = refused(device, settings)
    assert all(result.values()), result
    assert "authentication" in result["produce"].lower() or "SASL" in result["produce"]


def test_the_worker_cannot_use_the_admins_password(settings: Settings) -> None:
    """Each role's password is its own (the local stack keeps one per role)."""
    worker_user, worker_password = login(settings, WORKER) or ("", "")
    admin_user, admin_password = login(settings, ADMIN) or ("", "")
    assert worker_password != admin_password and worker_user != admin_user
    mixed = {**client_config(settings, ADMIN), "sasl.password": worker_password}
    assert all(refused(mixed, settings).values())

"""Create the topics of wire contract v1 with their partitions and retention."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from hailong.errors import StackError
from hailong.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_days: int


def contract_topics(settings: Settings) -> list[TopicSpec]:
    """The four topics of contract v1, with its default partitions and retention."""
    t = settings.topics
    return [
        TopicSpec(t.kiosk, 12, 30),
        TopicSpec(t.qr, 12, 30),
        TopicSpec(t.camera, 12, 7),
        TopicSpec(t.deadletter, 3, 90),
    ]


def ensure_topics(settings: Settings, progress: Callable[[str], None] = print) -> None:
    """Create missing topics; leave existing ones alone (warn if they differ)."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    existing = admin.list_topics(timeout=10).topics
    missing = []
    for spec in contract_topics(settings):
        found = existing.get(spec.name)
        if found is None:
            missing.append(spec)
        elif len(found.partitions) != spec.partitions:
            progress(
                f"topics: warning: {spec.name} has {len(found.partitions)} partitions, "
                f"the contract's default is {spec.partitions}"
            )
    if not missing:
        progress("topics: all present")
        return
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=-1,  # the broker default: 1 on the local stack
                config={"retention.ms": str(spec.retention_days * DAY_MS)},
            )
            for spec in missing
        ],
        operation_timeout=30,
    )
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StackError(f"could not create topic {name}: {error}") from exc
    progress(f"topics: created {', '.join(s.name for s in missing)}")

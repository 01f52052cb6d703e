"""Create the topics of wire contract v1 with their partitions and retention, and grant
the services their ACLs on them (infra/access.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from hailong.errors import StackError
from hailong.kafka import admin_client
from hailong.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_days: int
    # The broker stamps each message when it appends it: the stream worker compares an
    # event's time with this clock, which no device can set (streams/plausible.py).
    log_append_time: bool = True

    @property
    def config(self) -> dict[str, str]:
        c = {"retention.ms": str(self.retention_days * DAY_MS)}
        if self.log_append_time:
            c["message.timestamp.type"] = "LogAppendTime"
        return c


def contract_topics(settings: Settings) -> list[TopicSpec]:
    """The four topics of contract v1, with its default partitions and retention, and
    the alert engine's ``satisfaction.alerts.v1`` (docs: streams/ALERTS.md)."""
    t = settings.topics
    return [
        TopicSpec(t.kiosk, 12, 30),
        TopicSpec(t.qr, 12, 30),
        TopicSpec(t.camera, 12, 7),
        TopicSpec(t.deadletter, 3, 90, log_append_time=False),
        TopicSpec(t.alerts, 3, 365, log_append_time=False),
    ]


def ensure_topics(settings: Settings, progress: Callable[[str], None] = print) -> None:
    """Create missing topics; leave existing ones alone (warn if they differ)."""
    from infra.access import grant_topics

    admin = admin_client(settings)
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
    stamped = [s for s in contract_topics(settings) if s.log_append_time and s.name in existing]
    if stamped:
        _append_time(admin, stamped, progress)
    grant_topics(settings, progress)
    if not missing:
        progress("topics: all present")
        return
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=-1,  # the broker default: 1 on the local stack
                config=spec.config,
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


def _append_time(
    admin: AdminClient, specs: list[TopicSpec], progress: Callable[[str], None]
) -> None:
    """Set ``message.timestamp.type=LogAppendTime`` on existing event topics made before
    the platform asked for it (a topic's other settings are left as they are)."""
    resources = [ConfigResource(ResourceType.TOPIC, s.name) for s in specs]
    stale = []
    for resource, future in admin.describe_configs(resources).items():
        entry = future.result().get("message.timestamp.type")
        if entry is None or entry.value != "LogAppendTime":
            stale.append(resource.name)
    if not stale:
        return
    changes = [
        ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(
                    "message.timestamp.type",
                    "LogAppendTime",
                    incremental_operation=AlterConfigOpType.SET,
                )
            ],
        )
        for name in stale
    ]
    for resource, future in admin.incremental_alter_configs(changes).items():
        try:
            future.result()
        except KafkaException as exc:
            raise StackError(
                f"could not set LogAppendTime on topic {resource.name}: {exc.args[0]}"
            ) from exc
    progress(f"topics: {', '.join(stale)} now take the broker's timestamps (LogAppendTime)")

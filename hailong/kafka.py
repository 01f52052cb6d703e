"""Reliable publishing with confluent-kafka, shared by producers and the stream worker.

Settings follow librdkafka's no-loss advice: idempotence (which implies acks=all and
bounded in-flight requests), and a long delivery timeout so a broker outage of
minutes is ridden out inside the client rather than surfaced as a failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from hailong.errors import DeliveryError
from hailong.settings import Settings

# librdkafka's defaults are 5 min; devices may be offline for longer, so let the
# client keep retrying for an hour before a message is reported as failed.
DELIVERY_TIMEOUT_MS = 3_600_000
PARTITIONER = "murmur2_random"  # = Java's default for keyed messages; random without a key


def producer_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """librdkafka configuration for a no-loss producer."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
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


def make_producer(settings: Settings, **extra: Any) -> Producer:
    return Producer(producer_config(settings, **extra))


Headers = list[tuple[str, str | bytes | None]]


def deliver(producer: Producer, topic: str,
            messages: Iterable[tuple[bytes | None, bytes] | tuple[bytes | None, bytes, Headers]],
            timeout_s: float = 60.0) -> int:
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
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery,
                                 headers=headers[0] if headers else None)
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry.
                producer.poll(0.5)
            except KafkaException as exc:
                # Refused before sending (a message over message.max.bytes, a topic the
                # client knows is gone): the caller decides what to retry, nothing crashes.
                err = exc.args[0]
                raise DeliveryError(f"message to {topic} refused: {err.str()}",
                                    err.name()) from None
        producer.poll(0)
        sent += 1
    remaining = producer.flush(timeout_s)
    if remaining:
        raise DeliveryError(f"{remaining} of {sent} messages to {topic} not confirmed "
                            f"within {timeout_s:.0f} s")
    if failures:
        first = failures[0]
        hint = (" (create the topics with `hailong topics`)"
                if first.code() == KafkaError.UNKNOWN_TOPIC_OR_PART else "")
        raise DeliveryError(f"{len(failures)} of {sent} messages to {topic} failed: "
                            f"{first.str()}{hint}", first.name())
    return sent

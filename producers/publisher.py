"""Publishing contract events to their topics (confluent-kafka, no-loss settings)."""

from __future__ import annotations

from collections.abc import Iterable

from hailong.contract import CameraObservation, Event, KioskRating, QrSurvey
from hailong.kafka import SIMULATOR, Headers, deliver, make_producer
from hailong.settings import Settings
from hailong.signing import Keyring


class Publisher:
    """Sends events to the topic of their schema, keyed by office, signed by their device
    when the keyring has its key (``hailong/signing.py``); waits for Kafka's ack. It
    connects as the simulator's account (``role``; see hailong/kafka.py)."""

    def __init__(
        self, settings: Settings, keyring: Keyring | None = None, role: str = SIMULATOR
    ) -> None:
        self.settings = settings
        self.producer = make_producer(settings, role)
        self.keyring = keyring or Keyring()

    def topic_of(self, event: Event) -> str:
        t = self.settings.topics
        if isinstance(event, KioskRating):
            return t.kiosk
        if isinstance(event, QrSurvey):
            return t.qr
        if isinstance(event, CameraObservation):
            return t.camera
        raise TypeError(f"not a contract event: {type(event).__name__}")

    def publish(self, events: Iterable[Event]) -> int:
        """Publish events; return how many Kafka confirmed (raises DeliveryError if not all)."""
        by_topic: dict[str, list[tuple[bytes, bytes, Headers]]] = {}
        for event in events:
            value = event.to_json()
            headers: Headers = [*self.keyring.headers(event, value)]
            by_topic.setdefault(self.topic_of(event), []).append((event.key, value, headers))
        return sum(deliver(self.producer, topic, msgs) for topic, msgs in by_topic.items())

    def publish_raw(self, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> int:
        """Publish raw values as they are (for tests and fault injection)."""
        return deliver(self.producer, topic, messages)

    def close(self) -> None:
        self.producer.flush(30)

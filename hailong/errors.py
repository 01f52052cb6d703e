"""Named errors. Every failure the project reports derives from :class:`HailongError`."""

from __future__ import annotations


class HailongError(Exception):
    """Base of every error raised by Hailong."""


class ConfigError(HailongError):
    """A setting is missing or invalid."""


class InvalidEvent(HailongError):
    """An event does not satisfy wire contract v1; ``reason`` is readable by people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StackError(HailongError):
    """A local service (Kafka, ClickHouse) could not be installed, started or stopped."""


class ServiceNotReady(StackError):
    """A service did not answer in time; the message carries its log's tail."""


class WarehouseError(HailongError):
    """ClickHouse refused or failed a query. ``code`` is the server's error code."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"[ClickHouse {code}] {message}")
        self.code = code


class MigrationError(WarehouseError):
    """A migration failed, or an applied migration file was edited afterwards."""


class DeliveryError(HailongError):
    """Kafka did not confirm a message. ``code`` is librdkafka's error name."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message if code is None else f"[{code}] {message}")
        self.code = code

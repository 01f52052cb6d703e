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
        self.message = message
        self.code = code


class DataRefused(WarehouseError):
    """ClickHouse (or its driver) refused a write because of the data in it: repeating
    the write fails the same way, so it is never retried. The stream worker isolates the
    message that caused it and dead-letters it (``streams/ingest.py``)."""


# ClickHouse error codes that a value causes, not the server's state: CANNOT_PARSE_TEXT,
# CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME,
# TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER,
# TOO_LARGE_STRING_SIZE, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, INCORRECT_DATA.
DATA_ERROR_CODES = frozenset({6, 27, 38, 41, 53, 69, 70, 72, 131, 321, 117})


class MigrationError(WarehouseError):
    """A migration failed, or an applied migration file was edited afterwards."""


class DeliveryError(HailongError):
    """Kafka did not confirm a message. ``code`` is librdkafka's error name."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message if code is None else f"[{code}] {message}")
        self.code = code

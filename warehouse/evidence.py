"""Evidence for auditors: every counted event can be re-verified from raw.

The stream worker keeps, for each message it lands that carries a device signature, the
exact value bytes and the signature (table ``event_evidence``, :func:`record`).
:func:`verify_month` (``hailong audit verify --month YYYY-MM``) then checks every raw
row of the month, in every channel:

1. its evidence exists (else: released from the quarantine by a person, which the
   ``quarantine_releases`` audit names, or a failure);
2. the signature verifies with the device's public key (``devices``);
3. the signed value, parsed by the contract, gives exactly the raw row (a raw row
   edited after landing no longer matches what its device signed).

Every failure names the event (channel, event_id, Kafka position) and why. Public keys
and signatures are not secrets: anyone with read access can run the same check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hailong.contract import parse_event
from hailong.errors import InvalidEvent
from hailong.methodology import LOCAL_TZ_NAME
from hailong.settings import Topics
from hailong.signing import SignatureRefused, read_headers, verify
from warehouse.channels import BY_NAME, Channel
from warehouse.client import Warehouse
from warehouse.devices import load_keys

TABLE = "event_evidence"
COLUMNS = (
    "channel",
    "kafka_partition",
    "kafka_offset",
    "event_id",
    "device_id",
    "key_id",
    "signature",
    "value",
)
_BASE_TOPICS = Topics("")
# The time column of each channel's raw table (the month of an event).
TIME_COLUMN = {"kiosk": "occurred_at", "qr": "submitted_at", "camera": "observed_at"}


def evidence_row(
    channel: str,
    partition: int,
    offset: int,
    event_id: Any,
    value: bytes,
    headers: Sequence[tuple[str, bytes | None]] | None,
) -> tuple[Any, ...] | None:
    """The evidence row of a landed message, or None when it carries no signature."""
    try:
        signed = read_headers(headers)
    except SignatureRefused:
        return None
    return (
        channel,
        partition,
        offset,
        event_id,
        signed.device_id,
        signed.key_id,
        signed.signature,
        value,
    )


def record(wh: Warehouse, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert evidence rows (exact bytes: the driver's unchecked insert path)."""
    if rows:
        wh.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES", list(rows))  # type: ignore[arg-type]
    return len(rows)


@dataclass
class Report:
    month: str
    checked: int = 0
    verified: int = 0
    released: int = 0
    failures: list[str] = field(default_factory=list)


def _as_bytes(v: str | bytes) -> bytes:
    return v if isinstance(v, bytes) else v.encode("utf-8")


def verify_month(wh: Warehouse, month: str) -> Report:
    """Check every raw row of ``month`` ('YYYY-MM', Hanoi calendar, as the rankings)."""
    first = date.fromisoformat(f"{month}-01")
    report = Report(month)
    keys = load_keys(wh)
    released = {
        (t, p, o)
        for t, p, o in wh.execute(
            "SELECT source_topic, kafka_partition, kafka_offset FROM quarantine_releases "
            "WHERE outcome = 'counted'"
        )
    }
    for channel in BY_NAME.values():
        _verify_channel(wh, channel, first, keys, released, report)
    return report


def _verify_channel(
    wh: Warehouse,
    channel: Channel[Any],
    first: date,
    keys: Any,
    released: set[tuple[str, int, int]],
    report: Report,
) -> None:
    columns = ", ".join(channel.raw_columns)
    rows = wh.execute(
        f"SELECT {columns} FROM {channel.raw_table} FINAL "
        f"WHERE toYYYYMM(toTimeZone({TIME_COLUMN[channel.name]}, '{LOCAL_TZ_NAME}')) = %(m)s",
        {"m": first.year * 100 + first.month},
    )
    evidence = {
        (p, o): (d, k, sig, value)
        for p, o, d, k, sig, value in wh.execute(
            f"SELECT kafka_partition, kafka_offset, device_id, key_id, signature, value "
            f"FROM {TABLE} FINAL WHERE channel = %(c)s",
            {"c": channel.name},
        )
    }
    at = {c: i for i, c in enumerate(channel.raw_columns)}
    for row in rows:
        report.checked += 1
        partition, offset = row[at["kafka_partition"]], row[at["kafka_offset"]]
        name = (
            f"{channel.name} event {row[at['event_id']]} (partition {partition}, offset {offset})"
        )
        found = evidence.get((partition, offset))
        if found is None:
            topics = {t for t, p, o in released if (p, o) == (partition, offset)}
            if any(t.endswith(getattr(_BASE_TOPICS, channel.name)) for t in topics):
                report.released += 1
            else:
                report.failures.append(f"{name}: no signed value kept")
            continue
        device, key_id, signature, value = found
        value = _as_bytes(value)
        key = keys.get(device, int(key_id))
        if key is None:
            report.failures.append(f"{name}: device {device!r} key {key_id} is not registered")
            continue
        if not verify(key.public_key, value, _as_bytes(signature)):
            report.failures.append(
                f"{name}: the signature of device {device!r} key {key_id} "
                "does not match the kept value"
            )
            continue
        try:
            event = parse_event(value, getattr(_BASE_TOPICS, channel.name))
        except InvalidEvent as exc:
            report.failures.append(f"{name}: the signed value is not a valid event: {exc.reason}")
            continue
        expected = channel.raw_row(event, partition, offset)
        differing = [
            c for c, a, b in zip(channel.raw_columns, row, expected, strict=True) if a != b
        ]
        if differing:
            report.failures.append(
                f"{name}: the raw row differs from what device {device!r} "
                f"signed in {', '.join(differing)}"
            )
            continue
        report.verified += 1

"""Each event_id once, across every channel, hour and office (table ``event_index``).

Before a batch lands, the worker asks which of its events already landed from another
Kafka message; those copies are skipped. A replay of the *same* message (after a
crash) is not a copy: it lands again, identically, so a batch stays safe to repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from warehouse.client import Warehouse

COLUMNS = ("event_id", "kafka_topic", "kafka_partition", "kafka_offset")
Position = tuple[str, int, int]  # (topic, partition, offset) of one Kafka message
# Ids per look-up: keeps the query text far below ClickHouse's 256 KiB max_query_size.
_CHUNK = 1000


def landed_elsewhere(wh: Warehouse, items: Sequence[tuple[UUID, Position]]) -> set[UUID]:
    """The event_ids among ``items`` already landed from a different Kafka message."""
    position = dict(items)
    ids = list(position)
    found: set[UUID] = set()
    for i in range(0, len(ids), _CHUNK):
        rows = wh.execute(
            "SELECT event_id, kafka_topic, kafka_partition, kafka_offset FROM event_index "
            "WHERE event_id IN %(ids)s", {"ids": tuple(ids[i:i + _CHUNK])})
        found |= {UUID(str(e)) for e, t, p, o in rows if (t, p, o) != position[UUID(str(e))]}
    return found


def record(wh: Warehouse, items: Sequence[tuple[UUID, Position]]) -> None:
    """Record where these events were first landed from (idempotent)."""
    wh.insert("event_index", COLUMNS, [(e, t, p, o) for e, (t, p, o) in items])

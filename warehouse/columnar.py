"""Reading ClickHouse results as numpy columns, for the reconciliation's recount
(``warehouse/recount.py``, ``warehouse/owners.py``) and the bootstrap's submissions
(``pipelines/ranking_store.py``): no Python object per row. Ids are read as the two
64-bit halves of their UUID (``HI``, ``LO``), so that (hi, lo) order is the order of
``str(event_id)`` on every engine; strings as bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from queue import Queue
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from warehouse.claims import uuid_half_sql
from warehouse.client import Warehouse

Array = npt.NDArray[Any]

# An event_id's halves in a query: placeholders that :func:`columns` replaces by the
# engine's own bytes of the UUID where their layout is the one probed (18.16: each half
# little-endian, high half first; cheap), else by the halves of its canonical text.
HI, LO = "__event_id_hi__", "__event_id_lo__"
_BYTES = "reinterpretAsUInt64(substring(reinterpretAsString(event_id), {}, 8))"
_PROBE = "00112233-4455-6677-8899-aabbccddeeff"
_halves_of: dict[tuple[str, int], tuple[str, str]] = {}


def _halves(wh: Warehouse) -> tuple[str, str]:
    settings = getattr(wh, "settings", None)
    key = (settings.ch_host, settings.ch_port) if settings else (type(wh).__name__, 0)
    if key not in _halves_of:
        fast = _BYTES.format(1), _BYTES.format(9)
        got = wh.execute(
            f"SELECT {fast[0]}, {fast[1]} FROM (SELECT toUUID('{_PROBE}') AS event_id)"
        )
        want = (0x0011223344556677, 0x8899AABBCCDDEEFF)
        _halves_of[key] = fast if tuple(got[0]) == want else (uuid_half_sql(1), uuid_half_sql(17))
    return _halves_of[key]


OFFICE = "indexOf(%(office_list)s, office_id)"  # 1-based number in the group's offices
IN_GROUP = "office_id IN %(offices)s"


def named(offices: Sequence[str]) -> dict[str, Any]:
    """The group's offices as parameters: a tuple for IN, a list to number them."""
    return {"offices": tuple(offices), "office_list": list(offices)}


def columns(wh: Warehouse, query: str, params: dict[str, Any]) -> list[Array]:
    """A query's result as one numpy array per column (strings as bytes; from a stand-in
    of the warehouse, none when there are no rows)."""
    hi, lo = _halves(wh)
    query = query.replace(HI, hi).replace(LO, lo)
    if not isinstance(wh, Warehouse):  # a stand-in of another engine (tests' chdb): rows
        rows = wh.execute(query, params)
        cols = zip(*rows, strict=True)
        return [np.array([v.encode() if isinstance(v, str) else v for v in c]) for c in cols]
    data, types = wh.execute_columns(query, params)
    if not data:
        return [np.zeros(0, dtype=_EMPTY.get(t.split("(")[0], np.int64)) for _, t in types]
    return [np.asarray(c) for c in data]


_EMPTY: dict[str, Any] = {"String": "S1", "Float64": np.float64, "UInt64": np.uint64}


@dataclass(frozen=True)
class Raw:
    """One channel's raw rows of a group, as columns (``cols``), with their id halves
    and Kafka position."""

    hi: Array
    lo: Array
    partition: Array
    offset: Array
    cols: dict[str, Array]

    def take(self, mask: Array) -> Raw:
        return Raw(
            self.hi[mask],
            self.lo[mask],
            self.partition[mask],
            self.offset[mask],
            {k: v[mask] for k, v in self.cols.items()},
        )


def raw_columns(wh: Warehouse, select: str, names: Sequence[str], p: dict[str, Any]) -> Raw:
    """``SELECT <id halves, position>, select``: the rest of the columns as ``names``."""
    cols = columns(wh, f"SELECT {HI}, {LO}, kafka_partition, kafka_offset, {select}", p)
    hi, lo, partition, offset, *rest = cols
    return Raw(
        hi.astype(np.uint64),
        lo.astype(np.uint64),
        partition.astype(np.int64),
        offset.astype(np.int64),
        dict(zip(names, rest, strict=True)),
    )


def unpack_hex(packed: Array, width: int) -> tuple[Array, Array]:
    """Strings of numbers written as ``width`` hex digits each (``hex()`` of a fixed-width
    integer, concatenated): (row of each number, the number)."""
    if len(packed) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lengths = np.char.str_len(packed) // width
    chars = np.frombuffer(packed.tobytes(), dtype=np.uint8).reshape(len(packed), -1)
    valid = np.arange(chars.shape[1]) < (lengths * width)[:, None]
    flat = chars[valid].reshape(-1, width)
    nibble = np.where(flat >= ord("A"), flat - ord("A") + 10, flat - ord("0")).astype(np.int64)
    tokens = np.zeros(len(flat), dtype=np.int64)
    for j in range(width):
        tokens = tokens * 16 + nibble[:, j]
    rows = np.repeat(np.arange(len(packed), dtype=np.int64), lengths)
    return rows, tokens


Item = TypeVar("Item")
Read = TypeVar("Read")


def prefetched(
    wh: Warehouse,
    items: Sequence[Item],
    read: Callable[[Warehouse, Item], Read],
    ahead: int = 1,
) -> Iterator[tuple[Item, Read]]:
    """``(item, read(connection, item))`` of each item in order; the next ``ahead`` items
    are read in threads, each on a connection of its own, while the caller works on this
    one's result, so that ClickHouse's work and numpy's overlap (two cores)."""
    if len(items) < 2 or not isinstance(wh, Warehouse):  # (tests' chdb stand-in: in turn)
        yield from ((item, read(wh, item)) for item in items)
        return
    with ExitStack() as stack:
        idle: Queue[Warehouse] = Queue()
        for _ in range(ahead):
            idle.put(stack.enter_context(Warehouse(wh.settings, wh.database)))
        pool = stack.enter_context(ThreadPoolExecutor(ahead))

        def on_a_connection(item: Item) -> Read:
            conn = idle.get()
            try:
                return read(conn, item)
            finally:
                idle.put(conn)

        pending = deque(pool.submit(on_a_connection, item) for item in items[:ahead])
        for i, item in enumerate(items):
            result = pending.popleft().result()
            if i + ahead < len(items):
                pending.append(pool.submit(on_a_connection, items[i + ahead]))
            yield item, result

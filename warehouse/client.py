"""The one way the platform talks to ClickHouse (native protocol, clickhouse-driver).

Values never go into SQL text by string formatting: queries take ``%(name)s``
parameters, which clickhouse-driver escapes (the 18.16 server predates server-side
``{name:Type}`` parameters), and inserts are sent as native columnar blocks.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any, TypeVar
from uuid import UUID

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError

from hailong.errors import DATA_ERROR_CODES, DataRefused, WarehouseError
from hailong.settings import Settings


def _error(exc: DriverError) -> WarehouseError:
    # Old servers append a 30-frame C++ stack trace to every message: keep the message.
    message = str(getattr(exc, "message", "") or exc).split("Stack trace:", 1)[0].strip()
    code = getattr(exc, "code", None)
    kind = DataRefused if code in DATA_ERROR_CODES else WarehouseError
    return kind(message, code)


# ClickHouse's ALL_REPLICAS_ARE_STALE: on a cluster, every replica of a shard is behind
# by ``max_replica_delay_for_distributed_queries`` (CLUSTER_SETTINGS). The statement
# did not start anywhere, so it is sent again after each of these pauses, then refused.
# Under load both replicas of a shard can be a second behind for a moment; a replica
# whose peer died holding inserts stays behind until the peer is back.
ALL_REPLICAS_ARE_STALE = 369
STALE_PAUSES_S = (0.2, 0.5, 1.0, 2.0, 2.0)

T = TypeVar("T")
log = logging.getLogger(__name__)
# A NamedTuple type whose fields are a query's columns (Warehouse.records).
Row = TypeVar("Row", bound=tuple[Any, ...])


def sql(name: str, **words: str) -> str:
    """Text of ``warehouse/sql/<name>.sql``: queries shared by code, tests and docs.

    A line ``@include other`` is replaced by the text of ``other.sql``, so a subquery
    that several queries share is written once; ``@include other channel=kiosk`` also
    replaces ``$channel`` in that text by ``kiosk`` (a fixed word of the query, never a
    value from outside: values are parameters).
    """
    text = (resources.files("warehouse") / "sql" / f"{name}.sql").read_text("utf-8")
    for word, value in words.items():
        text = text.replace(f"${word}", value)
    lines = []
    for line in text.splitlines():
        if line.startswith("@include "):
            other, *pairs = line.split()[1:]
            lines.append(sql(other, **dict(p.split("=", 1) for p in pairs)))
        else:
            lines.append(line)
    return "\n".join(lines)


# Every query's settings on a cluster (warehouse/clustered.py):
CLUSTER_SETTINGS: dict[str, Any] = {
    # An INSERT into a Distributed table returns once every shard wrote its rows, not
    # when they are queued on this server to be sent later.
    "insert_distributed_sync": 1,
    # A subquery (IN, JOIN) on a Distributed table inside a distributed query runs once,
    # here, and its result is sent to the shards with the query (GLOBAL IN / GLOBAL
    # JOIN): the shards need not share this session's database name.
    "distributed_product_mode": "global",
    # Read your writes: a shard's reads and writes go to its first replica that answers
    # (the same one while it lives, whichever server a worker is connected to), not to
    # a random one that may not have fetched the last insert yet;
    "load_balancing": "in_order",
    "prefer_localhost_replica": 0,
    # and a replica whose oldest insert not yet fetched is a second old or more is not
    # read: one that is back from a stop reads from its peer until it has caught up,
    # and one whose peer died before sending it an insert makes the query fail (sent
    # again a few times: STALE_PAUSES_S; then the worker retries until the peer is
    # back) instead of counting without those rows.
    "max_replica_delay_for_distributed_queries": 1,
    "fallback_to_stale_replicas_for_distributed_queries": 0,
}


class Warehouse:
    """A connection to the platform's database, with errors wrapped in WarehouseError."""

    def __init__(
        self,
        settings: Settings,
        database: str | None = None,
        *,
        readonly: bool = False,
        node: tuple[str, int] | None = None,
    ) -> None:
        """``node``: this one server only (the migrations on each server of a cluster);
        by default the configured server, then ``ch_alt_hosts`` when it does not answer."""
        self.settings = settings
        self.database = database or settings.clickhouse_database
        user = settings.clickhouse_readonly_user if readonly else settings.clickhouse_user
        password = (
            settings.clickhouse_readonly_password if readonly else settings.clickhouse_password
        ).get_secret_value()
        host, port = node or (settings.ch_host, settings.ch_port)
        server_settings: dict[str, Any] = {"use_client_time_zone": False}
        if settings.ch_cluster is not None:
            server_settings |= CLUSTER_SETTINGS
        alt_hosts = (
            {} if node or not settings.ch_alt_hosts else {"alt_hosts": settings.ch_alt_hosts}
        )
        self._client = Client(
            host=host,
            port=port,
            user=user,
            password=password,
            database=self.database,
            connect_timeout=5,
            send_receive_timeout=300,
            settings=server_settings,
            **alt_hosts,
        )

    def close(self) -> None:
        self._client.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, the driver's errors as WarehouseError; sent again
        after a pause while every replica of a shard is stale (``STALE_PAUSES_S``)."""
        for pause in (*STALE_PAUSES_S, None):
            try:
                with self._errors():
                    return fn(*args, **kwargs)
            except WarehouseError as exc:
                if exc.code != ALL_REPLICAS_ARE_STALE:
                    raise
                if pause is None:
                    waited = sum(STALE_PAUSES_S)
                    raise WarehouseError(
                        f"{exc.message} (still so after {waited:.1f} s: every replica of a "
                        "shard is a second or more behind its inserts; replication is slow, "
                        "or a replica stopped holding inserts its peer has not fetched)",
                        exc.code,
                    ) from exc
                log.info("every replica of a shard is behind; sending again in %.1f s", pause)
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The driver's errors as WarehouseError (DataRefused where the data is at fault)."""
        try:
            yield
        except DriverError as exc:
            raise _error(exc) from exc
        except (OSError, EOFError) as exc:
            where = f"{self.settings.ch_host}:{self.settings.ch_port}"
            raise WarehouseError(f"ClickHouse unreachable at {where}: {exc}") from exc

    def execute(
        self,
        query: str,
        params: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run a query; return its rows. ``settings``: ClickHouse settings of this query."""
        rows: list[tuple[Any, ...]] = self._call(
            self._client.execute, query, params, settings=settings
        )
        return rows

    def records(
        self, row: type[Row], query: str, params: dict[str, Any] | None = None
    ) -> list[Row]:
        """Run a query; return its rows as ``row``, a NamedTuple whose fields are the
        query's column names in their order. The names are checked, so a query and the
        type its rows are read into cannot drift apart (no matching by position)."""
        rows, columns = self._call(self._client.execute, query, params, with_column_types=True)
        names = tuple(name for name, _type in columns)
        fields = tuple(getattr(row, "_fields", ()))
        if names != fields:
            raise WarehouseError(f"{row.__name__} has fields {fields}; the query gives {names}")
        make = getattr(row, "_make")  # noqa: B009 - NamedTuple's constructor from a row
        return [make(r) for r in rows]

    def execute_with_ids(
        self,
        query: str,
        ids: Sequence[UUID] | Sequence[int],
        params: dict[str, Any] | None = None,
        column: tuple[str, str] = ("event_id", "UUID"),
    ) -> list[tuple[Any, ...]]:
        """Run a query that reads the table ``_ids`` (one column, ``column``: its name
        and type, ``event_id UUID`` unless told) holding ``ids``. The ids travel as
        external data in the native format, not as query text: nothing to escape and
        parse, and no limit of the query's size (``WHERE event_id IN _ids`` over
        thousands of ids is several times faster)."""
        name, _type = column
        external = [{"name": "_ids", "structure": [column], "data": [{name: i} for i in ids]}]
        rows: list[tuple[Any, ...]] = self._call(
            self._client.execute, query, params, external_tables=external
        )
        return rows

    def execute_columns(
        self, query: str, params: dict[str, Any] | None = None
    ) -> tuple[list[Any], list[tuple[str, str]]]:
        """Run a query; return its result as one numpy array per column (strings as
        bytes; none when there are no rows) and the columns' (name, type)."""
        from clickhouse_driver.numpy.result import NumpyQueryResult

        saved = self._client.query_result_cls
        self._client.query_result_cls = NumpyQueryResult  # this query only: rows otherwise
        try:
            data, types = self._call(
                self._client.execute,
                query,
                params,
                columnar=True,
                with_column_types=True,
                settings={"use_numpy": True, "strings_as_bytes": True},
            )
        finally:
            self._client.query_result_cls = saved
        return data, types

    def iterate(
        self, query: str, params: dict[str, Any] | None = None, block_rows: int = 20_000
    ) -> Iterator[tuple[Any, ...]]:
        """Run a query; yield its rows as they stream in, ``block_rows`` at a time (for
        results too big to hold as one list)."""

        def start() -> tuple[Iterator[tuple[Any, ...]], tuple[Any, ...] | None]:
            # The query is sent (or refused, and sent again: _call) on the first row.
            rows = self._client.execute_iter(query, params, settings={"max_block_size": block_rows})
            return rows, next(rows, None)

        rows, first = self._call(start)
        if first is None:
            return
        yield first
        with self._errors():
            yield from rows

    def drop_partition(self, table: str, partition: str) -> None:
        """Drop one partition of ``table`` (a period's rankings before they are written
        again). On a cluster, of ``<table>_local`` on the leader replica of each shard
        (another replica would forward it to the leader as the server's ``default``
        user, which the platform's servers do not have), waiting until every replica
        dropped it (a Distributed table has no partitions)."""
        query = f"ALTER TABLE {table}{{local}} DROP PARTITION %(p)s"
        cluster = self.settings.ch_cluster
        if cluster is None:
            self.execute(query.format(local=""), {"p": partition})
            return
        from warehouse.clustered import LOCAL
        from warehouse.migrate import cluster_nodes

        shards = len(cluster_nodes(self, cluster, first_replicas=True))
        for _attempt in range(30):  # a leader is elected within seconds of a restart
            leaders = []
            for node in cluster_nodes(self, cluster):
                with Warehouse(self.settings, self.database, node=node) as server:
                    rows = server.execute(
                        "SELECT is_leader FROM system.replicas "
                        "WHERE database = %(d)s AND table = %(t)s",
                        {"d": self.database, "t": f"{table}{LOCAL}"},
                    )
                if rows and rows[0][0]:
                    leaders.append(node)
            if len(leaders) == shards:
                break
            time.sleep(1.0)
        else:
            raise WarehouseError(
                f"{table}: {len(leaders)} of {shards} shards have a leader replica; "
                "try again when every shard has one"
            )
        for node in leaders:
            with Warehouse(self.settings, self.database, node=node) as server:
                server.execute(
                    query.format(local=LOCAL),
                    {"p": partition},
                    settings={"replication_alter_partitions_sync": 2},
                )

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Insert rows (one native block); return how many were sent."""
        if not rows:
            return 0
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
        with self._errors():
            try:
                self._client.execute(query, list(rows), types_check=True)
            except (TypeError, ValueError, OverflowError, struct.error) as exc:
                # The driver could not encode a value for its column: the data's fault.
                raise DataRefused(f"a value does not fit its column in {table}: {exc}") from exc
        return len(rows)


def create_database(settings: Settings, database: str | None = None) -> None:
    """Create the platform's database if it is missing (on every server of a cluster)."""
    name = database or settings.clickhouse_database
    # Identifiers can't be parameters; the name is validated by Settings' pattern.
    _on_every_server(settings, f"CREATE DATABASE IF NOT EXISTS {name}")


def drop_database(settings: Settings, database: str) -> None:
    """Drop a database with its tables (a test's or a benchmark's), on every server of a
    cluster; a replicated table's replica leaves ZooKeeper with it."""
    _on_every_server(settings, f"DROP DATABASE IF EXISTS {database}")


def _on_every_server(settings: Settings, statement: str) -> None:
    with Warehouse(settings, database="default") as wh:
        if settings.ch_cluster is None:
            wh.execute(statement)
            return
        from warehouse.migrate import cluster_nodes

        for node in cluster_nodes(wh, settings.ch_cluster):
            with Warehouse(settings, database="default", node=node) as server:
                server.execute(statement)

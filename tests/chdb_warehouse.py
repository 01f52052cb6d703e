"""The current ClickHouse engine in-process (chdb), behind the Warehouse interface.

The platform's SQL functions take a warehouse with ``execute(query, params)`` and
``insert(table, columns, rows)``; this class gives them chdb, so the very same code
and SQL text runs on the current engine as on the Debian 18.16 server. Parameters are
substituted by clickhouse-driver's own escaping, exactly as for the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from chdb import session
from clickhouse_driver import Client

_escaper = Client(host="127.0.0.1")  # never connects: used for its escaping only
Params = dict[str, Any] | None  # a query's parameters, or ClickHouse settings
Rows = list[tuple[Any, ...]]


def _plain(value: Any) -> Any:
    # Datetimes as UTC text: every DateTime column of the schema is DateTime('UTC').
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


class ChdbWarehouse:
    def __init__(self, path: str, database: str = "hailong") -> None:
        from hailong.settings import Settings

        self.session = session.Session(path)
        self.database = database
        # One server, not a cluster: the settings' defaults (the environment unread).
        self.settings = Settings.model_construct()
        self.session.query(f"CREATE DATABASE IF NOT EXISTS {database}")
        self.session.query(f"USE {database}")

    def _sql(self, query: str, params: Params) -> str:
        if not params:
            return query
        plain = {k: _plain(v) for k, v in params.items()}
        return str(_escaper.substitute_params(query, plain, _escaper.connection.context))

    def execute(self, query: str, params: Params = None, settings: Params = None) -> Rows:
        """``settings``: accepted for the server's interface; the current engine needs none
        of those the code passes (it pushes predicates into views by itself)."""
        text = self._sql(query, params)
        code = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
        if code and code[0].lstrip().upper().startswith(("SELECT", "WITH")):
            out = self.session.query(
                text + "\nSETTINGS output_format_json_quote_64bit_integers = 0", "JSONCompact"
            )
            return [tuple(row) for row in json.loads(out.bytes())["data"]]
        self.session.query(text)
        return []

    def execute_with_ids(
        self,
        query: str,
        ids: Sequence[Any],
        params: Params = None,
        column: tuple[str, str] = ("event_id", "UUID"),
    ) -> list[tuple[Any, ...]]:
        """As Warehouse.execute_with_ids, with the ids as a tuple in the query's text
        (chdb takes no external data)."""
        return self.execute(
            query.replace("_ids", "%(_ids)s"), {**(params or {}), "_ids": tuple(ids)}
        )

    def iterate(
        self, query: str, params: Params = None, block_rows: int = 20_000
    ) -> Iterator[tuple[Any, ...]]:
        """As Warehouse.iterate (in-process: the rows are already here)."""
        yield from self.execute(query, params)

    def drop_partition(self, table: str, partition: str) -> None:
        self.execute(f"ALTER TABLE {table} DROP PARTITION %(p)s", {"p": partition})

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        values = ", ".join(
            "(" + ", ".join(self._sql("%(v)s", {"v": v}) for v in row) + ")" for row in rows
        )
        self.session.query(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")
        return len(rows)

    def close(self) -> None:
        self.session.close()

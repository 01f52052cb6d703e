"""The same migrations on a ClickHouse cluster: each statement as each server runs it.

On one server a migration's statements run as written. On a cluster
(``settings.ch_cluster``: a name in the servers' ``remote_servers``), every table ``t``
becomes two, as Snuba and ClickHouse's own documentation lay them out:

- ``t_local`` on every server, the statement's engine made replicated
  (``ReplacingMergeTree(version)`` -> ``ReplicatedReplacingMergeTree('/clickhouse/tables/
  {shard}/<database>/t_local', '{replica}', version)``; the servers' macros fill in the
  shard and replica), so the replicas of a shard hold the same rows;
- ``t`` itself, a ``Distributed`` table over the ``t_local`` of every shard, sharded by
  office (``cityHash64(office_id)``; a table without an office, by its first sorting
  column). Every reader and writer of the platform uses ``t`` as on one server: a
  ReplacingMergeTree's copies of a row share their office, so they meet on one shard,
  where FINAL and argMax see them all.

Views are created on every server as written (they read the Distributed tables); a
materialized view reads and writes the ``_local`` tables of its own server; ``ALTER`` and
``DROP`` act on both tables of a name on every server; an ``INSERT ... SELECT`` (a
migration's backfill) runs once, through the Distributed tables.

:func:`plan` is pure: it turns a statement into ``(scope, sql)`` pairs, ``scope``
``"each"`` (run on every server), ``"shard"`` (on the first replica of each shard: an
ALTER of a replicated table, which its other replicas then apply) or ``"once"`` (on one
server, through the Distributed tables). warehouse/migrate.py runs them.
"""

from __future__ import annotations

import re
from typing import Literal

from hailong.errors import MigrationError

Scope = Literal["each", "shard", "once"]
LOCAL = "_local"

_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\s*\(", re.I)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w+)(\s*\(([^()]*)\))?", re.I)
_ORDER_BY = re.compile(r"\bORDER\s+BY\s+(\(?)\s*([\w]+)", re.I)
_MATERIALIZED = re.compile(
    r"CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(\w+)\s+TO\s+(\w+)\s+AS\s+(.*)$",
    re.I | re.S,
)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.I)
_ALTER = re.compile(r"ALTER\s+TABLE\s+(\w+)\s+(.*)$", re.I | re.S)
_DROP = re.compile(r"DROP\s+TABLE\s+IF\s+EXISTS\s+(\w+)\s*$", re.I)
_CREATE_VIEW = re.compile(r"CREATE\s+VIEW\s+", re.I)
_INSERT = re.compile(r"INSERT\s+INTO\s+", re.I)
_ENGINES = ("MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree")


def plan(statement: str, cluster: str, database: str) -> list[tuple[Scope, str]]:
    """What ``statement`` (one of a migration's) becomes on ``cluster``."""
    text = statement.strip()
    if _CREATE_TABLE.match(text):
        return _table(text, cluster, database)
    m = _MATERIALIZED.match(text)
    if m:
        name, target, select = m.groups()
        select = _FROM.sub(lambda f: f"FROM {f.group(1)}{LOCAL}", select)
        return [
            (
                "each",
                f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} TO {target}{LOCAL} AS {select}",
            )
        ]
    if _CREATE_VIEW.match(text):
        return [("each", text)]
    m = _ALTER.match(text)
    if m:
        name, rest = m.groups()
        # A replicated table's ALTER reaches its shard's other replicas by itself.
        return [
            ("shard", f"ALTER TABLE {name}{LOCAL} {rest}"),
            ("each", f"ALTER TABLE {name} {rest}"),
        ]
    m = _DROP.match(text)
    if m:
        name = m.group(1)
        return [
            ("each", f"DROP TABLE IF EXISTS {name}"),
            ("each", f"DROP TABLE IF EXISTS {name}{LOCAL}"),
        ]
    if _INSERT.match(text):
        return [("once", text)]
    raise MigrationError(f"no clustered form for the statement: {text[:80]}...")


def _table(text: str, cluster: str, database: str) -> list[tuple[Scope, str]]:
    head = _CREATE_TABLE.match(text)
    assert head is not None
    name = head.group(1)
    engine = _ENGINE.search(text)
    if engine is None or engine.group(1) not in _ENGINES:
        raise MigrationError(f"{name}: no clustered form for its engine")
    kind, args = engine.group(1), (engine.group(3) or "").strip()
    path = "'/clickhouse/tables/{shard}/" + f"{database}/{name}{LOCAL}'"
    replicated_args = ", ".join(a for a in (path, "'{replica}'", args) if a)
    local = (
        text[: head.start(1)]
        + f"{name}{LOCAL}"
        + text[head.end(1) : engine.start()]
        + f"ENGINE = Replicated{kind}({replicated_args})"
        + text[engine.end() :]
    )
    columns = text[head.end() : engine.start()]
    if re.search(r"(^|[\s(,])office_id\s+String\b", columns):
        key = "cityHash64(office_id)"
    else:
        order = _ORDER_BY.search(text, engine.end())
        if order is None:
            raise MigrationError(f"{name}: neither an office_id nor a sorting column to shard by")
        key = f"cityHash64({order.group(2)})"
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {name} AS {name}{LOCAL} "
        f"ENGINE = Distributed({cluster}, {database}, {name}{LOCAL}, {key})"
    )
    return [("each", local), ("each", distributed)]

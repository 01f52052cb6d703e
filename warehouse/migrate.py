"""Versioned, idempotent schema migrations (``hailong migrate``).

Migrations are the files ``warehouse/migrations/NNNN_name.sql``, applied in order.
Each applied file is recorded in ``schema_migrations`` with its checksum; applying
again skips it, and an applied file that was edited since is an error (write a new
migration instead). Every statement is itself idempotent (``IF NOT EXISTS``), so a run
interrupted half-way is simply run again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources

from hailong.errors import MigrationError
from hailong.methodology import Weights
from hailong.settings import Settings
from warehouse.client import Warehouse, create_database
from warehouse.clustered import plan
from warehouse.device_health import record_silent_minutes

_NAME_RE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def statements(self) -> Iterator[str]:
        """The file's statements: split on ';' at a line end, comments removed."""
        lines = [line.split("--", 1)[0].rstrip() for line in self.text.splitlines()]
        for chunk in "\n".join(lines).split(";\n"):
            statement = chunk.strip().rstrip(";").strip()
            if statement:
                yield statement


def migrations() -> list[Migration]:
    """All migration files shipped with the package, in version order."""
    found = []
    for entry in (resources.files("warehouse") / "migrations").iterdir():
        m = _NAME_RE.fullmatch(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


def cluster_nodes(
    wh: Warehouse, cluster: str, first_replicas: bool = False
) -> list[tuple[str, int]]:
    """Every server of ``cluster`` (host, native port), as the server ``wh`` is on
    knows them from its ``remote_servers``; or the first replica of each shard."""
    rows = wh.execute(
        "SELECT host_address, port, replica_num FROM system.clusters WHERE cluster = %(c)s "
        "ORDER BY shard_num, replica_num",
        {"c": cluster},
    )
    if not rows:
        raise MigrationError(f"the server knows no ClickHouse cluster named {cluster!r}")
    return [
        (str(host), int(port)) for host, port, replica in rows if replica == 1 or not first_replicas
    ]


def run_clustered(wh: Warehouse, statements: Iterable[str]) -> None:
    """Run ``statements`` (a migration's, or the private tables') on ``wh``'s cluster:
    each in its clustered form (warehouse/clustered.py) on every server, or once."""
    cluster = wh.settings.ch_cluster
    assert cluster is not None
    firsts = set(cluster_nodes(wh, cluster, first_replicas=True))
    nodes = {n: Warehouse(wh.settings, wh.database, node=n) for n in cluster_nodes(wh, cluster)}
    targets = {
        "each": list(nodes.values()),
        "shard": [server for n, server in nodes.items() if n in firsts],
        "once": [wh],
    }
    try:
        for statement in statements:
            for scope, sql in plan(statement, cluster, wh.database):
                for target in targets[scope]:
                    target.execute(sql)
    finally:
        for server in nodes.values():
            server.close()


def migrate(wh: Warehouse, progress: Callable[[str], None] = print) -> list[str]:
    """Apply pending migrations; return the names applied.

    On a cluster (``settings.ch_cluster``) each server keeps its own ledger, and a
    migration is applied until every server has it."""
    if wh.settings.ch_cluster is not None:
        return _migrate_cluster(wh, progress)
    wh.execute(LEDGER_DDL)
    applied = {v: c for v, c in wh.execute("SELECT version, checksum FROM schema_migrations")}
    done = []
    for mig in migrations():
        if mig.version in applied:
            if applied[mig.version] != mig.checksum:
                raise _edited(mig)
            continue
        progress(f"migrate: applying {mig.name}")
        for statement in mig.statements():
            wh.execute(statement)
        _record(wh, mig)
        done.append(mig.name)
    if not done:
        progress(f"migrate: {wh.database} is up to date")
    return done


def _migrate_cluster(wh: Warehouse, progress: Callable[[str], None]) -> list[str]:
    cluster = wh.settings.ch_cluster
    assert cluster is not None
    nodes = cluster_nodes(wh, cluster)
    ledgers = []
    for node in nodes:
        with Warehouse(wh.settings, wh.database, node=node) as server:
            server.execute(LEDGER_DDL)
            ledgers.append(dict(server.execute("SELECT version, checksum FROM schema_migrations")))
    done = []
    for mig in migrations():
        found = [ledger.get(mig.version) for ledger in ledgers]
        if any(c is not None and c != mig.checksum for c in found):
            raise _edited(mig)
        if all(c is not None for c in found):
            continue
        progress(f"migrate: applying {mig.name} on the {len(nodes)} servers of {cluster}")
        run_clustered(wh, mig.statements())
        for node, checksum in zip(nodes, found, strict=True):
            if checksum is None:
                with Warehouse(wh.settings, wh.database, node=node) as server:
                    _record(server, mig)
        done.append(mig.name)
    if not done:
        progress(f"migrate: {wh.database} is up to date on the {len(nodes)} servers of {cluster}")
    return done


def _record(wh: Warehouse, mig: Migration) -> None:
    """Write ``mig`` into the ledger of the server ``wh`` is on."""
    wh.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
        "SELECT %(v)s, %(n)s, %(c)s, now()",
        {"v": mig.version, "n": mig.name, "c": mig.checksum},
    )


def _edited(mig: Migration) -> MigrationError:
    return MigrationError(
        f"{mig.name} was edited after it was applied; add a new migration instead"
    )


def record_weights(wh: Warehouse, weights: Weights) -> bool:
    """Record the OSI weights in force (read by the view office_index_current) when they
    differ from the last recorded; return whether a row was written."""
    last = wh.execute(
        "SELECT qr, kiosk, camera FROM index_weights ORDER BY valid_from DESC LIMIT 1"
    )
    now = (weights.qr, weights.kiosk, weights.camera)
    if last and tuple(last[0]) == now:
        return False
    wh.execute(
        "INSERT INTO index_weights (valid_from, qr, kiosk, camera) "
        "SELECT now(), %(qr)s, %(kiosk)s, %(camera)s",
        {"qr": weights.qr, "kiosk": weights.kiosk, "camera": weights.camera},
    )
    return True


def prepare(settings: Settings, progress: Callable[[str], None] = print) -> None:
    """Database, schema and the weights in force: everything a worker needs (idempotent)."""
    from warehouse.private import prepare_private

    create_database(settings)
    prepare_private(settings)
    with Warehouse(settings) as wh:
        migrate(wh, progress)
        if record_weights(wh, settings.weights):
            progress(f"weights: recorded {settings.weights}")
        if record_silent_minutes(wh, settings.device_silent_minutes):
            progress(
                f"device health: silent after {settings.device_silent_minutes} minutes "
                "of office hours"
            )

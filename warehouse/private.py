"""The private database (``<database>_private``): the dashboard's accounts, sessions,
failed logins and API tokens (``pipelines/web/store.py`` reads and writes them), and
which monthly report went to which address (``pipelines/delivery.py``).

Not in the platform's database: city IT's account may read every table there on
ClickHouse 18.16 (warehouse/README.md, "Access"), and password hashes and token digests
are nobody's business but the platform's. The local stack's ``city_it`` user may read
only the platform's database, so it cannot read this one; on an existing server, give
city IT's account no access to ``<database>_private``.

Every table is a ReplacingMergeTree keyed by its natural key and versioned by the
change's time in µs (a change is a new row; the latest wins, read with FINAL), except
``login_failures``, which only grows, and ``report_deliveries`` (one row per report
and address, kept). ``hailong migrate`` creates them (idempotent).
"""

from __future__ import annotations

from hailong.settings import Settings
from warehouse.client import Warehouse

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS accounts (
        name String, role String, scope String, office_id String, email String,
        password_hash String, disabled UInt8, changed_by String, changed_at DateTime('UTC'),
        version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY name""",
    """CREATE TABLE IF NOT EXISTS sessions (
        digest String, name String, created_at DateTime('UTC'), expires_at DateTime('UTC'),
        revoked UInt8, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY digest""",
    """CREATE TABLE IF NOT EXISTS login_failures (
        name String, at DateTime('UTC')
    ) ENGINE = MergeTree ORDER BY (name, at)""",
    """CREATE TABLE IF NOT EXISTS report_deliveries (
        period String, input_checksum String, email String, unit_code String,
        sent_at DateTime('UTC')
    ) ENGINE = ReplacingMergeTree(sent_at) ORDER BY (period, input_checksum, email)""",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        digest String, label String, unit_code String, created_by String,
        created_at DateTime('UTC'), revoked UInt8, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY digest""",
)


def private_database(settings: Settings) -> str:
    return f"{settings.clickhouse_database}_private"


def prepare_private(settings: Settings) -> None:
    """Create the private database and its tables (idempotent)."""
    from warehouse.client import create_database
    from warehouse.migrate import run_clustered

    create_database(settings, private_database(settings))
    with Warehouse(settings, database=private_database(settings)) as wh:
        if settings.ch_cluster is not None:
            run_clustered(wh, SCHEMA)
            return
        for statement in SCHEMA:
            wh.execute(statement)

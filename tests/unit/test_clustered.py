"""The clustered form of the migrations' statements (warehouse/clustered.py)."""

from __future__ import annotations

import pytest

from hailong.errors import MigrationError
from warehouse.clustered import plan
from warehouse.migrate import migrations

RAW = """CREATE TABLE IF NOT EXISTS kiosk_ratings_raw
(
    event_id UUID,
    office_id String,
    occurred_at DateTime('UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (office_id, occurred_at, event_id)"""


def test_a_table_becomes_a_replicated_local_table_and_a_distributed_one_by_office() -> None:
    (s1, local), (s2, dist) = plan(RAW, "hailong", "city")
    assert (s1, s2) == ("each", "each")
    assert local.startswith("CREATE TABLE IF NOT EXISTS kiosk_ratings_raw_local\n(")
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/city/"
        "kiosk_ratings_raw_local', '{replica}', version)\nPARTITION BY toYYYYMM(occurred_at)"
        "\nORDER BY (office_id, occurred_at, event_id)"
    ) in local
    assert "event_id UUID," in local  # the columns as written
    assert dist == (
        "CREATE TABLE IF NOT EXISTS kiosk_ratings_raw AS kiosk_ratings_raw_local "
        "ENGINE = Distributed(hailong, city, kiosk_ratings_raw_local, cityHash64(office_id))"
    )


def test_a_table_without_an_office_is_sharded_by_its_first_sorting_column() -> None:
    text = (
        "CREATE TABLE IF NOT EXISTS claim_keys (key UInt64, channel String) "
        "ENGINE = MergeTree ORDER BY key SETTINGS index_granularity = 1024"
    )
    (_, local), (_, dist) = plan(text, "c", "d")
    assert (
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/d/claim_keys_local', "
        "'{replica}') ORDER BY key SETTINGS index_granularity = 1024"
    ) in local
    assert dist.endswith("Distributed(c, d, claim_keys_local, cityHash64(key))")
    # office_id only as part of another name does not count
    other = (
        "CREATE TABLE IF NOT EXISTS t (home_office_id String, n UInt8) "
        "ENGINE = MergeTree ORDER BY (n, home_office_id)"
    )
    assert plan(other, "c", "d")[1][1].endswith("cityHash64(n))")


def test_views_alters_drops_and_backfills() -> None:
    view = "CREATE VIEW IF NOT EXISTS units AS SELECT code FROM unit_versions"
    assert plan(view, "c", "d") == [("each", view)]
    mv = "CREATE MATERIALIZED VIEW IF NOT EXISTS ix_mv TO ix AS SELECT a, b FROM raw"
    assert plan(mv, "c", "d") == [
        (
            "each",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS ix_mv TO ix_local "
            "AS SELECT a, b FROM raw_local",
        )
    ]
    alter = "ALTER TABLE rankings ADD COLUMN c_n UInt64 AFTER q_n"
    assert plan(alter, "c", "d") == [
        ("shard", "ALTER TABLE rankings_local ADD COLUMN c_n UInt64 AFTER q_n"),
        ("each", "ALTER TABLE rankings ADD COLUMN c_n UInt64 AFTER q_n"),
    ]
    assert plan("DROP TABLE IF EXISTS units", "c", "d") == [
        ("each", "DROP TABLE IF EXISTS units"),
        ("each", "DROP TABLE IF EXISTS units_local"),
    ]
    insert = "INSERT INTO claim_keys SELECT 1"
    assert plan(insert, "c", "d") == [("once", insert)]


def test_what_has_no_clustered_form_is_refused_not_guessed() -> None:
    with pytest.raises(MigrationError, match="no clustered form"):
        plan("RENAME TABLE a TO b", "c", "d")
    with pytest.raises(MigrationError, match="engine"):
        plan("CREATE TABLE IF NOT EXISTS m (x UInt8) ENGINE = Memory", "c", "d")


def test_every_shipped_migration_has_a_clustered_form() -> None:
    for migration in migrations():
        for statement in migration.statements():
            steps = plan(statement, "hailong", "hailong")
            assert steps, (migration.name, statement[:60])
            for _scope, sql in steps:
                assert (
                    "Replicated" in sql
                    or "Distributed" in sql
                    or "_local" in sql
                    or (not sql.startswith("CREATE TABLE"))
                )


def test_a_query_refused_for_stale_replicas_is_sent_again_then_refused_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ALL_REPLICAS_ARE_STALE (369): nothing ran, so the client sends the statement
    again after each pause; other errors, and the last refusal, are raised."""
    from clickhouse_driver.errors import ServerException

    from hailong.errors import WarehouseError
    from hailong.settings import load_settings
    from warehouse import client

    pauses: list[float] = []
    monkeypatch.setattr(client.time, "sleep", pauses.append)
    wh = client.Warehouse(load_settings())  # the driver connects on its first query
    stale = ServerException("Could not find enough connections to up-to-date replicas.", 369)
    calls: list[int] = []

    def refused_twice() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise stale
        return "rows"

    assert wh._call(refused_twice) == "rows"
    assert pauses == list(client.STALE_PAUSES_S[:2])

    pauses.clear()
    with pytest.raises(WarehouseError, match=r"\[ClickHouse 369\].*still so after 5\.7 s"):
        wh._call(lambda: (_ for _ in ()).throw(stale))
    assert pauses == list(client.STALE_PAUSES_S)

    pauses.clear()
    with pytest.raises(WarehouseError, match=r"\[ClickHouse 60\]"):
        wh._call(lambda: (_ for _ in ()).throw(ServerException("no such table", 60)))
    assert pauses == []  # other errors are the caller's to handle, at once

"""The ClickHouse accounts of the local stack: city IT reads the platform's database and
can do nothing else; there is no passwordless default user. And what the Debian 18.16
server cannot restrict (warehouse/README.md, "Access"): a view runs with its reader's
rights, so the city views cannot be opened without the platform's tables."""

from __future__ import annotations

import uuid

import pytest
from clickhouse_driver import Client

from hailong.errors import WarehouseError
from hailong.settings import Settings
from warehouse.client import Warehouse, create_database
from warehouse.migrate import migrate, prepare

pytestmark = pytest.mark.integration


def test_city_it_reads_and_only_reads_the_platform_database(stack: Settings) -> None:
    create_database(stack)
    with Warehouse(stack) as wh:
        migrate(wh, progress=lambda _m: None)
        wh.execute("CREATE DATABASE IF NOT EXISTS not_for_city_it")
        wh.execute("CREATE TABLE IF NOT EXISTS not_for_city_it.t (x UInt8) ENGINE = Memory")
    try:
        with Warehouse(stack, readonly=True) as ro:
            assert ro.execute("SELECT count() >= 0 FROM kiosk_hourly") == [(1,)]
            for statement, code in [
                ("INSERT INTO units (code) VALUES ('x')", 164),  # readonly
                ("CREATE TABLE t2 (x UInt8) ENGINE = Memory", 164),  # readonly
                ("DROP TABLE rankings", 164),  # readonly
                ("SELECT * FROM not_for_city_it.t", 291),  # other database
            ]:
                with pytest.raises(WarehouseError) as info:
                    ro.execute(statement)
                assert info.value.code == code, statement
    finally:
        with Warehouse(stack) as wh:
            wh.execute("DROP DATABASE IF EXISTS not_for_city_it")


CITY_VIEWS = (
    "office_index_current",
    "kiosk_ratings",
    "qr_surveys",
    "office_hourly",
    "dead_letter_summary",
    "ranking_monthly",
    "ranking_annual",
    "staff_scores_monthly",
    "units",
    "offices",
    "unit_lineage",
    "quarantined_events",
    "stale_rankings",
    "devices",
    "device_health",
)


def test_city_it_reads_every_city_view(stack: Settings) -> None:
    prepare(stack, progress=lambda _m: None)
    with Warehouse(stack, readonly=True) as ro:
        for view in CITY_VIEWS:
            assert ro.execute(f"SELECT count() >= 0 FROM {view}") == [(1,)], view


def test_on_18_16_a_view_runs_with_its_readers_rights(stack: Settings) -> None:
    """A view in the platform database over a table city_it may not read is refused to
    city_it: views of their own database could not read the platform's tables for it."""
    create_database(stack)
    probe = f"zz_probe_{uuid.uuid4().hex[:10]}"
    try:
        with Warehouse(stack) as wh:
            wh.execute("CREATE DATABASE IF NOT EXISTS not_for_city_it_views")
            wh.execute(
                "CREATE TABLE IF NOT EXISTS not_for_city_it_views.t (x UInt8) ENGINE = Memory"
            )
            wh.execute("INSERT INTO not_for_city_it_views.t (x) SELECT 1")
            wh.execute(f"CREATE VIEW {probe} AS SELECT x FROM not_for_city_it_views.t")
            assert wh.execute(f"SELECT x FROM {probe}") == [(1,)]  # the platform user can
        with Warehouse(stack, readonly=True) as ro:
            with pytest.raises(WarehouseError) as info:
                ro.execute(f"SELECT x FROM {probe}")
            assert info.value.code == 291
            assert "Access denied to database not_for_city_it_views" in str(info.value)
    finally:
        with Warehouse(stack) as wh:
            wh.execute(f"DROP TABLE IF EXISTS {probe}")
            wh.execute("DROP DATABASE IF EXISTS not_for_city_it_views")


def test_no_passwordless_default_user(stack: Settings) -> None:
    client = Client(host=stack.ch_host, port=stack.ch_port)
    with pytest.raises(Exception, match="default"):
        client.execute("SELECT 1")
    client.disconnect()


def test_the_cookbook_runs_as_city_it(stack: Settings) -> None:
    """Every SQL example of warehouse/README.md runs with the read-only account."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "warehouse" / "README.md").read_text("utf-8")
    queries = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(queries) >= 6
    prepare(stack, progress=lambda _m: None)
    with Warehouse(stack, readonly=True) as ro:
        for query in queries:
            ro.execute(query)  # raises WarehouseError if the example is broken


def test_city_it_cannot_lift_its_limits_nor_reach_out(stack: Settings) -> None:
    """readonly=1: no SET (so no limit can be lifted), no table functions (url())."""
    prepare(stack, progress=lambda _m: None)
    with Warehouse(stack, readonly=True) as ro:
        limits = dict(
            ro.execute(
                "SELECT name, value FROM system.settings WHERE name IN ('readonly', "
                "'max_memory_usage', 'max_execution_time', 'max_threads', "
                "'max_concurrent_queries_for_user')"
            )
        )
        assert limits == {
            "readonly": "1",
            "max_memory_usage": str(stack.city_it_max_memory_mb * 1_000_000),
            "max_execution_time": str(stack.city_it_max_execution_s),
            "max_threads": str(stack.city_it_max_threads),
            "max_concurrent_queries_for_user": str(stack.city_it_max_concurrent_queries),
        }
        for statement in (
            "SET max_memory_usage = 20000000000",
            "SET readonly = 0",
            "SELECT count() FROM kiosk_hourly SETTINGS max_threads = 64",
            f"SELECT * FROM url('http://127.0.0.1:{stack.clickhouse_http_port}/', CSV, 'x String')",
            "SELECT * FROM numbers(10)",
        ):
            with pytest.raises(WarehouseError) as info:
                ro.execute(statement)
            assert info.value.code == 164, (statement, str(info.value))  # READONLY


def test_a_runaway_city_it_query_is_stopped_by_its_memory_limit(stack: Settings) -> None:
    with Warehouse(stack, readonly=True) as ro:
        with pytest.raises(WarehouseError) as info:
            ro.execute(
                "SELECT groupArray(toString(number)) FROM "
                "(SELECT number FROM system.numbers LIMIT 400000000)"
            )
        assert info.value.code == 241, str(info.value)  # MEMORY_LIMIT_EXCEEDED
    with Warehouse(stack) as wh:  # the server is fine
        assert wh.execute("SELECT 1") == [(1,)]


def test_the_platform_answers_while_city_it_runs_64_heavy_queries(stack: Settings) -> None:
    """64 concurrent heavy queries of city_it: at most city_it_max_concurrent_queries run,
    the others are refused at once (code 202), and the platform's own queries answer
    all the while."""
    import threading
    import time

    heavy = (
        "SELECT sum(cityHash64(number)) FROM (SELECT number FROM system.numbers LIMIT 300000000)"
    )
    outcomes: list[str] = []
    lock = threading.Lock()

    def city_it_query() -> None:
        try:
            with Warehouse(stack, readonly=True) as ro:
                ro.execute(heavy)
            outcome = "ran"
        except WarehouseError as exc:
            outcome = f"refused {exc.code}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=city_it_query) for _ in range(64)]
    for t in threads:
        t.start()
    answers = []
    with Warehouse(stack) as wh:
        while any(t.is_alive() for t in threads):
            t0 = time.monotonic()
            assert wh.execute("SELECT count() FROM system.one") == [(1,)]
            answers.append(time.monotonic() - t0)
            time.sleep(0.2)
    for t in threads:
        t.join()
    assert len(outcomes) == 64
    assert outcomes.count("ran") <= stack.city_it_max_concurrent_queries * 4, outcomes
    assert outcomes.count("refused 202") >= 64 - stack.city_it_max_concurrent_queries * 4
    assert set(outcomes) <= {"ran", "refused 202"}, set(outcomes)
    assert len(answers) >= 3 and max(answers) < 10, answers

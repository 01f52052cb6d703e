"""A corner of the local stack of one's own: the contract's topics under a prefix of
its own (with the services' ACLs on them) and a migrated database, all removed when the
block ends. The suite's ``settings`` fixture (tests/conftest.py) and the benchmarks'
labs (bench/core.py, bench/figures/memory.py) each take one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hailong.settings import Settings, load_settings


def _quiet(_message: str) -> None:
    pass


@contextmanager
def scratch(database: str, **more: Any) -> Iterator[Settings]:
    """Settings named after their database ``database`` (e.g. ``test_1a2b``: topic
    prefix ``test.1a2b.``, consumer group ``test-1a2b``), ``more`` on top. Creates their
    topics and migrates their database; afterwards drops the database and its private
    twin, deletes every topic under the prefix and the prefix's ACLs."""
    from hailong.kafka import admin_client
    from infra.access import drop_topic_grants
    from infra.topics import ensure_topics
    from warehouse.client import drop_database
    from warehouse.migrate import prepare

    s = load_settings(
        clickhouse_database=database,
        topic_prefix=database.replace("_", ".") + ".",
        consumer_group=database.replace("_", "-"),
        **more,
    )
    ensure_topics(s, progress=_quiet)
    try:
        prepare(s, progress=_quiet)
        yield s
    finally:
        drop_database(s, s.clickhouse_database)
        drop_database(s, f"{s.clickhouse_database}_private")
        admin = admin_client(s)
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(s.topic_prefix)]
        if topics:
            for fut in admin.delete_topics(topics).values():
                fut.result()
        drop_topic_grants(s)

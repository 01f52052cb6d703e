"""ZooKeeper holds the replicated tables' state (their parts, their replication log):
whoever can change it can make a replica drop or fetch what it should not. On the
cluster profile the ClickHouse servers log in with a digest identity and create their
znodes with the ACL ``auth`` (infra/cluster.py), so another client of ZooKeeper, which
binds 127.0.0.1 only, can neither read nor change them.
"""

from __future__ import annotations

import stat
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import OPEN_ACL_UNSAFE

from hailong.settings import CLUSTER_ZOOKEEPER_PORT, Settings
from infra.cluster import ZOOKEEPER_USER
from tests.scratch import scratch
from warehouse.client import Warehouse

pytestmark = pytest.mark.cluster


def _client(**auth: Any) -> KazooClient:
    zk = KazooClient(hosts=f"127.0.0.1:{CLUSTER_ZOOKEEPER_PORT}", timeout=10, **auth)
    zk.start(timeout=15)
    return zk


def test_an_outsider_can_neither_read_nor_change_the_replication_state(
    cluster: Settings,
) -> None:
    key = cluster.stack_dir / "keys" / "zookeeper"
    name = f"test_{uuid.uuid4().hex[:10]}"
    with scratch(name, cluster=True) as s:
        table = f"/clickhouse/tables/1/{name}/kiosk_ratings_raw_local"
        insider = _client(auth_data=[("digest", f"{ZOOKEEPER_USER}:{key.read_text().strip()}")])
        outsider = _client()
        try:
            replicas = insider.get_children(f"{table}/replicas")
            assert len(replicas) == 2  # the path is the table's, with its two replicas
            acls, _stat = insider.get_acls(table)
            assert [(a.id.scheme, a.perms) for a in acls] == [("digest", 31)]  # ALL, to one id

            attempts: list[Callable[[], object]] = [
                lambda: outsider.get_children(table),
                lambda: outsider.get_acls(table),
                lambda: outsider.get(f"{table}/log"),
                lambda: outsider.set(f"{table}/replicas/{replicas[0]}/is_lost", b"1"),
                lambda: outsider.delete(f"{table}/replicas/{replicas[0]}", recursive=True),
                lambda: outsider.create(f"{table}/log/log-9999999999", b"forged"),
                lambda: outsider.set_acls(table, OPEN_ACL_UNSAFE),
            ]
            for attempt in attempts:
                with pytest.raises(NoAuthError):
                    attempt()
            assert insider.get_children(f"{table}/replicas") == replicas  # unchanged
        finally:
            insider.stop()
            outsider.stop()
        with Warehouse(s) as wh:  # and the servers still write and read the table
            assert wh.execute("SELECT count() FROM kiosk_ratings_raw") == [(0,)]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

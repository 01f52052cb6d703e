"""What a replicated ClickHouse exposes besides its native port, closed to outsiders on
the cluster profile (infra/cluster.py):

- ZooKeeper (127.0.0.1 only) holds the replicated tables' state: their parts and their
  replication log. Whoever can change it can make a replica drop or fetch what it
  should not. The servers log in with a digest identity and create their znodes with
  the ACL ``auth``, so another client can neither read nor change them.
- The replication port serves any part of any table to whoever asks for it by name.
  The replicas fetch with ``interserver_http_credentials``; a request without them,
  or with others, is refused.
"""

from __future__ import annotations

import base64
import stat
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import OPEN_ACL_UNSAFE

from hailong.settings import CLUSTER_ZOOKEEPER_PORT, Settings, cluster_clickhouse_ports
from infra.cluster import INTERSERVER_USER, ZOOKEEPER_USER
from tests.scratch import scratch
from warehouse.client import Warehouse
from warehouse.registry import load_hanoi

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def database(cluster: Settings) -> Iterator[Settings]:
    """A migrated database on the cluster with Hanoi's registry in it (parts on both
    shards)."""
    with scratch(f"test_{uuid.uuid4().hex[:10]}", cluster=True) as s:
        with Warehouse(s) as wh:
            load_hanoi(wh)
        yield s


def _zookeeper(**auth: Any) -> KazooClient:
    zk = KazooClient(hosts=f"127.0.0.1:{CLUSTER_ZOOKEEPER_PORT}", timeout=10, **auth)
    zk.start(timeout=15)
    return zk


def test_an_outsider_can_neither_read_nor_change_the_replication_state(
    database: Settings,
) -> None:
    key = database.stack_dir / "keys" / "zookeeper"
    table = f"/clickhouse/tables/1/{database.clickhouse_database}/kiosk_ratings_raw_local"
    insider = _zookeeper(auth_data=[("digest", f"{ZOOKEEPER_USER}:{key.read_text().strip()}")])
    outsider = _zookeeper()
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
    with Warehouse(database) as wh:  # and the servers still write and read the table
        assert wh.execute("SELECT count() FROM kiosk_ratings_raw") == [(0,)]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_the_replication_port_serves_parts_to_the_replicas_only(database: Settings) -> None:
    port = cluster_clickhouse_ports()[0]  # shard 1, replica 1
    with Warehouse(database, node=("127.0.0.1", port)) as server:
        [(table, part)] = server.execute(  # a part of the registry on this replica
            "SELECT table, name FROM system.parts WHERE database = %(d)s AND active "
            "ORDER BY table, name LIMIT 1",
            {"d": database.clickhouse_database},
        )
        [(path,)] = server.execute(
            "SELECT replica_path FROM system.replicas WHERE database = %(d)s AND table = %(t)s",
            {"d": database.clickhouse_database, "t": table},
        )
    query = urllib.parse.urlencode({"endpoint": f"DataPartsExchange:{path}", "part": part})
    url = f"http://127.0.0.1:{port + 2}/?{query}&compress=false"
    key = (database.stack_dir / "keys" / "interserver").read_text().strip()

    def fetch(user: str | None, password: str = "") -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=b"", method="POST")  # as a replica does
        if user is not None:
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {basic}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read()

    status, body = fetch(INTERSERVER_USER, key)
    assert status == 200 and len(body) > 100  # a replica gets the part's files
    for user, password in [(None, ""), (INTERSERVER_USER, "guess"), ("default", "")]:
        status, body = fetch(user, password)
        assert status == 401, (user, status, body[:200])

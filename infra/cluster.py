"""The local stack's cluster profile: three Kafka brokers, ZooKeeper, ClickHouse as 2
shards x 2 replicas, all on this machine (``hailong stack start --cluster``, or
``HAILONG_CLUSTER=1`` for every command).

- **Kafka**: nodes 1-3, each a broker and a controller (KRaft, static voters), with the
  single node's template (``infra/kafka/server.properties.template``) and its accounts,
  ACLs and TLS files; replication factor 3, ``min.insync.replicas`` 2. Node i listens
  on 19200 + 10 i (client), +1 (controller), +2 (its own listener).
- **ZooKeeper** 3.9 (jars from Maven Central, ``infra/zookeeper/pom.xml``), one server on
  127.0.0.1:19400: the replicated tables' coordination. The ClickHouse servers log in
  with a digest identity (``ZOOKEEPER_USER`` and the stack's secret) and create every
  znode with the ACL ``auth``: no other client reads or changes them.
- **ClickHouse**: four servers of Debian's ``clickhouse-server``, with the single node's
  config template plus the cluster's part (:func:`cluster_xml`): the cluster ``hailong``
  in ``remote_servers`` (2 shards of 2 replicas, internal replication), ZooKeeper, and
  each server's macros ``{shard}`` and ``{replica}``, which the clustered migrations'
  Replicated*MergeTree engines use (warehouse/migrate.py). Server j (shard j // 2 + 1)
  listens on 19300 + 10 j (native), +1 (HTTP), +2 (replication: the replicas fetch
  parts there with ``interserver_http_credentials``, ``INTERSERVER_USER`` and the
  stack's secret; anyone else is refused).

Each service's data is under ``<stack_dir>/cluster/``; the single node's stays where it
is, so both profiles keep their data side by side (not both running at once).
"""

from __future__ import annotations

import socket
from pathlib import Path
from xml.sax.saxutils import escape

from hailong.settings import (
    CLUSTER_CLICKHOUSE_BASE_PORT,
    CLUSTER_CLICKHOUSE_REPLICAS,
    CLUSTER_CLICKHOUSE_SHARDS,
    CLUSTER_KAFKA_BASE_PORT,
    CLUSTER_KAFKA_NODES,
    CLUSTER_ZOOKEEPER_PORT,
    LOCAL_CLUSTER_NAME,
    Settings,
)
from infra.stack import INFRA_DIR, ClickHouse, Kafka, Progress, _LocalService, maven_jars

# The ClickHouse servers' ZooKeeper identity (digest scheme); its password is the
# stack's secret <stack_dir>/keys/zookeeper.
ZOOKEEPER_USER = "clickhouse"
# The user the replicas fetch parts from each other as (HTTP basic authentication on
# the replication port); its password is the stack's secret <stack_dir>/keys/interserver.
INTERSERVER_USER = "replica"


def cluster_home(settings: Settings) -> Path:
    return settings.stack_dir / "cluster"


class ZooKeeper(_LocalService):
    """One ZooKeeper server on 127.0.0.1 (the replicated ClickHouse's coordination)."""

    name = "zookeeper"

    def folder(self, settings: Settings) -> Path:
        return cluster_home(settings) / "zookeeper"

    @property
    def libs(self) -> Path:
        return self.settings.stack_dir / "zookeeper" / "libs"

    @property
    def external(self) -> bool:
        return not self.settings.local_clickhouse

    @property
    def main_log(self) -> Path:
        return self.log_dir / "zookeeper.log"

    def install(self, progress: Progress = print) -> None:
        maven_jars(INFRA_DIR / "zookeeper" / "pom.xml", self.libs, self.name, progress)

    def _command(self) -> list[str]:
        return [
            *Kafka.java_prefix(self.libs, 256),
            f"-Dzookeeper.log.dir={self.log_dir}",
            f"-Dlogback.configurationFile={INFRA_DIR / 'zookeeper' / 'logback.xml'}",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.home / "zoo.cfg"),
        ]

    def _prepare(self, progress: Progress) -> None:
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        (self.home / "zoo.cfg").write_text(
            "# Written by infra/cluster.py on every start.\n"
            "tickTime=2000\n"
            "initLimit=10\n"
            "syncLimit=5\n"
            f"dataDir={data}\n"
            f"clientPort={CLUSTER_ZOOKEEPER_PORT}\n"
            "clientPortAddress=127.0.0.1\n"
            "maxClientCnxns=200\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=srvr\n"
            "autopurge.snapRetainCount=3\n"
            "autopurge.purgeInterval=1\n"
        )

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", CLUSTER_ZOOKEEPER_PORT), 2) as conn:
                conn.sendall(b"srvr")  # "Mode: standalone" once it serves requests
                return b"Mode:" in conn.recv(4096)
        except OSError:
            return False


class KafkaNode(Kafka):
    """Broker and controller ``node_id`` (1-3) of the cluster profile."""

    def __init__(self, settings: Settings, node_id: int) -> None:
        self.node_id = node_id
        port = CLUSTER_KAFKA_BASE_PORT + 10 * node_id
        super().__init__(
            settings.model_copy(
                update={
                    "kafka_port": port,
                    "kafka_controller_port": port + 1,
                    "kafka_internal_port": port + 2,
                }
            )
        )
        self.name = f"kafka{node_id}"

    def folder(self, settings: Settings) -> Path:
        return cluster_home(settings) / f"kafka{self.node_id}"

    def stop(self, progress: Progress = print, timeout: float = 20.0) -> None:
        """As any service, but killed after 20 s, not 60: when the whole cluster stops
        (its nodes together, Stack.stop), the node that was the active controller can
        keep its broker half waiting for a controller that is gone. Its log is
        recovered on the next start; nothing it acknowledged is lost (the page cache
        outlives the process)."""
        super().stop(progress, timeout)

    @property
    def libs(self) -> Path:
        return self.settings.kafka_dir / "libs"

    def _topology(self) -> dict[str, str | int]:
        voters = ",".join(
            f"{i}@127.0.0.1:{CLUSTER_KAFKA_BASE_PORT + 10 * i + 1}"
            for i in range(1, CLUSTER_KAFKA_NODES + 1)
        )
        return {
            "node_id": self.node_id,
            "quorum": f"controller.quorum.voters={voters}",
            "replicas": CLUSTER_KAFKA_NODES,
            "min_isr": CLUSTER_KAFKA_NODES - 1,
        }

    def _format_options(self) -> list[str]:
        from infra.stack import _kafka_cluster_id

        # One cluster id for the three nodes, chosen by the first to be formatted.
        path = cluster_home(self.settings) / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_kafka_cluster_id())
        return ["-t", path.read_text().strip()]


class ClickHouseNode(ClickHouse):
    """Replica ``replica`` (1-2) of shard ``shard`` (1-2) of the cluster profile."""

    def __init__(self, settings: Settings, shard: int, replica: int) -> None:
        self.shard = shard
        self.replica = replica
        self.index = (shard - 1) * CLUSTER_CLICKHOUSE_REPLICAS + (replica - 1)
        port = CLUSTER_CLICKHOUSE_BASE_PORT + 10 * self.index
        self.port = port
        super().__init__(
            settings.model_copy(
                update={
                    "clickhouse_local_port": port,
                    "clickhouse_http_port": port + 1,
                    "clickhouse_port": port,
                }
            )
        )
        self.name = f"clickhouse-s{shard}r{replica}"

    def folder(self, settings: Settings) -> Path:
        return cluster_home(settings) / f"clickhouse-s{self.shard}r{self.replica}"

    def _extra_config(self) -> str:
        return cluster_xml(self.settings, self.shard, self.name, self.port + 2)


def cluster_xml(settings: Settings, shard: int, replica_name: str, interserver_port: int) -> str:
    """The part of a cluster server's config.xml that the single node does not have."""
    user = escape(settings.clickhouse_user)
    password = escape(settings.clickhouse_password.get_secret_value())
    identity = escape(settings.stack_secret("zookeeper"))
    interserver = escape(settings.stack_secret("interserver"))
    shards = []
    for s in range(CLUSTER_CLICKHOUSE_SHARDS):
        replicas = "".join(
            f"<replica><host>127.0.0.1</host>"
            f"<port>{CLUSTER_CLICKHOUSE_BASE_PORT + 10 * (s * CLUSTER_CLICKHOUSE_REPLICAS + r)}"
            f"</port><user>{user}</user><password>{password}</password></replica>"
            for r in range(CLUSTER_CLICKHOUSE_REPLICAS)
        )
        shards.append(f"<shard><internal_replication>true</internal_replication>{replicas}</shard>")
    return f"""
    <!-- The cluster profile (infra/cluster.py): this server is replica {replica_name} of
         shard {shard} of the cluster {LOCAL_CLUSTER_NAME}. -->
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <!-- The replicas fetch parts from each other over HTTP with these credentials;
         a request without them is refused (401), so no other process reads the data
         there. The secret is the stack's, <stack_dir>/keys/interserver (0600). -->
    <interserver_http_credentials>
        <user>{INTERSERVER_USER}</user><password>{interserver}</password>
    </interserver_http_credentials>
    <macros><shard>{shard}</shard><replica>{replica_name}</replica></macros>
    <remote_servers><{LOCAL_CLUSTER_NAME}>{"".join(shards)}</{LOCAL_CLUSTER_NAME}></remote_servers>
    <zookeeper>
        <node><host>127.0.0.1</host><port>{CLUSTER_ZOOKEEPER_PORT}</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
        <!-- Digest authentication: every znode the servers create is theirs alone
             (ACL "auth"), so no other client can read or change the replication's
             state. The secret is the stack's, <stack_dir>/keys/zookeeper (0600). -->
        <identity>{ZOOKEEPER_USER}:{identity}</identity>
    </zookeeper>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
"""


def cluster_services(settings: Settings) -> list[list[_LocalService]]:
    """The cluster profile's services, in start order; each inner list is started
    together (a quorum of Kafka controllers must run before any broker answers)."""
    return [
        [ZooKeeper(settings)],
        [KafkaNode(settings, i) for i in range(1, CLUSTER_KAFKA_NODES + 1)],
        [
            ClickHouseNode(settings, shard, replica)
            for shard in range(1, CLUSTER_CLICKHOUSE_SHARDS + 1)
            for replica in range(1, CLUSTER_CLICKHOUSE_REPLICAS + 1)
        ],
    ]

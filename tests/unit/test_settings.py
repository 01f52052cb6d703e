"""Settings that refuse to run unsafely."""
# ruff: noqa: S105, S106 - made-up passwords are what these tests are about

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from hailong.errors import ConfigError
from hailong.settings import load_settings


def test_default_clickhouse_passwords_are_refused_for_a_server_elsewhere() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(clickhouse_host="ch.example.internal")
    text = str(info.value)
    assert "HAILONG_CLICKHOUSE_PASSWORD" in text and "HAILONG_CLICKHOUSE_READONLY_PASSWORD" in text
    with pytest.raises(ConfigError, match="HAILONG_CLICKHOUSE_READONLY_PASSWORD"):
        load_settings(clickhouse_host="10.0.0.5", clickhouse_password="s3cret-platform")
    ok = load_settings(
        clickhouse_host="10.0.0.5",
        clickhouse_password="a-long-secret",
        clickhouse_readonly_password="another-secret",
    )
    assert ok.ch_host == "10.0.0.5"


@pytest.mark.parametrize("host", [None, "127.0.0.1", "localhost", "::1"])
def test_default_passwords_are_fine_on_this_machine(host: str | None) -> None:
    assert load_settings(clickhouse_host=host).clickhouse_user == "hailong"


def test_a_child_process_gets_what_was_set() -> None:
    s = load_settings(
        late_horizon_days=0,
        quarantine_unregistered=False,
        clickhouse_password="pw",
        topic_prefix="x.",
    )
    env = s.environment()
    assert env["HAILONG_LATE_HORIZON_DAYS"] == "0.0"
    assert env["HAILONG_QUARANTINE_UNREGISTERED"] == "False"
    assert env["HAILONG_CLICKHOUSE_PASSWORD"] == "pw"
    again = load_settings(
        **{
            k.removeprefix("HAILONG_").lower(): v
            for k, v in env.items()
            if k.removeprefix("HAILONG_").lower() in s.model_fields_set
        }
    )
    assert (again.late_horizon_days, again.quarantine_unregistered, again.topic_prefix) == (
        0,
        False,
        "x.",
    )


def test_the_cluster_profile_points_every_client_at_its_nodes(tmp_path: Path) -> None:
    one = load_settings(stack_dir=tmp_path)
    assert (one.bootstrap_servers, one.ch_port, one.ch_alt_hosts, one.ch_cluster) == (
        "127.0.0.1:19092",
        19000,
        "",
        None,
    )
    many = load_settings(stack_dir=tmp_path, cluster=True)
    assert many.bootstrap_servers == "127.0.0.1:19210,127.0.0.1:19220,127.0.0.1:19230"
    assert many.ch_port == 19300
    assert many.ch_alt_hosts == "127.0.0.1:19310,127.0.0.1:19320,127.0.0.1:19330"
    assert many.ch_cluster == "hailong"
    # an existing cluster: its own name and servers, whatever the profile
    theirs = load_settings(
        stack_dir=tmp_path,
        clickhouse_host="127.0.0.1",
        clickhouse_cluster="city",
        clickhouse_alt_hosts="127.0.0.1:9001",
    )
    assert (theirs.ch_port, theirs.ch_alt_hosts, theirs.ch_cluster) == (
        9000,
        "127.0.0.1:9001",
        "city",
    )
    assert "HAILONG_CLUSTER" in many.environment()


def test_a_cluster_server_knows_its_shard_replica_peers_and_zookeeper(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from infra.cluster import cluster_xml

    s = load_settings(stack_dir=tmp_path, cluster=True, clickhouse_password=SecretStr("a<b&c"))
    text = cluster_xml(s, 2, "clickhouse-s2r1", 19322)  # our own output
    root = ET.fromstring(f"<yandex>{text}</yandex>")  # noqa: S314
    assert root.findtext("macros/shard") == "2"
    assert root.findtext("macros/replica") == "clickhouse-s2r1"
    assert root.findtext("interserver_http_port") == "19322"
    shards = root.findall("remote_servers/hailong/shard")
    assert [[r.findtext("port") for r in sh.findall("replica")] for sh in shards] == [
        ["19300", "19310"],
        ["19320", "19330"],
    ]
    assert {p.text for p in root.find("remote_servers").iter("password")} == {"a<b&c"}
    assert all(sh.findtext("internal_replication") == "true" for sh in shards)
    assert root.findtext("zookeeper/node/port") == "19400"
    # ZooKeeper and the replication port: the stack's own secrets (0600), one each
    zookeeper, interserver = (tmp_path / "keys" / n for n in ("zookeeper", "interserver"))
    assert root.findtext("zookeeper/identity") == f"clickhouse:{zookeeper.read_text()}"
    credentials = root.find("interserver_http_credentials")
    assert credentials.findtext("user") == "replica"
    assert credentials.findtext("password") == interserver.read_text()
    assert zookeeper.read_text() != interserver.read_text()
    assert {oct(k.stat().st_mode & 0o777) for k in (zookeeper, interserver)} == {"0o600"}

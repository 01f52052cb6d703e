"""The contract's topics exist with their partitions and retention (contract.md)."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import ConfigResource

from hailong.kafka import admin_client
from hailong.settings import Settings
from infra.topics import ensure_topics

pytestmark = pytest.mark.integration
DAY_MS = 86_400_000


def test_topics_have_contract_partitions_and_retention(settings: Settings) -> None:
    admin = admin_client(settings)
    t = settings.topics
    expected = {t.kiosk: (12, 30), t.qr: (12, 30), t.camera: (12, 7), t.deadletter: (3, 90)}
    assert t.kiosk == f"{settings.topic_prefix}satisfaction.kiosk.v1"
    meta = admin.list_topics(timeout=10).topics
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in expected]
    configs = {r.name: f.result() for r, f in admin.describe_configs(resources).items()}
    for name, (partitions, days) in expected.items():
        assert len(meta[name].partitions) == partitions, name
        assert int(configs[name]["retention.ms"].value) == days * DAY_MS, name
    said: list[str] = []
    ensure_topics(settings, said.append)  # again: nothing to create
    assert said[-1] == "topics: all present" and "ACLs" in said[0]

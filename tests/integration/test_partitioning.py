"""Every Hailong producer partitions as the Java client does (murmur2 of the key), so one
office's events share a partition whichever client a vendor uses."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import NewTopic

from hailong.kafka import ADMIN, SIMULATOR, admin_client, make_producer, producer_config
from hailong.settings import Settings
from tests.conftest import read_topic

pytestmark = pytest.mark.integration


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (org.apache.kafka.common.utils), unsigned."""
    m, length = 0x5BD1E995, len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * m) & 0xFFFFFFFF) ^ ((k * m) & 0xFFFFFFFF)
    tail, rest = length - length % 4, length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h = ((h ^ data[tail]) * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


def java_partition(key: bytes, partitions: int) -> int:
    """``BuiltInPartitioner.partitionForKey``: toPositive(murmur2(key)) % partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def test_murmur2_matches_kafkas_own_test_vectors() -> None:
    # Kafka's UtilsTest.testMurmur2, as signed Java ints.
    for data, want in (
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ):
        assert murmur2(data) == want & 0xFFFFFFFF


def test_hailong_producers_put_each_office_where_javas_client_would(settings: Settings) -> None:
    assert producer_config(settings, SIMULATOR)["partitioner"] == "murmur2_random"
    topic = f"{settings.topic_prefix}partitioning"
    admin = admin_client(settings)
    admin.create_topics([NewTopic(topic, 12, 1)])[topic].result()
    try:
        keys = [f"HN-{i:05d}".encode() for i in range(1, 127)] + [b"OA", b"vendor-x"]
        producer = make_producer(settings, ADMIN)  # a topic of the test's: no ACL for others
        for key in keys:
            producer.produce(topic, key=key, value=b"{}")
        assert producer.flush(30) == 0
        got = {m.key(): m.partition() for m in read_topic(settings, topic)}
        assert got == {k: java_partition(k, 12) for k in keys}
        assert len(set(got.values())) == 12  # the keys spread over every partition
    finally:
        admin.delete_topics([topic])[topic].result()

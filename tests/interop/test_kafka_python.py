"""kafka-python 3.x against klog-server.

kafka-python 3 opens with ApiVersions v4, is idempotent by default (so every
producer calls InitProducerId) and uses recent group APIs (JoinGroup v7,
OffsetFetch v8).  Set KLOG_TEST_KAFKA_PYTHON_DEBUG=1 for client debug logs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import uuid

import pytest

kafka = pytest.importorskip("kafka")
import kafka.errors  # noqa: E402
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.structs import OffsetAndMetadata  # noqa: E402

from helpers import wait_until  # noqa: E402

if os.environ.get("KLOG_TEST_KAFKA_PYTHON_DEBUG"):
    logging.basicConfig(level=logging.DEBUG)
    logging.getLogger("kafka").setLevel(logging.DEBUG)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


CODECS = [
    pytest.param(None, id="none"),
    pytest.param("gzip", id="gzip"),
    pytest.param("snappy", id="snappy",
                 marks=pytest.mark.skipif(not _has("snappy"), reason="python-snappy not installed")),
    pytest.param("lz4", id="lz4", marks=pytest.mark.skipif(not _has("lz4"), reason="lz4 not installed")),
    pytest.param("zstd", id="zstd",
                 marks=pytest.mark.skipif(not _has("zstandard"), reason="zstandard not installed")),
]


def make_producer(bootstrap, **kw) -> KafkaProducer:
    kw.setdefault("request_timeout_ms", 15000)
    kw.setdefault("linger_ms", 5)
    return KafkaProducer(bootstrap_servers=bootstrap, **kw)


def make_consumer(bootstrap, *topics, **kw) -> KafkaConsumer:
    kw.setdefault("auto_offset_reset", "earliest")
    kw.setdefault("enable_auto_commit", False)
    kw.setdefault("request_timeout_ms", 20000)
    kw.setdefault("fetch_max_wait_ms", 100)
    kw.setdefault("heartbeat_interval_ms", 500)
    kw.setdefault("session_timeout_ms", 10000)
    return KafkaConsumer(*topics, bootstrap_servers=bootstrap, **kw)


def drain(consumer, n, timeout=30, extra_wait=0.5):
    """Poll until ``n`` records (plus ``extra_wait`` seconds to catch duplicates)."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        for recs in consumer.poll(timeout_ms=200).values():
            out.extend(recs)
    end = time.monotonic() + extra_wait
    while time.monotonic() < end:
        for recs in consumer.poll(timeout_ms=100).values():
            out.extend(recs)
    out.sort(key=lambda r: (r.partition, r.offset))
    return out


def send_all(producer, topic, records, timeout=30):
    """records: iterable of dicts of send() kwargs; returns RecordMetadata in order."""
    futures = [producer.send(topic, **r) for r in records]
    producer.flush(timeout=timeout)
    return [f.get(timeout=timeout) for f in futures]


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_keys_headers(shared_server, topic_name, codec):
    bootstrap = shared_server.bootstrap
    base_ts = int(time.time() * 1000) - 5000
    records = []
    for i in range(200):
        headers = [("h", f"v{i}".encode())]
        if i % 2:
            headers.append(("h", b"dup"))  # duplicate header keys must survive
        records.append({
            "key": None if i % 9 == 0 else f"k{i % 17}".encode(),
            "value": f"value-{i}-".encode() + b"z" * (i % 64),
            "headers": headers,
            "timestamp_ms": base_ts + i,
        })
    p = make_producer(bootstrap, compression_type=codec)
    try:
        metas = send_all(p, topic_name, records)
    finally:
        p.close(timeout=10)
    assert [(m.partition, m.offset) for m in metas] == [(0, i) for i in range(len(records))]

    c = make_consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic_name, 0)])
        c.seek_to_beginning()
        got = drain(c, len(records))
    finally:
        c.close()
    assert [r.offset for r in got] == list(range(len(records)))
    for r, want in zip(got, records):
        assert r.key == want["key"]
        assert r.value == want["value"]
        assert list(r.headers) == want["headers"]
        assert r.timestamp == want["timestamp_ms"]
        assert r.timestamp_type == 0  # CreateTime


def test_group_commit_resume_after_crash(server, topic_name):
    """Acked records and committed offsets survive SIGKILL of the broker."""
    p = make_producer(server.bootstrap, acks="all")
    try:
        send_all(p, topic_name, [{"value": f"m{i}".encode()} for i in range(40)])
    finally:
        p.close(timeout=10)

    group = f"kp-{topic_name}"
    tp = TopicPartition(topic_name, 0)
    c = make_consumer(server.bootstrap, topic_name, group_id=group)
    try:
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 20 and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200, max_records=20 - len(got)).values():
                got.extend(recs)
        assert [r.offset for r in got] == list(range(20))
        c.commit({tp: OffsetAndMetadata(20, "", -1)})
        assert c.committed(tp) == 20
    finally:
        c.close()

    server.restart(crash=True)

    c = make_consumer(server.bootstrap, topic_name, group_id=group)
    try:
        assert c.committed(tp) == 20, "committed offset lost after a broker crash"
        rest = drain(c, 20, extra_wait=1.0)
        assert [r.offset for r in rest] == list(range(20, 40))
        assert [r.value for r in rest] == [f"m{i}".encode() for i in range(20, 40)]
        c.commit()
        assert c.committed(tp) == 40
    finally:
        c.close()


def test_group_splits_partitions(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics({topic_name: {"num_partitions": 2, "replication_factor": 1}},
                            wait_for_metadata=True)
    finally:
        admin.close()
    group = f"kp-split-{topic_name}"
    c1 = make_consumer(bootstrap, group_id=group)
    c2 = make_consumer(bootstrap, group_id=group)
    try:
        # kafka-python's group leader assigns from the metadata it has when the join
        # answer arrives and may not rejoin if that metadata lands just before its
        # snapshot: both members learn the topic's partitions before subscribing.
        for c in (c1, c2):
            wait_until(lambda: c.partitions_for_topic(topic_name) == {0, 1}, timeout=15,
                       what="the topic's partitions in the consumer's metadata")
            c.subscribe([topic_name])

        def settled():
            c1.poll(timeout_ms=50)
            c2.poll(timeout_ms=50)
            a1, a2 = c1.assignment(), c2.assignment()
            return (a1, a2) if len(a1) == 1 and len(a2) == 1 else None

        a1, a2 = wait_until(settled, timeout=40, interval=0, what="two members with one partition each")
        assert a1 | a2 == {TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)}
    finally:
        c1.close()
        c2.close()


def test_admin_create_delete_topics(shared_server, topic_name):
    admin = KafkaAdminClient(bootstrap_servers=shared_server.bootstrap, request_timeout_ms=15000)
    try:
        res = admin.create_topics(
            {topic_name: {"num_partitions": 3, "replication_factor": 1,
                          "configs": {"retention.ms": "86400000"}}},
            wait_for_metadata=True,
        )
        [t] = res["topics"]
        assert t["name"] == topic_name and t["error_code"] == 0
        assert topic_name in admin.list_topics()
        [desc] = admin.describe_topics([topic_name])
        assert desc["error_code"] == 0
        assert sorted(p["partition_index"] for p in desc["partitions"]) == [0, 1, 2]

        res = admin.create_topics({topic_name: {"num_partitions": 1, "replication_factor": 1}},
                                  raise_errors=False)
        assert res["topics"][0]["error_code"] == 36  # TOPIC_ALREADY_EXISTS

        admin.delete_topics([topic_name])
        wait_until(lambda: topic_name not in admin.list_topics(), timeout=15, what="topic deleted")
    finally:
        admin.close()


def test_offset_lookups(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    t0 = int(time.time() * 1000) - 60_000
    p = make_producer(bootstrap)
    try:
        metas = send_all(p, topic_name, [{"value": f"t{i}".encode(), "timestamp_ms": t0 + 1000 * i}
                                         for i in range(8)])
        metas += send_all(p, topic_name, [{"value": f"t{i}".encode(), "timestamp_ms": t0 + 1000 * i}
                                          for i in range(8, 12)])
    finally:
        p.close(timeout=10)
    assert [m.offset for m in metas] == list(range(12))

    tp = TopicPartition(topic_name, 0)
    c = make_consumer(bootstrap)
    try:
        assert c.beginning_offsets([tp]) == {tp: 0}
        assert c.end_offsets([tp]) == {tp: 12}
        found = c.offsets_for_times({tp: t0 + 4500})[tp]
        assert (found.offset, found.timestamp) == (5, t0 + 5000)
        found = c.offsets_for_times({tp: t0 + 8000})[tp]
        assert (found.offset, found.timestamp) == (8, t0 + 8000)
        assert c.offsets_for_times({tp: t0 + 999_999})[tp] is None
    finally:
        c.close()


def test_producer_ids_are_distinct(shared_server, topic_name):
    """Two idempotent producers writing the same partition get separate
    sequences: neither is treated as a duplicate of the other."""
    bootstrap = shared_server.bootstrap
    p1, p2 = make_producer(bootstrap), make_producer(bootstrap)
    try:
        for round_ in range(3):
            send_all(p1, topic_name, [{"value": f"a{round_}-{i}".encode()} for i in range(5)])
            send_all(p2, topic_name, [{"value": f"b{round_}-{i}".encode()} for i in range(5)])
    finally:
        p1.close(timeout=10)
        p2.close(timeout=10)
    c = make_consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic_name, 0)])
        got = drain(c, 30)
    finally:
        c.close()
    assert [r.offset for r in got] == list(range(30))
    expected = []
    for round_ in range(3):
        expected += [f"a{round_}-{i}".encode() for i in range(5)]
        expected += [f"b{round_}-{i}".encode() for i in range(5)]
    assert [r.value for r in got] == expected


def test_unique_group_ids_do_not_share_offsets(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap)
    try:
        send_all(p, topic_name, [{"value": b"x"} for _ in range(5)])
    finally:
        p.close(timeout=10)
    tp = TopicPartition(topic_name, 0)
    g1, g2 = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    c = make_consumer(bootstrap, group_id=g1)
    try:
        c.assign([tp])
        c.commit({tp: OffsetAndMetadata(3, "meta", -1)})
    finally:
        c.close()
    c = make_consumer(bootstrap, group_id=g2)
    try:
        assert c.committed(tp) is None
    finally:
        c.close()
    c = make_consumer(bootstrap, group_id=g1)
    try:
        meta = c.committed(tp, metadata=True)
        assert (meta.offset, meta.metadata) == (3, "meta")
    finally:
        c.close()


def test_admin_delete_group_offsets(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics({topic_name: {"num_partitions": 2, "replication_factor": 1}}, wait_for_metadata=True)
        group = f"od-{uuid.uuid4().hex[:6]}"
        tp0, tp1 = TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)
        c = make_consumer(bootstrap, group_id=group)
        try:
            c.assign([tp0, tp1])
            c.commit({tp0: OffsetAndMetadata(0, "", -1), tp1: OffsetAndMetadata(0, "", -1)})
        finally:
            c.close()
        listed = admin.list_group_offsets({group: None})[group]
        assert {tp: om.offset for tp, om in listed.items()} == {tp0: 0, tp1: 0}
        res = admin.delete_group_offsets(group, [tp0])
        assert res == {tp0: kafka.errors.NoError}
        c = make_consumer(bootstrap, group_id=group)
        try:
            assert c.committed(tp0) is None
            assert c.committed(tp1) == 0
        finally:
            c.close()
    finally:
        admin.close()

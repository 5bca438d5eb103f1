"""confluent-kafka (Python, bundled librdkafka 2.x) against klog-server.

librdkafka uses high API versions (Produce v10, Fetch v16, Metadata v12+,
ListOffsets v7, flexible group APIs), so these tests cover the top of what
the broker advertises.  Set KLOG_TEST_RDKAFKA_DEBUG=protocol,broker,cgrp (any
librdkafka ``debug`` value) to get client debug logs on stderr.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # noqa: E402
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
)

from helpers import wait_until  # noqa: E402

DEBUG = os.environ.get("KLOG_TEST_RDKAFKA_DEBUG")


def _conf(bootstrap, extra):
    conf = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000}
    if DEBUG:
        conf["debug"] = DEBUG
    conf.update(extra)
    return conf


def make_producer(bootstrap, **extra) -> Producer:
    return Producer(_conf(bootstrap, {"linger.ms": 5, **extra}))


def make_consumer(bootstrap, group=None, **extra) -> Consumer:
    conf = {
        "group.id": group or f"g-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 100,
    }
    conf.update(extra)
    return Consumer(_conf(bootstrap, conf))


def make_admin(bootstrap) -> AdminClient:
    return AdminClient(_conf(bootstrap, {}))


def create_topic(bootstrap, name, partitions=1, config=None):
    admin = make_admin(bootstrap)
    fut = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=10,
        request_timeout=15,
    )[name]
    fut.result(timeout=20)
    # Metadata must show the topic with all partitions led by the broker.
    wait_until(
        lambda: _partition_count(admin, name) == partitions,
        timeout=10,
        what=f"topic {name} with {partitions} partitions in metadata",
    )
    return admin


def _partition_count(admin, name):
    md = admin.list_topics(topic=name, timeout=10)
    t = md.topics.get(name)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


class Delivery:
    """Delivery-report collector."""

    def __init__(self):
        self.ok = []  # (partition, offset, key, value) in callback order
        self.errors = []

    def __call__(self, err, msg):
        if err is not None:
            self.errors.append((err, msg.key(), msg.value()))
        else:
            self.ok.append((msg.partition(), msg.offset(), msg.key(), msg.value()))


def flush(producer, timeout=60):
    left = producer.flush(timeout)
    assert left == 0, f"{left} messages not delivered within {timeout}s"


def snapshot(m):
    return {
        "partition": m.partition(),
        "offset": m.offset(),
        "key": m.key(),
        "value": m.value(),
        "headers": m.headers() or [],
        "timestamp": m.timestamp(),
    }


def consume_n(consumer, n, timeout=30, extra_wait=0.0):
    """Poll until ``n`` messages arrived (then keep polling ``extra_wait`` seconds
    to catch duplicates); returns snapshots.  Fails on fatal errors."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        m = consumer.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().fatal():
                raise KafkaException(m.error())
            continue
        out.append(snapshot(m))
    end = time.monotonic() + extra_wait
    while time.monotonic() < end:
        m = consumer.poll(0.1)
        if m is not None and not m.error():
            out.append(snapshot(m))
    return out


def read_partition(bootstrap, topic, partition, n, start=OFFSET_BEGINNING, timeout=30, **extra):
    c = make_consumer(bootstrap, **extra)
    try:
        c.assign([TopicPartition(topic, partition, start)])
        return consume_n(c, n, timeout=timeout, extra_wait=0.3)
    finally:
        c.close()


# ---------------------------------------------------------------------------
# produce / consume


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_round_trip_every_codec(shared_server, topic_name, codec):
    bootstrap = shared_server.bootstrap
    base_ts = int(time.time() * 1000) - 10_000
    records = []
    for i in range(300):
        key = None if i % 7 == 0 else f"key-{i % 13}".encode()
        value = None if i % 11 == 0 else (f"value-{i}-" + "abc" * (i % 50)).encode()
        headers = []
        if i % 3 == 0:
            headers = [("dup", b"first"), ("dup", b"second"), ("n", str(i).encode())]
        elif i % 3 == 1:
            headers = [("empty", b""), ("null", None)]
        records.append((key, value, headers, base_ts + i))

    p = make_producer(bootstrap, **{"compression.type": codec, "linger.ms": 50})
    dr = Delivery()
    for key, value, headers, ts in records:
        p.produce(topic_name, key=key, value=value, headers=headers or None, timestamp=ts, on_delivery=dr)
        p.poll(0)
    flush(p)
    assert dr.errors == []
    assert [(part, off) for part, off, _, _ in dr.ok] == [(0, i) for i in range(len(records))]

    got = read_partition(bootstrap, topic_name, 0, len(records))
    assert len(got) == len(records)
    for i, (m, (key, value, headers, ts)) in enumerate(zip(got, records)):
        assert m["offset"] == i
        assert m["key"] == key, i
        assert m["value"] == value, i
        assert m["headers"] == headers, i
        assert m["timestamp"] == (TIMESTAMP_CREATE_TIME, ts), i


def test_large_value(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    create_topic(bootstrap, topic_name, config={"max.message.bytes": str(4 * 1024 * 1024)})
    big = os.urandom(1024 * 1024)
    p = make_producer(bootstrap, **{"message.max.bytes": 4 * 1024 * 1024})
    dr = Delivery()
    p.produce(topic_name, key=b"small", value=b"before", on_delivery=dr)
    p.produce(topic_name, key=b"big", value=big, on_delivery=dr)
    p.produce(topic_name, key=b"small", value=b"after", on_delivery=dr)
    flush(p)
    assert dr.errors == []
    assert sorted(off for _, off, _, _ in dr.ok) == [0, 1, 2]

    # Default max.partition.fetch.bytes is 1 MiB: the broker must still return
    # the oversized batch (KIP-74) or the consumer is stuck forever.
    got = read_partition(bootstrap, topic_name, 0, 3)
    assert [(m["offset"], m["key"]) for m in got] == [(0, b"small"), (1, b"big"), (2, b"small")]
    assert got[1]["value"] == big
    assert got[2]["value"] == b"after"


def test_idempotent_producer_10k(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    n = 10_000
    p = make_producer(bootstrap, **{"enable.idempotence": True, "linger.ms": 5, "acks": "all"})
    dr = Delivery()
    for i in range(n):
        while True:
            try:
                p.produce(topic_name, key=str(i % 100).encode(), value=str(i).encode(), on_delivery=dr)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    flush(p)
    assert dr.errors == []
    offsets = [off for _, off, _, _ in dr.ok]
    assert offsets == list(range(n)), "delivery offsets are not 0..n-1 in produce order"
    assert [v for _, _, _, v in dr.ok] == [str(i).encode() for i in range(n)]

    got = read_partition(bootstrap, topic_name, 0, n, timeout=60)
    assert [m["offset"] for m in got] == list(range(n))
    assert [m["value"] for m in got] == [str(i).encode() for i in range(n)]


def test_watermarks_and_seek(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap)
    for i in range(25):
        p.produce(topic_name, value=f"w{i}".encode())
        if i % 10 == 9:
            flush(p)  # several batches, so the high watermark is base+delta+1 of the last one
    flush(p)
    c = make_consumer(bootstrap)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10, cached=False) == (0, 25)
        c.assign([TopicPartition(topic_name, 0, 13)])
        got = consume_n(c, 12, extra_wait=0.3)
        assert [m["value"] for m in got] == [f"w{i}".encode() for i in range(13, 25)]
    finally:
        c.close()


# ---------------------------------------------------------------------------
# consumer groups


def test_two_member_group_splits_partitions(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    create_topic(bootstrap, topic_name, partitions=4)
    group = f"split-{topic_name}"
    c1 = make_consumer(bootstrap, group)
    c2 = make_consumer(bootstrap, group)
    try:
        c1.subscribe([topic_name])
        c2.subscribe([topic_name])
        received = {1: [], 2: []}

        def poll_both():
            for idx, c in ((1, c1), (2, c2)):
                m = c.poll(0.1)
                if m is not None and not m.error():
                    received[idx].append(snapshot(m))

        def settled():
            poll_both()
            a1 = {tp.partition for tp in c1.assignment()}
            a2 = {tp.partition for tp in c2.assignment()}
            return (a1, a2) if a1 and a2 and len(a1) + len(a2) == 4 else None

        a1, a2 = wait_until(settled, timeout=40, interval=0, what="both members assigned")
        assert a1.isdisjoint(a2)
        assert a1 | a2 == {0, 1, 2, 3}

        n = 400
        p = make_producer(bootstrap)
        for i in range(n):
            p.produce(topic_name, value=f"r{i}".encode(), partition=i % 4)
        flush(p)

        deadline = time.monotonic() + 30
        while len(received[1]) + len(received[2]) < n and time.monotonic() < deadline:
            poll_both()
        for _ in range(10):  # catch duplicates
            poll_both()

        assert {tp.partition for tp in c1.assignment()} == a1, "unexpected rebalance"
        assert {tp.partition for tp in c2.assignment()} == a2, "unexpected rebalance"
        assert received[1] and received[2]
        assert {m["partition"] for m in received[1]} <= a1
        assert {m["partition"] for m in received[2]} <= a2
        everything = [(m["partition"], m["offset"]) for m in received[1] + received[2]]
        assert len(everything) == n
        assert sorted(everything) == sorted((i % 4, i // 4) for i in range(n))
    finally:
        c1.close()
        c2.close()


def test_commit_and_resume_after_restart(server, topic_name):
    n = 100
    p = make_producer(server.bootstrap)
    for i in range(n):
        p.produce(topic_name, value=f"m{i}".encode())
    flush(p)

    group = f"resume-{topic_name}"
    c = make_consumer(server.bootstrap, group)
    c.subscribe([topic_name])
    got = consume_n(c, 50)
    assert [m["offset"] for m in got[:50]] == list(range(50))
    c.commit(offsets=[TopicPartition(topic_name, 0, 50)], asynchronous=False)
    [committed] = c.committed([TopicPartition(topic_name, 0)], timeout=10)
    assert committed.offset == 50
    c.close()

    server.restart()

    c = make_consumer(server.bootstrap, group)
    try:
        [committed] = c.committed([TopicPartition(topic_name, 0)], timeout=10)
        assert committed.offset == 50, "committed offset lost across restart"
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10, cached=False) == (0, n)
        c.subscribe([topic_name])
        rest = consume_n(c, n - 50, extra_wait=1.0)
        assert [m["offset"] for m in rest] == list(range(50, n))
        assert [m["value"] for m in rest] == [f"m{i}".encode() for i in range(50, n)]
    finally:
        c.close()


def test_auto_offset_reset_without_commit(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap)
    for i in range(10):
        p.produce(topic_name, value=f"old{i}".encode())
    flush(p)

    # earliest: a new group starts at the log start.
    c = make_consumer(bootstrap, **{"auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic_name])
        got = consume_n(c, 10, extra_wait=0.3)
        assert [m["offset"] for m in got] == list(range(10))
    finally:
        c.close()

    # latest: a new group sees only what is produced after it joined.
    c = make_consumer(bootstrap, **{"auto.offset.reset": "latest"})
    try:
        c.subscribe([topic_name])
        wait_until(lambda: c.poll(0.1) is None and c.assignment(), timeout=30, interval=0, what="assignment")
        stray = consume_n(c, 1, timeout=2)
        assert stray == [], "latest reset delivered old records"
        for i in range(3):
            p.produce(topic_name, value=f"new{i}".encode())
        flush(p)
        got = consume_n(c, 3, extra_wait=0.3)
        assert [(m["offset"], m["value"]) for m in got] == [(10 + i, f"new{i}".encode()) for i in range(3)]
    finally:
        c.close()


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_auto_offset_reset_out_of_range(shared_server, topic_name, reset):
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap)
    for i in range(10):
        p.produce(topic_name, value=f"v{i}".encode())
    flush(p)

    c = make_consumer(bootstrap, **{"auto.offset.reset": reset})
    try:
        c.assign([TopicPartition(topic_name, 0, 1000)])  # beyond the log end
        if reset == "earliest":
            got = consume_n(c, 10, extra_wait=0.3)
            assert [m["offset"] for m in got] == list(range(10))
        else:
            assert consume_n(c, 1, timeout=3) == []
            p.produce(topic_name, value=b"fresh")
            flush(p)
            got = consume_n(c, 1, extra_wait=0.3)
            assert [(m["offset"], m["value"]) for m in got] == [(10, b"fresh")]
    finally:
        c.close()


def test_out_of_range_with_reset_none_is_reported(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap)
    p.produce(topic_name, value=b"only")
    flush(p)
    c = make_consumer(bootstrap, **{"auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(topic_name, 0, 500)])
        deadline = time.monotonic() + 15
        err = None
        while err is None and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None:
                assert m.error() is not None, "got a record from an out-of-range offset"
                err = m.error()
        assert err is not None, "no error reported for an out-of-range fetch"
        assert err.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE), err
    finally:
        c.close()


def test_list_and_describe_consumer_groups(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    create_topic(bootstrap, topic_name, partitions=2)
    group = f"desc-{topic_name}"
    c = make_consumer(bootstrap, group, **{"client.id": "describe-me"})
    admin = make_admin(bootstrap)
    try:
        c.subscribe([topic_name])
        wait_until(lambda: c.poll(0.1) is None and len(c.assignment()) == 2, timeout=30, interval=0,
                   what="assignment")
        c.commit(offsets=[TopicPartition(topic_name, 0, 0), TopicPartition(topic_name, 1, 0)],
                 asynchronous=False)

        listed = admin.list_consumer_groups(request_timeout=10).result(timeout=15)
        assert listed.errors == []
        by_id = {g.group_id: g for g in listed.valid}
        assert group in by_id
        assert by_id[group].is_simple_consumer_group is False

        desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
        assert desc.group_id == group
        assert desc.state == ck.ConsumerGroupState.STABLE
        assert desc.partition_assignor in ("range", "roundrobin")
        assert desc.coordinator.id == 1
        [member] = desc.members
        assert member.client_id == "describe-me"
        assert sorted((tp.topic, tp.partition) for tp in member.assignment.topic_partitions) == [
            (topic_name, 0), (topic_name, 1)]

        offsets = admin.list_consumer_group_offsets(
            [ck.ConsumerGroupTopicPartitions(group)], request_timeout=10)[group].result(timeout=15)
        assert sorted((tp.partition, tp.offset) for tp in offsets.topic_partitions
                      if tp.topic == topic_name) == [(0, 0), (1, 0)]
    finally:
        c.close()

    # Once the only member left, the group is empty and can be deleted.
    desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    assert desc.state == ck.ConsumerGroupState.EMPTY
    assert desc.members == []
    admin.delete_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    listed = admin.list_consumer_groups(request_timeout=10).result(timeout=15)
    assert group not in {g.group_id for g in listed.valid}


# ---------------------------------------------------------------------------
# offsets, admin


def test_offsets_for_times(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    t0 = int(time.time() * 1000) - 100_000
    p = make_producer(bootstrap)
    for i in range(10):
        p.produce(topic_name, value=f"t{i}".encode(), timestamp=t0 + i * 1000)
        if i % 4 == 3:
            flush(p)  # spread over several batches
    flush(p)
    c = make_consumer(bootstrap)
    try:
        def lookup(ts):
            [tp] = c.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=10)
            assert tp.error is None, tp.error
            return tp.offset

        assert lookup(t0 - 5000) == 0
        assert lookup(t0) == 0
        assert lookup(t0 + 3000) == 3
        assert lookup(t0 + 3500) == 4
        assert lookup(t0 + 9000) == 9
        assert lookup(t0 + 9001) == OFFSET_END  # nothing at or after: -1
    finally:
        c.close()


def test_admin_topic_lifecycle(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    admin = create_topic(bootstrap, topic_name, partitions=3,
                         config={"retention.ms": "3600000", "cleanup.policy": "delete"})

    # Creating it again fails with TOPIC_ALREADY_EXISTS.
    fut = admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)],
                              request_timeout=15)[topic_name]
    with pytest.raises(KafkaException) as exc:
        fut.result(timeout=20)
    assert exc.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    md = admin.list_topics(timeout=10)
    assert topic_name in md.topics
    t = md.topics[topic_name]
    assert sorted(t.partitions) == [0, 1, 2]
    assert all(pm.leader == 1 for pm in t.partitions.values())
    assert md.brokers[1].port == shared_server.port

    def describe():
        res = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
        return admin.describe_configs([res], request_timeout=10)[res].result(timeout=15)

    cfg = describe()
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["cleanup.policy"].value == "delete"
    for name in ("retention.bytes", "segment.bytes", "max.message.bytes"):
        assert name in cfg, f"{name} missing from describe_configs"

    # incremental_alter_configs: SET then DELETE (back to the default).
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(timeout=15)
    assert describe()["retention.ms"].value == "7200000"

    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(timeout=15)
    after = describe()["retention.ms"]
    assert after.value == "604800000"
    assert after.source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert describe()["cleanup.policy"].value == "delete"  # untouched

    # create_partitions: 3 -> 5, and the new partitions take writes.
    admin.create_partitions([NewPartitions(topic_name, 5)], request_timeout=10)[topic_name].result(timeout=15)
    wait_until(lambda: _partition_count(admin, topic_name) == 5, timeout=10, what="5 partitions")
    p = make_producer(bootstrap, **{"topic.metadata.refresh.interval.ms": 500})
    dr = Delivery()
    p.produce(topic_name, value=b"to-p4", partition=4, on_delivery=dr)
    flush(p)
    assert dr.errors == [] and dr.ok[0][:2] == (4, 0)

    # delete_topics: gone from metadata.
    admin.delete_topics([topic_name], request_timeout=10)[topic_name].result(timeout=15)
    wait_until(lambda: topic_name not in admin.list_topics(timeout=10).topics, timeout=15,
               what="topic gone from metadata")


def test_describe_cluster(shared_server):
    admin = make_admin(shared_server.bootstrap)
    desc = admin.describe_cluster(request_timeout=10).result(timeout=15)
    assert [(n.id, n.host, n.port) for n in desc.nodes] == [(1, "127.0.0.1", shared_server.port)]
    assert desc.controller is not None and desc.controller.id == 1


def test_delete_records_moves_low_watermark(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap)
    for i in range(100):
        p.produce(topic_name, value=f"d{i}".encode())
        if i % 30 == 29:
            flush(p)
    flush(p)

    admin = make_admin(bootstrap)
    tp = TopicPartition(topic_name, 0, 40)
    deleted = admin.delete_records([tp], request_timeout=10, operation_timeout=10)
    [fut] = deleted.values()
    assert fut.result(timeout=15).low_watermark == 40

    c = make_consumer(bootstrap)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10, cached=False) == (40, 100)
        c.assign([TopicPartition(topic_name, 0, OFFSET_BEGINNING)])
        got = consume_n(c, 60, extra_wait=0.3)
        assert [m["offset"] for m in got] == list(range(40, 100))
    finally:
        c.close()

    # Reading below the log start offset is out of range.
    c = make_consumer(bootstrap, **{"auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic_name, 0, 10)])
        got = consume_n(c, 60, extra_wait=0.3)
        assert [m["offset"] for m in got] == list(range(40, 100))
    finally:
        c.close()


def test_long_poll_fetch_wakes_on_produce(shared_server, topic_name):
    """A consumer parked in a long-poll Fetch (fetch.wait.max.ms=5000) gets a
    new record as soon as it is produced, not when the wait expires."""
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap, **{"linger.ms": 0})
    p.produce(topic_name, value=b"first")
    flush(p)
    c = make_consumer(bootstrap, **{"fetch.wait.max.ms": 5000})
    try:
        c.assign([TopicPartition(topic_name, 0, 0)])
        assert [m["value"] for m in consume_n(c, 1)] == [b"first"]
        time.sleep(1.0)  # the next Fetch is now parked on the broker
        latencies = []
        for i in range(3):
            sent = time.monotonic()
            p.produce(topic_name, value=f"wake{i}".encode())
            p.poll(0)
            got = consume_n(c, 1, timeout=10)
            latencies.append(time.monotonic() - sent)
            assert [m["value"] for m in got] == [f"wake{i}".encode()]
            time.sleep(0.5)
        assert max(latencies) < 1.5, f"long-poll fetch returned late: {latencies}"
    finally:
        c.close()


def test_recreated_topic_starts_empty(server, topic_name):
    admin = create_topic(server.bootstrap, topic_name)
    p = make_producer(server.bootstrap)
    for i in range(5):
        p.produce(topic_name, value=f"old{i}".encode())
    flush(p)
    admin.delete_topics([topic_name], request_timeout=10)[topic_name].result(timeout=15)
    wait_until(lambda: topic_name not in admin.list_topics(timeout=10).topics, timeout=15, what="deleted")
    create_topic(server.bootstrap, topic_name)

    def marks(bootstrap):
        c = make_consumer(bootstrap)
        try:
            return c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10, cached=False)
        finally:
            c.close()

    assert marks(server.bootstrap) == (0, 0)
    server.restart()
    assert marks(server.bootstrap) == (0, 0), "old records came back after a restart"
    p = make_producer(server.bootstrap)
    dr = Delivery()
    p.produce(topic_name, value=b"new", on_delivery=dr)
    flush(p)
    assert [off for _, off, _, _ in dr.ok] == [0]
    assert [m["value"] for m in read_partition(server.bootstrap, topic_name, 0, 1)] == [b"new"]


def test_admin_list_offsets(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    p = make_producer(bootstrap)
    for i in range(7):
        p.produce(topic_name, value=b"x")
    flush(p)
    admin = make_admin(bootstrap)
    tp = TopicPartition(topic_name, 0)
    res = admin.list_offsets({tp: ck.admin.OffsetSpec.earliest()}, request_timeout=10)
    assert res[tp].result(timeout=15).offset == 0
    res = admin.list_offsets({tp: ck.admin.OffsetSpec.latest()}, request_timeout=10)
    assert res[tp].result(timeout=15).offset == 7


def test_member_leaving_triggers_prompt_rebalance(shared_server, topic_name):
    bootstrap = shared_server.bootstrap
    create_topic(bootstrap, topic_name, partitions=4)
    group = f"leave-{topic_name}"
    conf = {"session.timeout.ms": 30000}
    c1 = make_consumer(bootstrap, group, **conf)
    c2 = make_consumer(bootstrap, group, **conf)
    try:
        c1.subscribe([topic_name])
        c2.subscribe([topic_name])

        def split():
            c1.poll(0.05)
            c2.poll(0.05)
            return len(c1.assignment()) + len(c2.assignment()) == 4 and c1.assignment() and c2.assignment()

        wait_until(split, timeout=40, interval=0, what="two-member split")
        left = time.monotonic()
        c2.close()  # LeaveGroup
        wait_until(lambda: c1.poll(0.05) is None and len(c1.assignment()) == 4, timeout=25, interval=0,
                   what="remaining member owns all partitions")
        took = time.monotonic() - left
        assert took < 10, f"rebalance after LeaveGroup took {took:.1f}s (session timeout is 30s)"
    finally:
        c1.close()

"""Producer and consumer round trips, embedded and against klog-server."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

import klog


def _consume(consumer: klog.Consumer, n: int, timeout: float = 20.0) -> list:
    import time

    out: list = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out.extend(consumer.poll_batch(timeout=0.5, max_records=n - len(out)))
    return out


@pytest.fixture
def target(target_server_or_db):
    return target_server_or_db


def test_round_trip_keys_values_headers(target, topic):
    with klog.Admin(target) as admin:
        admin.create_topic(topic, 1)
    with klog.Producer(target, linger_ms=1) as producer:
        producer.produce(topic, b"v0", b"k0", headers=[("h", b"1"), ("h", b"2"), ("n", None)], timestamp=1234)
        producer.produce(topic, "text value", key="text key", headers={"a": "b"})
        producer.produce(topic, None, b"tombstone")
        producer.produce(topic, bytearray(b"ba"), memoryview(b"mv"))
        producer.flush()
        assert len(producer) == 0
    with klog.Consumer(target, auto_offset_reset="earliest") as consumer:
        consumer.assign([(topic, 0)])
        records = _consume(consumer, 4)
    assert [r.offset for r in records] == [0, 1, 2, 3]
    r0, r1, r2, r3 = records
    assert (r0.topic, r0.partition, r0.key, r0.value, r0.timestamp) == (topic, 0, b"k0", b"v0", 1234)
    assert r0.headers == [("h", b"1"), ("h", b"2"), ("n", None)]
    assert (r1.key, r1.value, r1.headers) == (b"text key", b"text value", [("a", b"b")])
    assert (r2.key, r2.value) == (b"tombstone", None)
    assert (r3.key, r3.value) == (b"mv", b"ba")
    assert r0.topic_partition == (topic, 0)
    assert "Record(" in repr(r0)


def test_send_futures_and_callbacks(target, topic):
    with klog.Admin(target) as admin:
        admin.create_topic(topic, 2)
    delivered: list = []
    done = threading.Event()

    def on_delivery(err, md):
        delivered.append((err, md))
        if len(delivered) == 10:
            done.set()

    with klog.Producer(target) as producer:
        futures = [producer.send(topic, b"x%d" % i, partition=i % 2) for i in range(10)]
        for i in range(10):
            producer.produce(topic, b"y", partition=0, on_delivery=on_delivery)
        results = [f.result(timeout=20) for f in concurrent.futures.as_completed(futures)]
        assert done.wait(20)
    assert sorted((m.partition, m.offset) for m in results) == [(p, o) for p in (0, 1) for o in range(5)]
    assert all(isinstance(m, klog.RecordMetadata) and m.topic == topic for m in results)
    assert all(err is None and md.partition == 0 for err, md in delivered)
    assert [md.offset for _, md in delivered] == list(range(5, 15))


def test_produce_batch_and_iteration(target, topic):
    with klog.Admin(target) as admin:
        admin.create_topic(topic, 1)
    with klog.Producer(target) as producer:
        assert producer.produce_batch(topic, [b"%d" % i for i in range(1000)], keys=[b"k"] * 1000) == 1000
        producer.flush()
    consumer = klog.Consumer(target, auto_offset_reset="earliest")
    consumer.assign([(topic, 0)])
    seen = []
    for record in consumer:
        seen.append(int(record.value))
        if len(seen) == 1000:
            consumer.close()
    assert seen == list(range(1000))
    assert list(consumer) == []  # a closed consumer ends iteration


def test_delivery_failure_surfaces(db):
    admin = db.admin()
    admin.create_topic("small", 1, config={"max.message.bytes": 1024})
    failed = []
    with klog.Producer(db, enable_idempotence=False) as producer:
        fut = producer.send("small", b"x" * 10_000)
        with pytest.raises(klog.KlogError):
            fut.result(timeout=20)
        producer.produce("small", b"x" * 10_000, on_delivery=lambda e, m: failed.append(e))
        producer.produce("small", b"x" * 10_000)
        with pytest.raises(klog.KlogError):
            producer.flush()
        producer.flush()  # the error is reported once
    assert len(failed) == 1 and isinstance(failed[0], klog.KlogError)


def test_closed_clients_raise_closed_error(db, topic):
    producer = db.producer()
    producer.close()
    producer.close()
    with pytest.raises(klog.ClosedError):
        producer.produce(topic, b"x")
    consumer = db.consumer()
    consumer.close()
    with pytest.raises(klog.ClosedError):
        consumer.poll(0.1)


def test_clients_of_a_closed_broker_raise_closed_error(tmp_path, topic):
    db = klog.open(tmp_path / "b")
    admin = db.admin()
    admin.create_topic(topic, 1)
    producer = db.producer()
    producer.produce(topic, b"before")
    producer.flush()
    db.close()
    db.close()  # closing twice is fine
    with pytest.raises(klog.ClosedError):
        admin.list_topics()
    with pytest.raises(klog.ClosedError):
        producer.send(topic, b"after").result(10)
    # The directory is free again while those clients still exist.
    with klog.open(tmp_path / "b") as reopened:
        assert topic in [t.name for t in reopened.admin().list_topics()]
    producer.close()
    admin.close()


def test_unknown_option_is_invalid(db):
    with pytest.raises(klog.InvalidError):
        klog.Producer(db, no_such_setting=3)
    with pytest.raises(klog.InvalidError):
        klog.Consumer(db, group_id="g", no_such_setting=3)


def test_seek_position_and_offsets(db, topic):
    db.admin().create_topic(topic, 1)
    with db.producer() as p:
        for i in range(10):
            p.produce(topic, b"%d" % i, timestamp=1000 + i)
    with db.consumer() as c:
        tp = klog.TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 7)
        assert c.position(tp) == 7
        assert [r.value for r in _consume(c, 3)] == [b"7", b"8", b"9"]
        c.seek_to_beginning()
        first = c.poll(5.0)
        assert first is not None and first.offset == 0
        assert c.position(tp) == 1  # the record handed out, not what was prefetched
        assert c.offsets_for_times({tp: 1005}) == {tp: (5, 1005)}
        c.seek_to_end()
        assert c.poll(0.2) is None
        assert c.lag() == {tp: 0}


def test_ctrl_c_interrupts_a_blocking_poll(tmp_path):
    """SIGINT from outside reaches a consumer blocked in poll() (GIL released) promptly."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    code = f"""
        import sys, time, klog
        db = klog.open({str(tmp_path / "b")!r})
        db.admin().create_topic("idle", 1)
        c = db.consumer(); c.assign([("idle", 0)])
        print("ready", flush=True)
        t = time.monotonic()
        try:
            c.poll(timeout=60)
        except KeyboardInterrupt:
            print("interrupted after %.2f" % (time.monotonic() - t), flush=True)
            c.close(); db.close()
            sys.exit(3)
        sys.exit(0)
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3, (out, err)
    assert time.monotonic() - sent < 2, out

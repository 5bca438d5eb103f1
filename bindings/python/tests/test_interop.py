"""klog's Python client and confluent-kafka against the same klog-server."""

from __future__ import annotations

import pytest

import klog

ck = pytest.importorskip("confluent_kafka")


def test_confluent_produces_klog_consumes(bootstrap, topic):
    with klog.Admin(bootstrap) as admin:
        admin.create_topic(topic, 1)
    p = ck.Producer({"bootstrap.servers": bootstrap})
    for i in range(50):
        p.produce(topic, value=b"c%d" % i, key=b"k%d" % i, headers=[("src", b"confluent")])
    assert p.flush(20) == 0
    with klog.Consumer(bootstrap, group_id=f"g-{topic}", topics=topic, auto_offset_reset="earliest") as c:
        got = []
        for _ in range(100):
            got.extend(c.poll_batch(0.5))
            if len(got) >= 50:
                break
    assert [r.value for r in got] == [b"c%d" % i for i in range(50)]
    assert got[0].key == b"k0" and got[0].headers == [("src", b"confluent")]


def test_klog_produces_confluent_consumes(bootstrap, topic):
    with klog.Producer(bootstrap, compression_type="lz4") as p:
        for i in range(50):
            p.produce(topic, b"v%d" % i, key=b"k%d" % i, headers={"src": b"klog"})
    c = ck.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"}
    )
    c.subscribe([topic])
    got = []
    try:
        for _ in range(60):
            for m in c.consume(num_messages=100, timeout=0.5):
                assert m.error() is None, m.error()
                got.append(m)
            if len(got) >= 50:
                break
    finally:
        c.close()
    assert sorted(m.value() for m in got) == sorted(b"v%d" % i for i in range(50))
    assert got[0].headers() == [("src", b"klog")]

"""Consumer groups: two members split partitions; commits survive a restart."""

from __future__ import annotations

import time

import klog


def _drain(consumers, want: int, timeout: float = 30.0) -> dict:
    got: dict = {id(c): [] for c in consumers}
    deadline = time.monotonic() + timeout
    while sum(len(v) for v in got.values()) < want and time.monotonic() < deadline:
        for c in consumers:
            got[id(c)].extend(c.poll_batch(timeout=0.2))
    return got


def test_two_consumers_share_partitions(target_server_or_db, topic):
    target = target_server_or_db
    with klog.Admin(target) as admin:
        admin.create_topic(topic, 4)
    group = f"g-{topic}"
    a = klog.Consumer(target, group_id=group, topics=topic, auto_offset_reset="earliest")
    b = klog.Consumer(target, group_id=group, topics=[topic], auto_offset_reset="earliest")
    try:
        # Both members must be in the group before the records exist.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for c in (a, b):
                assert c.poll(0.05) is None
            if a.assignment() and b.assignment() and len(a.assignment() + b.assignment()) == 4:
                break
        with klog.Producer(target) as p:
            for i in range(200):
                p.produce(topic, b"%d" % i, key=b"key-%d" % i)
        got = _drain([a, b], 200)
        values = sorted(int(r.value) for rs in got.values() for r in rs)
        assert values == list(range(200))
        pa = {r.partition for r in got[id(a)]}
        pb = {r.partition for r in got[id(b)]}
        assert pa and pb and not (pa & pb), (pa, pb)
        assert sorted(a.assignment() + b.assignment()) == [(topic, i) for i in range(4)]
        with klog.Admin(target) as admin:
            desc = admin.describe_group(group)
            assert len(desc.members) == 2
        # b leaves: the group rebalances and a takes over every partition.
        a.commit()
        b.commit()
        b.close()
        deadline = time.monotonic() + 30
        while len(a.assignment()) < 4 and time.monotonic() < deadline:
            assert a.poll(0.05) is None
        assert sorted(a.assignment()) == [(topic, i) for i in range(4)]
        with klog.Producer(target) as p:
            for i in range(200, 240):
                p.produce(topic, b"%d" % i, key=b"key-%d" % i)
        later = _drain([a], 40)[id(a)]
        assert sorted(int(r.value) for r in later) == list(range(200, 240))
    finally:
        a.close()
        b.close()


def test_commit_and_resume(target_server_or_db, topic):
    target = target_server_or_db
    with klog.Admin(target) as admin:
        admin.create_topic(topic, 1)
    with klog.Producer(target) as p:
        for i in range(10):
            p.produce(topic, b"%d" % i)
    group = f"g-{topic}"
    with klog.Consumer(target, group_id=group, topics=topic, auto_offset_reset="earliest", enable_auto_commit=False) as c:
        first = []
        while len(first) < 4:
            r = c.poll(5.0)
            assert r is not None
            first.append(int(r.value))
        c.commit()  # commits what was handed out (4), not what was prefetched
        assert c.committed([(topic, 0)]) == {klog.TopicPartition(topic, 0): 4}
    with klog.Consumer(target, group_id=group, topics=topic, auto_offset_reset="earliest", enable_auto_commit=False) as c:
        rest = []
        deadline = time.monotonic() + 20
        while len(rest) < 6 and time.monotonic() < deadline:
            rest.extend(int(r.value) for r in c.poll_batch(0.5))
        c.commit({(topic, 0): 10})
    assert first == [0, 1, 2, 3] and rest == [4, 5, 6, 7, 8, 9]
    with klog.Admin(target) as admin:
        offsets = admin.group_offsets(group)
        assert [(o.partition, o.committed, o.lag) for o in offsets] == [(klog.TopicPartition(topic, 0), 10, 0)]


def test_auto_commit_covers_only_records_handed_out(db, topic):
    """Auto-commit never commits records prefetched but not yet given to Python."""
    db.admin().create_topic(topic, 1)
    with db.producer() as p:
        p.produce_batch(topic, [b"%d" % i for i in range(20)])
        p.flush()
    group = f"g-{topic}"
    tp = klog.TopicPartition(topic, 0)
    with db.consumer(group, topics=topic, auto_offset_reset="earliest", auto_commit_interval_ms=20) as c:
        it = iter(c)
        assert [int(next(it).value) for _ in range(3)] == [0, 1, 2]
        deadline = time.monotonic() + 10
        while c.committed([tp])[tp] != 3:
            assert c.committed([tp])[tp] in (None, 3), "auto-commit went past the records handed out"
            assert time.monotonic() < deadline, "auto-commit never committed"
            time.sleep(0.02)
        time.sleep(0.1)
        assert c.committed([tp]) == {tp: 3}

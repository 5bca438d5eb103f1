"""Consumed batches as pyarrow RecordBatches (and pandas through pyarrow)."""

from __future__ import annotations

import pytest

import klog

pa = pytest.importorskip("pyarrow")


def _fill(db, topic, n):
    db.admin().create_topic(topic, 2)
    with db.producer() as p:
        for i in range(n):
            headers = [("i", b"%d" % i), ("dup", b"a"), ("dup", None)] if i % 3 == 0 else None
            key = None if i % 5 == 0 else b"k%d" % i
            value = None if i % 7 == 0 else b"value-%d" % i
            p.produce(topic, value, key, partition=i % 2, timestamp=1_700_000_000_000 + i, headers=headers)


def _collect(consumer, n):
    batches = []
    total = 0
    for _ in range(200):
        b = consumer.poll_arrow(timeout=0.5, max_records=n)
        batches.append(b)
        total += b.num_rows
        if total >= n:
            break
    return pa.Table.from_batches(batches, schema=klog.arrow_schema())


def test_arrow_batch_matches_records(db, topic):
    n = 1000
    _fill(db, topic, n)
    with db.consumer(auto_offset_reset="earliest") as c:
        c.assign([(topic, 0), (topic, 1)])
        table = _collect(c, n)
    assert table.num_rows == n
    assert table.schema == klog.arrow_schema()
    rows = sorted(table.to_pylist(), key=lambda r: (r["partition"], r["offset"]))
    for row in rows:
        i = int(row["timestamp"].timestamp() * 1000) - 1_700_000_000_000
        assert row["topic"] == topic
        assert row["partition"] == i % 2
        assert row["offset"] == i // 2
        assert row["key"] == (None if i % 5 == 0 else b"k%d" % i)
        assert row["value"] == (None if i % 7 == 0 else b"value-%d" % i)
        expected = [{"key": "i", "value": b"%d" % i}, {"key": "dup", "value": b"a"}, {"key": "dup", "value": None}]
        assert row["headers"] == (expected if i % 3 == 0 else [])
    table.validate(full=True)


def test_arrow_empty_batch_and_pandas(db, topic):
    db.admin().create_topic(topic, 1)
    with db.consumer() as c:
        c.assign([(topic, 0)])
        empty = c.poll_arrow(timeout=0.1)
        assert empty.num_rows == 0 and empty.schema == klog.arrow_schema()
    _fill_simple = db.producer()
    for i in range(10):
        _fill_simple.produce(topic, b"%d" % i)
    _fill_simple.close()
    pd = pytest.importorskip("pandas")
    with db.consumer(auto_offset_reset="earliest") as c:
        c.assign([(topic, 0)])
        df = c.poll_arrow(timeout=5, max_records=10).to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert list(df["offset"]) == list(range(10))
    assert [int(v) for v in df["value"]] == list(range(10))


async def test_async_arrow(db, topic):
    _fill(db, topic, 20)
    async with klog.AsyncConsumer(db, auto_offset_reset="earliest") as c:
        await c.assign([(topic, 0), (topic, 1)])
        total = 0
        for _ in range(50):
            total += (await c.poll_arrow(timeout=0.5)).num_rows
            if total == 20:
                break
    assert total == 20

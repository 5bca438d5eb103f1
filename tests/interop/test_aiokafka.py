"""aiokafka (asyncio, pure Python) against klog-server: idempotent compressed
produce with duplicate header keys, a consumer group that commits and resumes."""

import asyncio

import pytest

aiokafka = pytest.importorskip("aiokafka")


def run(coro):
    return asyncio.run(coro)


async def produce(bootstrap, topic, n, start=0, **options):
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
    await producer.start()
    try:
        offsets = []
        for i in range(start, start + n):
            meta = await producer.send_and_wait(
                topic, key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[("h", b"1"), ("h", b"2")]
            )
            offsets.append(meta.offset)
        return offsets
    finally:
        await producer.stop()


async def consume(bootstrap, topic, group, n):
    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        got = []
        while len(got) < n:
            batch = await consumer.getmany(timeout_ms=10_000, max_records=n - len(got))
            if not batch:
                break
            for records in batch.values():
                got.extend(records)
        await consumer.commit()
        return got
    finally:
        await consumer.stop()


@pytest.mark.parametrize("codec", [None, "gzip", "lz4", "zstd", "snappy"])
def test_idempotent_round_trip_with_duplicate_headers(server, topic_name, codec):
    offsets = run(produce(server.bootstrap, topic_name, 50, enable_idempotence=True, compression_type=codec))
    assert offsets == list(range(50))
    got = run(consume(server.bootstrap, topic_name, "aio-" + topic_name, 50))
    assert [(m.offset, m.key, m.value) for m in got] == [(i, f"k{i}".encode(), f"v{i}".encode()) for i in range(50)]
    assert all(tuple(m.headers) == (("h", b"1"), ("h", b"2")) for m in got)


def test_group_commit_and_resume(server, topic_name):
    group = "aio-resume-" + topic_name
    run(produce(server.bootstrap, topic_name, 30))
    first = run(consume(server.bootstrap, topic_name, group, 30))
    assert len(first) == 30
    run(produce(server.bootstrap, topic_name, 10, start=30))
    second = run(consume(server.bootstrap, topic_name, group, 10))
    assert [m.offset for m in second] == list(range(30, 40))

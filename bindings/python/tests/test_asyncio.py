"""asyncio producer and consumer: awaitables completed from the Rust runtime."""

from __future__ import annotations

import asyncio

import pytest

import klog


async def test_async_round_trip(target_server_or_db, topic):
    target = target_server_or_db
    async with klog.AsyncAdmin(target) as admin:
        await admin.create_topic(topic, 2)
    async with klog.AsyncProducer(target, linger_ms=1) as producer:
        md = await producer.send_and_wait(topic, b"first", key=b"k", partition=0, headers=[("h", b"v")])
        assert (md.topic, md.partition, md.offset) == (topic, 0, 0)
        futures = [await producer.send(topic, b"%d" % i, partition=1) for i in range(100)]
        metas = await asyncio.gather(*futures)
        assert [m.offset for m in metas] == list(range(100))
        await producer.flush()

    async with klog.AsyncConsumer(target, group_id=f"g-{topic}", topics=topic, auto_offset_reset="earliest") as c:
        got = []
        async for record in c:
            got.append(record)
            if len(got) == 101:
                break
        await c.commit()
        committed = await c.committed([(topic, 0), (topic, 1)])
    assert committed == {klog.TopicPartition(topic, 0): 1, klog.TopicPartition(topic, 1): 100}
    first = next(r for r in got if r.partition == 0)
    assert (first.key, first.value, first.headers) == (b"k", b"first", [("h", b"v")])
    assert sorted(int(r.value) for r in got if r.partition == 1) == list(range(100))


async def test_event_loop_stays_responsive_while_polling(db, topic):
    async with klog.AsyncConsumer(db, auto_offset_reset="earliest") as c:
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        admin = klog.AsyncAdmin(db)
        await admin.start()
        await admin.create_topic(topic, 1)
        await c.assign([(topic, 0)])
        assert await c.poll(timeout=0.5) is None
        t.cancel()
        assert ticks >= 20  # the loop ran while the poll waited in Rust


async def test_async_poll_cancellation(db, topic):
    admin = await klog.AsyncAdmin(db).start()
    await admin.create_topic(topic, 1)
    async with klog.AsyncConsumer(db) as c:
        await c.assign([(topic, 0)])
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.poll(timeout=30), 0.2)
        async with klog.AsyncProducer(db) as p:
            await p.send_and_wait(topic, b"after-cancel")
        r = await c.poll(timeout=10)
        assert r is not None and r.value == b"after-cancel"


async def test_async_errors(db):
    async with klog.AsyncProducer(db, enable_idempotence=False) as p:
        admin = await klog.AsyncAdmin(db).start()
        await admin.create_topic("tiny", 1, config={"max.message.bytes": 1024})
        with pytest.raises(klog.KlogError):
            await p.send_and_wait("tiny", b"x" * 10_000)
    with pytest.raises(klog.ClosedError):
        await p.send("tiny", b"x")

"""asyncio producer and consumer (awaitables completed by klog's Rust runtime).

    python3 examples/python/asyncio_example.py [BOOTSTRAP]   # embedded broker without one
"""

import asyncio
import sys
import tempfile

import klog


async def main(target) -> None:
    async with klog.AsyncAdmin(target) as admin:
        await admin.create_topic("events", 2)

    async with klog.AsyncProducer(target) as producer:
        futures = [await producer.send("events", f"event {i}".encode()) for i in range(100)]
        metadata = await asyncio.gather(*futures)
        print("stored up to offset", max(m.offset for m in metadata))

    async with klog.AsyncConsumer(target, group_id="readers", topics="events",
                                  auto_offset_reset="earliest") as consumer:
        count = 0
        async for record in consumer:
            count += 1
            if count == 100:
                break
        await consumer.commit()
        print("consumed", count, "records")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        asyncio.run(main(sys.argv[1]))
    else:
        with klog.open(tempfile.mkdtemp(prefix="klog-")) as db:
            asyncio.run(main(db))

"""A small typed program; CI type-checks it with mypy --strict against klog's stubs."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Dict, List, Optional

import klog


def produce_and_read(db: klog.Embedded, topic: str) -> List[bytes]:
    admin: klog.Admin = db.admin()
    admin.create_topic(topic, 1, config={"retention.ms": 60_000})
    infos: List[klog.TopicInfo] = admin.list_topics()
    assert infos
    with db.producer(linger_ms=1) as producer:
        producer.produce(topic, b"v", key="k", headers=[("h", b"1")])
        fut: concurrent.futures.Future[klog.RecordMetadata] = producer.send(topic, "x")
        md: klog.RecordMetadata = fut.result()
        offset: int = md.offset
        assert offset >= 0
    values: List[bytes] = []
    with db.consumer(auto_offset_reset="earliest") as consumer:
        consumer.assign([klog.TopicPartition(topic, 0)])
        record: Optional[klog.Record] = consumer.poll(1.0)
        if record is not None and record.value is not None:
            values.append(record.value)
        lag: Dict[klog.TopicPartition, int] = consumer.lag()
        assert isinstance(lag, dict)
    return values


async def async_part(db: klog.Embedded, topic: str) -> int:
    async with klog.AsyncProducer(db) as producer:
        md: klog.RecordMetadata = await producer.send_and_wait(topic, b"async")
    async with klog.AsyncConsumer(db, auto_offset_reset="earliest") as consumer:
        await consumer.assign([(topic, 0)])
        batch: List[klog.Record] = await consumer.poll_batch(1.0)
    return md.offset + len(batch)


def handle(err: Optional[BaseException]) -> str:
    if isinstance(err, klog.NotFoundError):
        return f"missing ({err.kafka_code})"
    if isinstance(err, klog.KlogError) and err.retriable:
        return "retry"
    return "ok"


if __name__ == "__main__":
    import tempfile

    with klog.open(tempfile.mkdtemp()) as broker:
        print(produce_and_read(broker, "typed"))
        print(asyncio.run(async_part(broker, "typed")))
        print(handle(None))

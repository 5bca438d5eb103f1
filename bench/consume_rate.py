"""Consume rate of one partition with librdkafka's batch API (confluent-kafka).

kcat hands records to its output one at a time and tops out below the broker's
rate for small records; `Consumer.consume(num_messages=...)` shows what the broker
serves to a librdkafka consumer that keeps up.

usage: consume_rate.py BOOTSTRAP TOPIC COUNT SIZE   (prints one Markdown table row)
"""

import sys
import time

from confluent_kafka import Consumer, TopicPartition


def main() -> None:
    bootstrap, topic, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "klog-bench",
        "enable.auto.commit": False,
        "queued.min.messages": 1_000_000,
        "fetch.wait.max.ms": 100,
    })
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = 0
    deadline = time.monotonic() + 120
    start = time.perf_counter()
    while got < count and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=100_000, timeout=1.0):
            if message.error() is None:
                got += 1
    seconds = time.perf_counter() - start
    consumer.close()
    if got < count:
        sys.exit(f"consumed {got} of {count} records before the deadline")
    print(f"| consume (confluent-kafka batch API) | {got:,} | {size} B | {seconds:.2f} | "
          f"{got / seconds:,.0f} | {got * size / seconds / 1e6:,.1f} |")


if __name__ == "__main__":
    main()

"""Producer and consumer group against a Kafka-compatible server.

    target/release/klog-server --data-dir /tmp/klog &   # prints its address
    python3 examples/python/producer_consumer.py 127.0.0.1:9092
"""

import sys

import klog

bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
topic = "orders"

with klog.Admin(bootstrap) as admin:
    try:
        admin.create_topic(topic, 3)
    except klog.AlreadyExistsError:
        pass

delivered = []
with klog.Producer(bootstrap, acks="all", linger_ms=5, compression_type="lz4") as producer:
    for i in range(1000):
        producer.produce(topic, b'{"order": %d}' % i, key=b"customer-%d" % (i % 10),
                         on_delivery=lambda err, md: delivered.append(err or md))
    producer.flush()
print("delivered", len(delivered), "records")

with klog.Consumer(bootstrap, group_id="billing", topics=topic,
                   auto_offset_reset="earliest", enable_auto_commit=False) as consumer:
    seen = 0
    while seen < 1000:
        batch = consumer.poll_batch(timeout=2.0)
        if not batch:
            break
        seen += len(batch)
        consumer.commit()  # after processing: at-least-once
    print("consumed", seen, "records; lag:", consumer.lag())

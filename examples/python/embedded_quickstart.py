"""Embedded quick start: a broker inside this process, no server to run.

    python3 examples/python/embedded_quickstart.py [DATA_DIR]
"""

import sys
import tempfile

import klog

path = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="klog-")

with klog.open(path) as db:  # opens or creates the directory, like SQLite
    with db.admin() as admin:
        if "greetings" not in [t.name for t in admin.list_topics()]:
            admin.create_topic("greetings", 1)

    with db.producer() as producer:
        for i in range(5):
            producer.produce("greetings", f"hello #{i}", key="demo")
        metadata = producer.send("greetings", b"and a future").result()
        print("last record stored at", metadata)

    with db.consumer(auto_offset_reset="earliest") as consumer:
        consumer.assign([("greetings", 0)])
        for record in consumer.poll_batch(timeout=2.0):
            print(record.offset, record.key, record.value)

    # Other processes (any Kafka client) can connect while it listens:
    print("serving on", db.listen("127.0.0.1:0"))
print("data kept in", path)

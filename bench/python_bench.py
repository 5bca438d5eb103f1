#!/usr/bin/env python3
"""klog's Python client vs confluent-kafka against one klog-server.

Produces N records of SIZE bytes with each client (one call per record, both
with acks=all, linger.ms=5, no compression), consumes them back (touching each
record's value), and consumes klog's copy again as pyarrow RecordBatches.
Prints a Markdown table with records/s and klog/confluent ratios.

    python3 bench/python_bench.py                 # starts target/release/klog-server
    python3 bench/python_bench.py --bootstrap 127.0.0.1:9092 --records 200000

Environment: KLOG_SERVER_BIN (server binary), BENCH_DIR (data directory parent).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_server(base: Path):
    spec = importlib.util.spec_from_file_location("klog_interop_conftest", ROOT / "tests" / "interop" / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    srv = module.KlogServer(base / "data", base / "logs", name="bench")
    srv.start()
    return srv


FIRST: list = []


def timed(fn):
    """Runs fn; returns (seconds in total, seconds from the first record consumed, if noted)."""
    FIRST.clear()
    t = time.perf_counter()
    fn()
    end = time.perf_counter()
    return end - t, end - (FIRST[0] if FIRST else t)


def first():
    if not FIRST:
        FIRST.append(time.perf_counter())


def klog_produce(bootstrap, topic, n, payload):
    import klog

    with klog.Producer(bootstrap, acks="all", linger_ms=5) as p:
        produce = p.produce
        for _ in range(n):
            produce(topic, payload)
        p.flush()
    return n


def klog_produce_batch(bootstrap, topic, n, payload):
    import klog

    with klog.Producer(bootstrap, acks="all", linger_ms=5) as p:
        chunk = [payload] * 10_000
        done = 0
        while done < n:
            done += p.produce_batch(topic, chunk[: n - done])
        p.flush()
    return n


def confluent_produce(bootstrap, topic, n, payload):
    import confluent_kafka

    p = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    produce = p.produce
    for _ in range(n):
        while True:
            try:
                produce(topic, payload)
                break
            except BufferError:
                p.poll(0.001)
    left = p.flush(120)
    assert left == 0, f"{left} records not delivered"
    return n


def klog_consume(bootstrap, topic, partitions, n):
    import klog

    with klog.Consumer(bootstrap, auto_offset_reset="earliest") as c:
        c.assign([(topic, p) for p in range(partitions)])
        got = 0
        size = 0
        while got < n:
            for r in c.poll_batch(timeout=5.0, max_records=10_000):
                size += len(r.value)
                got += 1
            first()
    return got


def klog_consume_iter(bootstrap, topic, partitions, n):
    import klog

    c = klog.Consumer(bootstrap, auto_offset_reset="earliest")
    c.assign([(topic, p) for p in range(partitions)])
    got = 0
    size = 0
    for r in c:
        first()
        size += len(r.value)
        got += 1
        if got == n:
            break
    c.close()
    return got


def klog_consume_arrow(bootstrap, topic, partitions, n):
    import klog

    with klog.Consumer(bootstrap, auto_offset_reset="earliest") as c:
        c.assign([(topic, p) for p in range(partitions)])
        got = 0
        while got < n:
            got += c.poll_arrow(timeout=5.0, max_records=100_000).num_rows
            first()
    return got


def confluent_consume(bootstrap, topic, partitions, n):
    import confluent_kafka

    c = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # librdkafka's best settings for this workload (as bench/consume_rate.py).
            "queued.min.messages": 1_000_000,
            "fetch.wait.max.ms": 100,
        }
    )
    c.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in range(partitions)])
    got = 0
    size = 0
    while got < n:
        for m in c.consume(num_messages=100_000, timeout=5.0):
            if m.error():
                continue
            size += len(m.value())
            got += 1
        if got:
            first()
    c.close()
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", help="use a running broker instead of starting klog-server")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=1)
    args = ap.parse_args()

    import klog

    n, payload = args.records, os.urandom(args.size // 2).hex().encode()[: args.size]
    srv = None
    tmp = None
    if args.bootstrap:
        bootstrap = args.bootstrap
    else:
        tmp = tempfile.TemporaryDirectory(prefix="klog-pybench-", dir=os.environ.get("BENCH_DIR"))
        srv = start_server(Path(tmp.name))
        bootstrap = srv.bootstrap
    tag = uuid.uuid4().hex[:6]
    topics = {name: f"pybench-{name}-{tag}" for name in ("klog", "klog-batch", "confluent")}
    try:
        with klog.Admin(bootstrap) as admin:
            for t in topics.values():
                admin.create_topic(t, args.partitions)
        rows = []
        t_k, _ = timed(lambda: klog_produce(bootstrap, topics["klog"], n, payload))
        t_c, _ = timed(lambda: confluent_produce(bootstrap, topics["confluent"], n, payload))
        t_kb, _ = timed(lambda: klog_produce_batch(bootstrap, topics["klog-batch"], n, payload))
        rows.append(("produce, one call per record", n / t_k, n / t_c))
        rows.append(("produce, `produce_batch` (klog) vs per record (confluent)", n / t_kb, n / t_c))
        c_k, f_k = timed(lambda: klog_consume(bootstrap, topics["klog"], args.partitions, n))
        c_c, f_c = timed(lambda: confluent_consume(bootstrap, topics["confluent"], args.partitions, n))
        c_ki, f_ki = timed(lambda: klog_consume_iter(bootstrap, topics["klog"], args.partitions, n))
        c_ka, f_ka = timed(lambda: klog_consume_arrow(bootstrap, topics["klog"], args.partitions, n))
        rows.append(("consume, `poll_batch` (klog) vs `consume(100000)` (confluent)", n / c_k, n / c_c))
        rows.append(("consume, `for record in consumer` (klog)", n / c_ki, n / c_c))
        rows.append(("consume as Arrow RecordBatches (klog)", n / c_ka, n / c_c))
        rows.append(("consume, `poll_batch`, from the first record", n / f_k, n / f_c))
        rows.append(("consume, `for record in consumer`, from the first record", n / f_ki, n / f_c))
        rows.append(("consume as Arrow RecordBatches, from the first record", n / f_ka, n / f_c))

        import confluent_kafka

        print(f"### klog Python client vs confluent-kafka ({time.strftime('%Y-%m-%d')})\n")
        print(
            f"{n:,} records × {args.size} B, {args.partitions} partition(s), one klog-server on the same machine "
            f"({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}); Python {platform.python_version()}, "
            f"klog {klog.__version__}, confluent-kafka {confluent_kafka.__version__} "
            f"(librdkafka {confluent_kafka.libversion()[0]}). acks=all, linger.ms=5, no compression.\n"
        )
        print("| workload | klog (records/s) | confluent-kafka (records/s) | ratio |")
        print("|---|---:|---:|---:|")
        for name, k, c in rows:
            print(f"| {name} | {k:,.0f} | {c:,.0f} | {k / c:.2f}× |")
        mb = n * args.size / 1e6
        print(
            f"\nConsume times include connecting and the first fetch; the 'from the first record' rows leave "
            f"that out. Arrow consume: {mb / f_ka:,.0f} MB/s of values from the first record."
        )
    finally:
        if srv is not None:
            srv.close()
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

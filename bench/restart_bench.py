#!/usr/bin/env python3
"""Broker restart and shutdown with many partitions: klog-server vs Apache Kafka.

For each broker and each partition count N it creates a topic of N partitions,
writes RECORDS records to every partition, commits offsets for a consumer group,
stops the broker (SIGTERM) and then measures, over ROUNDS restarts:

- ready: process start -> first answered ApiVersions, and -> first Metadata answer
  that lists a broker (the first moment a client can do anything);
- accept: process start -> first accepted TCP connection (a gap between accept and
  ready means clients connect to a broker that cannot answer yet);
- RSS: the broker's resident memory once it answers (after the first restart's
  read-back check of every partition);
- stop: SIGTERM -> process exit, with IDLE idle client connections open and one
  consumer in a group long-polling.

Loopback only, free ports, temporary data directories, every wait bounded.
Prints a Markdown report. Kafka runs from the jars in tests/interop/reference/lib
(KRaft, one node). With STRACE=1 the klog restarts also run under `strace -c -f`
and the sync syscalls are counted.

    python3 bench/restart_bench.py                # klog and kafka, N = 100 and 1000
    BROKERS=klog PARTITIONS=1000 python3 bench/restart_bench.py
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KLOG_BIN = os.environ.get("KLOG_SERVER_BIN", os.path.join(ROOT, "target", "release", "klog-server"))
KAFKA_LIB = os.environ.get("KAFKA_REFERENCE_LIB", os.path.join(ROOT, "tests", "interop", "reference", "lib"))
PARTITIONS = [int(n) for n in os.environ.get("PARTITIONS", "100,1000").split(",")]
BROKERS = os.environ.get("BROKERS", "klog,kafka").split(",")
RECORDS = int(os.environ.get("RECORDS", "20"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
IDLE = int(os.environ.get("IDLE", "5"))
START_TIMEOUT = float(os.environ.get("START_TIMEOUT", "180"))
STOP_TIMEOUT = float(os.environ.get("STOP_TIMEOUT", "60"))
TOPIC = "restart-bench"
SYNC_CALLS = ("fsync", "fdatasync", "msync", "sync_file_range", "rename", "renameat", "renameat2")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(sock, api_key, version, body, correlation=1):
    """Sends one request (header v1) and returns the response body after the correlation id."""
    client = b"bench"
    header = struct.pack(">hhih", api_key, version, correlation, len(client)) + client
    frame = header + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, size)[4:]


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def probe(port, deadline):
    """Polls until ApiVersions and Metadata (with a broker) answer: (accept, api, meta) seconds."""
    t0 = time.monotonic()
    accept = api = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                accept = accept or time.monotonic()
                s.settimeout(5)
                request(s, 18, 0, b"")
                api = api or time.monotonic()
                meta = request(s, 3, 1, struct.pack(">i", 0), 2)
                if struct.unpack(">i", meta[:4])[0] > 0:
                    return accept - t0, api - t0, time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.005)
    raise TimeoutError("broker did not answer")


class Klog:
    name = "klog-server"

    def __init__(self, data):
        self.data, self.port = data, free_port()
        os.makedirs(data, exist_ok=True)

    def command(self):
        return [KLOG_BIN, "--data-dir", self.data, "--listeners", f"PLAINTEXT://127.0.0.1:{self.port}",
                "--group-initial-rebalance-delay-ms", "0"]

    def start(self, strace_out=None):
        cmd = self.command()
        if strace_out:
            cmd = ["strace", "-c", "-f", "-o", strace_out] + cmd
        log = open(os.path.join(self.data, "klog.err"), "ab")
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)


class Kafka:
    name = "Apache Kafka"

    def __init__(self, data):
        self.data, self.port, self.controller = data, free_port(), free_port()
        self.props = os.path.join(data, "server.properties")
        os.makedirs(data, exist_ok=True)
        with open(self.props, "w") as f:
            f.write(f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{self.controller}
listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}/kafka-logs
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
""")
        subprocess.run(self.java() + ["kafka.tools.StorageTool", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg",
                                      "-c", self.props], check=True, stdout=subprocess.DEVNULL)

    def java(self):
        return ["java", "-Xmx1g", "-cp", os.path.join(KAFKA_LIB, "*")]

    def start(self, strace_out=None):
        log = open(os.path.join(self.data, "kafka.out"), "ab")
        return subprocess.Popen(self.java() + ["kafka.Kafka", self.props], stdout=log, stderr=log)


def populate(broker, n):
    """Creates the topic, writes RECORDS records per partition and commits offsets."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    bootstrap = f"127.0.0.1:{broker.port}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, n, 1)])[TOPIC].result(60)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    for p in range(n):
        for i in range(RECORDS):
            producer.produce(TOPIC, value=b"v%06d" % i, partition=p)
        producer.poll(0)
    assert producer.flush(60) == 0, "records not delivered"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(TOPIC, p, RECORDS // 2) for p in range(n)], asynchronous=False)
    consumer.close()


def check(broker, n):
    """After a restart: every partition holds its records and the group its offsets."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{broker.port}", "group.id": "bench"})
    parts = [TopicPartition(TOPIC, p) for p in range(0, n, max(1, n // 20))]
    deadline = time.monotonic() + 60
    while True:  # Kafka answers NOT_COORDINATOR while it loads the offsets partition
        try:
            committed = consumer.committed(parts, timeout=30)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert all(tp.offset == RECORDS // 2 for tp in committed), committed
    for tp in parts:
        low, high = consumer.get_watermark_offsets(tp, timeout=10)
        assert (low, high) == (0, RECORDS), (tp, low, high)
    consumer.close()


def idle_clients(broker):
    """IDLE connected idle sockets plus one consumer long-polling in a group."""
    from confluent_kafka import Consumer
    socks = []
    for _ in range(IDLE):
        s = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
        request(s, 18, 0, b"")
        socks.append(s)
    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{broker.port}", "group.id": "idle",
                         "auto.offset.reset": "latest", "fetch.wait.max.ms": 5000, "log_level": 0})
    consumer.subscribe([TOPIC])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    return socks, consumer


def stop(proc, clients):
    """SIGTERM -> exit in seconds, idle clients connected."""
    socks, consumer = clients
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    deadline = t0 + STOP_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline:
        consumer.poll(0.01)
    elapsed = time.monotonic() - t0
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        elapsed = float("inf")
    for s in socks:
        s.close()
    consumer.close()
    return elapsed, proc.returncode


def strace_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[-1] in SYNC_CALLS:
                counts[parts[-1]] = int(parts[3])
    return counts


def run(kind, n, work):
    data = os.path.join(work, f"{kind}-{n}")
    broker = Klog(data) if kind == "klog" else Kafka(data)
    proc = broker.start()
    probe(broker.port, time.monotonic() + START_TIMEOUT)
    t_pop = time.monotonic()
    populate(broker, n)
    populate_s = time.monotonic() - t_pop
    first_stop = stop(proc, ([], _NoConsumer()))[0]
    rows = []
    for r in range(ROUNDS):
        proc = broker.start()
        accept, api, meta = probe(broker.port, time.monotonic() + START_TIMEOUT)
        if r == 0:
            check(broker, n)
        rss = rss_mib(proc.pid)
        clients = idle_clients(broker)
        stop_s, rc = stop(proc, clients)
        rows.append((accept, api, meta, stop_s, rss, rc))
    syncs = None
    if kind == "klog" and os.environ.get("STRACE") == "1" and shutil.which("strace"):
        out = os.path.join(work, f"strace-{n}.txt")
        proc = broker.start(strace_out=out)
        probe(broker.port, time.monotonic() + START_TIMEOUT)
        stop(proc, ([], _NoConsumer()))
        syncs = strace_counts(out)
    return broker.name, populate_s, first_stop, rows, syncs


def rss_mib(pid):
    """Resident memory of `pid` in MiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _NoConsumer:
    def poll(self, timeout):
        time.sleep(timeout)

    def close(self):
        pass


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    work = tempfile.mkdtemp(prefix="klog-restart-", dir=os.environ.get("BENCH_DIR"))
    print(f"Restart benchmark: {RECORDS} records per partition, {ROUNDS} restarts, "
          f"{IDLE} idle connections + 1 group consumer at SIGTERM; medians in seconds.\n")
    print("| broker | partitions | accept | ApiVersions | Metadata | SIGTERM -> exit | RSS MiB when ready "
          "| exit codes | stop after writes |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    strace_rows = []
    try:
        for n in PARTITIONS:
            for kind in BROKERS:
                name, _, first_stop, rows, syncs = run(kind, n, work)
                cols = [median([r[i] for r in rows]) for i in range(4)]
                rss = median([r[4] for r in rows])
                codes = ",".join(str(r[5]) for r in rows)
                print(f"| {name} | {n} | " + " | ".join(f"{c:.3f}" for c in cols) +
                      f" | {rss:.0f} | {codes} | {first_stop:.3f} |", flush=True)
                if syncs is not None:
                    strace_rows.append((n, syncs))
    finally:
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    if strace_rows:
        print("\nSync syscalls of one klog-server restart (open + idle + close), `strace -c -f`:\n")
        print("| partitions | " + " | ".join(SYNC_CALLS) + " |")
        print("|---:|" + "---:|" * len(SYNC_CALLS))
        for n, syncs in strace_rows:
            print(f"| {n} | " + " | ".join(str(syncs.get(c, 0)) for c in SYNC_CALLS) + " |")


if __name__ == "__main__":
    sys.exit(main())

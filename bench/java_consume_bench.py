#!/usr/bin/env python3
"""Consume throughput of klog-server and Apache Kafka, side by side, measured
with Kafka's own Java tools (ProducerPerformance to fill a topic,
ConsumerPerformance to read it back), on loopback, in one run.

For each broker and for 1 and 6 partitions: create a topic, produce RECORDS
records of 100 B, then consume them all with one consumer; report records/s
(ConsumerPerformance's fetch rate, without the group join), the consumer's mean
fetch latency (ms per fetch) and size, and the broker's CPU seconds during the
consume (utime + stime from /proc/<pid>/stat). Prints a Markdown table.

    python3 bench/java_consume_bench.py               # 3,000,000 records per topic
    RECORDS=500000 python3 bench/java_consume_bench.py

Needs Java 17 and the Kafka jars (kafka_2.13 and kafka-tools) in
tests/interop/reference/lib:
    (cd tests/interop/reference && mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib)
Environment: KLOG_SERVER_BIN (default target/release/klog-server, or
$CARGO_TARGET_DIR/release/klog-server), RECORDS, BENCH_DIR (temp parent).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "tests", "interop", "reference", "lib")
RECORDS = int(os.environ.get("RECORDS", "3000000"))
# BROKERS=klog (or kafka) runs one side only.
JAVA = ["java", "-Xmx1g", "-cp", os.path.join(LIB, "*")]
TICKS = os.sysconf("SC_CLK_TCK")


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def server_bin():
    if os.environ.get("KLOG_SERVER_BIN"):
        return os.environ["KLOG_SERVER_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    path = os.path.join(target, "release", "klog-server")
    if not os.path.exists(path):
        subprocess.run(["cargo", "build", "--release", "-p", "klog-server"], cwd=ROOT, check=True)
    return path


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def jvm_child(pid):
    """The broker JVM started by kafka-as-klog.py (the process to measure)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else pid


class Broker:
    def __init__(self, name, argv):
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (\S+)", line)
        if not m:
            raise SystemExit(f"{name} did not start: {line!r}")
        self.addr = m.group(1)
        self.pid = jvm_child(self.proc.pid) if name == "kafka" else self.proc.pid
        log(f"{name} on {self.addr} (pid {self.pid})")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tool(cls, *args, timeout=600):
    r = subprocess.run(JAVA + [cls, *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"{cls} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def run_case(broker, partitions):
    topic = f"perf-{partitions}p"
    tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", broker.addr, "--create",
         "--topic", topic, "--partitions", str(partitions), "--replication-factor", "1")
    tool("org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", str(RECORDS),
         "--record-size", "100", "--throughput", "-1", "--producer-props",
         f"bootstrap.servers={broker.addr}", "acks=1", "linger.ms=5", "batch.size=65536")
    before = cpu_seconds(broker.pid)
    extra = []
    if os.environ.get("CONSUMER_PROPS"):
        # CONSUMER_PROPS="receive.buffer.bytes=-1,fetch.max.bytes=1048576": consumer settings to try.
        props = os.path.join(tempfile.gettempdir(), f"klog-consumer-{os.getpid()}.properties")
        with open(props, "w") as f:
            f.write("\n".join(os.environ["CONSUMER_PROPS"].split(",")) + "\n")
        extra = ["--consumer.config", props]
    out = tool("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", broker.addr,
               "--topic", topic, "--messages", str(RECORDS), "--timeout", "60000", "--print-metrics",
               "--group", f"bench-{partitions}-{time.time_ns()}", *extra)
    cpu = cpu_seconds(broker.pid) - before
    return parse_consumer(out) | {"cpu": cpu}


def parse_consumer(out):
    lines = out.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("start.time"))
    names = [n.strip() for n in lines[header].split(",")]
    values = [v.strip() for v in lines[header + 1].split(",")]
    row = dict(zip(names, values))

    def metric(name):
        m = re.search(rf"consumer-fetch-manager-metrics:{name}:\{{client-id=[^}}]*\}}\s*:\s*([\d.Ee+-]+)", out)
        return float(m.group(1)) if m else float("nan")

    return {
        "records": int(row["data.consumed.in.nMsg"]),
        "rate": float(row["fetch.nMsg.sec"]),
        "fetch_ms": metric("fetch-latency-avg"),
        "fetch_kib": metric("fetch-size-avg") / 1024,
    }


def main():
    if not os.path.isdir(LIB) or not any("kafka-tools-" in f for f in os.listdir(LIB)):
        raise SystemExit("Kafka jars missing: (cd tests/interop/reference && "
                         "mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib)")
    tmp = tempfile.mkdtemp(prefix="klog-java-bench.", dir=os.environ.get("BENCH_DIR"))
    results = {}
    try:
        brokers = {
            "klog": [server_bin(), "--data-dir", f"{tmp}/klog", "--listeners", "PLAINTEXT://127.0.0.1:0"],
            "kafka": [sys.executable, os.path.join(ROOT, "tests/interop/reference/kafka-as-klog.py"),
                      "--data-dir", f"{tmp}/kafka", "--auto-create-topics", "false"],
        }
        for name in os.environ.get("BROKERS", "klog,kafka").split(","):
            broker = Broker(name, brokers[name])
            try:
                for partitions in (1, 6):
                    log(f"{name}: {partitions} partition(s), {RECORDS} records")
                    results[(name, partitions)] = run_case(broker, partitions)
                    log(results[(name, partitions)])
            finally:
                broker.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)


def report(results):
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu}, {os.cpu_count()} cores. {RECORDS} records of 100 B per topic, one consumer.\n")
    print("| broker | partitions | records/s | ms per fetch | KiB per fetch | broker CPU s | CPU µs per 1k records |")
    print("|---|---|---|---|---|---|---|")
    for (name, partitions), r in results.items():
        per_k = r["cpu"] / r["records"] * 1e9
        print(f"| {name} | {partitions} | {r['rate']:,.0f} | {r['fetch_ms']:.1f} | {r['fetch_kib']:,.0f} "
              f"| {r['cpu']:.2f} | {per_k:.0f} |")
    print()
    for partitions in (1, 6):
        k, a = results.get(("klog", partitions)), results.get(("kafka", partitions))
        if k and a:
            print(f"- {partitions} partition(s): klog/Kafka records/s = {k['rate'] / a['rate']:.2f}x, "
                  f"broker CPU per record = {(k['cpu'] / k['records']) / (a['cpu'] / a['records']):.2f}x Kafka's")


if __name__ == "__main__":
    main()

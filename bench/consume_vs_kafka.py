#!/usr/bin/env python3
"""Consume throughput of klog-server and Apache Kafka, side by side, on
loopback, in one run: Kafka's own Java tools fill the topics
(ProducerPerformance) and read them back (ConsumerPerformance, CLIENTS=java),
and a librdkafka consumer reads them too (bench/rdkafka_consume.c,
CLIENTS=rdkafka; fast enough that the broker's serving shows, where the Java
consumer is itself the bottleneck on a small machine).

Both brokers run at once (the idle one costs next to nothing). Each gets a
1-partition and a 6-partition topic filled with RECORDS records of 100 B; then
ROUNDS rounds each read every topic once with one consumer, alternating the
brokers so that a change in the machine's speed hits both alike. Reported per
case: the median records/s (ConsumerPerformance's fetch rate, without the group
join) with the range over the rounds, the consumer's mean fetch latency (ms per
fetch) and size, and the broker's CPU seconds during the consume (utime + stime
from /proc/<pid>/stat), medians too. Prints a Markdown table.

    python3 bench/consume_vs_kafka.py               # 3,000,000 records, 3 rounds
    RECORDS=4000000 ROUNDS=5 python3 bench/consume_vs_kafka.py

Needs Java 17 and the Kafka jars (kafka_2.13 and kafka-tools) in
tests/interop/reference/lib:
    (cd tests/interop/reference && mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib)
Environment: KLOG_SERVER_BIN (default target/release/klog-server, or
$CARGO_TARGET_DIR/release/klog-server), RECORDS, ROUNDS, BROKERS (klog,kafka),
CONSUMER_PROPS (k=v,... consumer settings to try), BENCH_DIR (temp parent).
"""
import os
import re
import shutil
from statistics import median
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "tests", "interop", "reference", "lib")
RECORDS = int(os.environ.get("RECORDS", "3000000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
# java: Kafka's ConsumerPerformance; rdkafka: bench/rdkafka_consume.c (librdkafka's batch API);
# klog: klog's own Rust consumer (bench/client, `klog-bench consume`).
CLIENTS = os.environ.get("CLIENTS", "java").split(",")
PARTITIONS = (1, 6)
# BROKERS=klog (or kafka) runs one side only.
RDKAFKA = None  # the built rdkafka_consume, when CLIENTS has it
KLOG_BENCH = None  # the built klog-bench, when CLIENTS has it
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


def fill(broker, partitions):
    """Creates `perf-<n>p` with `partitions` partitions and writes RECORDS records."""
    topic = f"perf-{partitions}p"
    tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", broker.addr, "--create",
         "--topic", topic, "--partitions", str(partitions), "--replication-factor", "1")
    tool("org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", str(RECORDS),
         "--record-size", "100", "--throughput", "-1", "--producer-props",
         f"bootstrap.servers={broker.addr}", "acks=1", "linger.ms=5", "batch.size=65536")


def rdkafka_tool():
    """Builds bench/rdkafka_consume.c (needs librdkafka-dev) into a temp dir."""
    out = os.path.join(tempfile.gettempdir(), f"klog-rdkafka-consume-{os.getpid()}")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True, text=True,
                           check=True).stdout.split()
    subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Werror", os.path.join(ROOT, "bench", "rdkafka_consume.c"),
                    "-o", out, *flags], check=True)
    return out


def consume(client, broker, partitions):
    """Reads the whole topic once with `client`: rate, fetch figures, broker CPU."""
    before = cpu_seconds(broker.pid)
    if client == "klog":
        r = subprocess.run([KLOG_BENCH, "consume", "--bootstrap", broker.addr, "--topic", f"perf-{partitions}p",
                            "--partitions", str(partitions), "--count", str(RECORDS)],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"klog-bench consume failed:\n{r.stderr}")
        rate = float(r.stdout.split("|")[5].replace(",", ""))  # | klog consume (tcp) | count | size | s | rate |
        figures = {"records": RECORDS, "rate": rate, "fetch_ms": float("nan"), "fetch_kib": float("nan")}
    elif client == "rdkafka":
        r = subprocess.run([RDKAFKA, broker.addr, f"perf-{partitions}p", str(partitions), str(RECORDS)],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"rdkafka_consume failed:\n{r.stderr}")
        rate = float(r.stdout.split()[0])
        figures = {"records": RECORDS, "rate": rate, "fetch_ms": float("nan"), "fetch_kib": float("nan")}
    else:
        figures = java_consume(broker, partitions)
    return figures | {"cpu": cpu_seconds(broker.pid) - before}


def java_consume(broker, partitions):
    """ConsumerPerformance over the whole topic with a new group."""
    extra = []
    if os.environ.get("CONSUMER_PROPS"):
        props = os.path.join(tempfile.gettempdir(), f"klog-consumer-{os.getpid()}.properties")
        with open(props, "w") as f:
            f.write("\n".join(os.environ["CONSUMER_PROPS"].split(",")) + "\n")
        extra = ["--consumer.config", props]
    out = tool("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", broker.addr,
               "--topic", f"perf-{partitions}p", "--messages", str(RECORDS), "--timeout", "60000",
               "--print-metrics", "--group", f"bench-{partitions}-{time.time_ns()}", *extra)
    return parse_consumer(out)


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
    global RDKAFKA, KLOG_BENCH
    if "rdkafka" in CLIENTS:
        RDKAFKA = rdkafka_tool()
    if "klog" in CLIENTS:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "klog-bench"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        KLOG_BENCH = os.path.join(target, "release", "klog-bench")
    if not os.path.isdir(LIB) or not any("kafka-tools-" in f for f in os.listdir(LIB)):
        raise SystemExit("Kafka jars missing: (cd tests/interop/reference && "
                         "mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib)")
    tmp = tempfile.mkdtemp(prefix="klog-java-bench.", dir=os.environ.get("BENCH_DIR"))
    argv = {
        "klog": [server_bin(), "--data-dir", f"{tmp}/klog", "--listeners", "PLAINTEXT://127.0.0.1:0"],
        "kafka": [sys.executable, os.path.join(ROOT, "tests/interop/reference/kafka-as-klog.py"),
                  "--data-dir", f"{tmp}/kafka", "--auto-create-topics", "false"],
    }
    brokers = []
    results = {}
    try:
        for name in os.environ.get("BROKERS", "klog,kafka").split(","):
            brokers.append(Broker(name, argv[name]))
        for broker in brokers:
            for partitions in PARTITIONS:
                log(f"{broker.name}: filling {partitions} partition(s) with {RECORDS} records")
                fill(broker, partitions)
        for round_ in range(ROUNDS):
            # Alternate which broker goes first, so neither always reads right after a fill.
            for broker in brokers if round_ % 2 == 0 else brokers[::-1]:
                for client in CLIENTS:
                    for partitions in PARTITIONS:
                        r = consume(client, broker, partitions)
                        results.setdefault((client, broker.name, partitions), []).append(r)
                        log(f"round {round_ + 1}: {client} {broker.name} {partitions}p {r}")
    finally:
        for broker in brokers:
            broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)


def report(results):
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu}, {os.cpu_count()} cores. {RECORDS} records of 100 B per topic, one consumer, "
          f"{ROUNDS} rounds (medians; records/s range in brackets).\n")
    print("| client | broker | partitions | records/s | ms per fetch | KiB per fetch | broker CPU s "
          "| CPU µs per 1k records |")
    print("|---|---|---|---|---|---|---|---|")
    rates = {}
    for (client, name, partitions), runs in sorted(results.items()):
        rate = median([r["rate"] for r in runs])
        rates[(client, name, partitions)] = rate
        cpu = median([r["cpu"] for r in runs])
        low, high = min(r["rate"] for r in runs), max(r["rate"] for r in runs)
        print(f"| {client} | {name} | {partitions} | {rate:,.0f} [{low:,.0f}–{high:,.0f}] "
              f"| {median([r['fetch_ms'] for r in runs]):.1f} | {median([r['fetch_kib'] for r in runs]):,.0f} "
              f"| {cpu:.2f} | {cpu / runs[0]['records'] * 1e9:.0f} |")
    print()
    for client in CLIENTS:
        for partitions in PARTITIONS:
            k, a = results.get((client, "klog", partitions)), results.get((client, "kafka", partitions))
            if not (k and a):
                continue
            ratios = sorted(x["rate"] / y["rate"] for x, y in zip(k, a))
            cpu_ratio = median([r["cpu"] for r in k]) / median([r["cpu"] for r in a])
            print(f"- {client}, {partitions} partition(s): klog/Kafka records/s = "
                  f"{rates[(client, 'klog', partitions)] / rates[(client, 'kafka', partitions)]:.2f}x "
                  f"(per round {ratios[0]:.2f}–{ratios[-1]:.2f}), broker CPU per record = {cpu_ratio:.2f}x Kafka's")


if __name__ == "__main__":
    main()

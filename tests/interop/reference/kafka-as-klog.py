#!/usr/bin/env python3
"""Run a real Apache Kafka broker (KRaft, single node) behind klog-server's
command-line contract, to check the interop tests themselves: a test that
fails against klog but passes here points at klog, not at the test.

One-time setup (Java 17 and Maven; jars come from Maven Central):

    mvn -q -B -f tests/interop/reference/pom.xml dependency:copy-dependencies \
        -DoutputDirectory=lib

Then run any suite with it in place of the klog binary:

    KLOG_SERVER_BIN=$PWD/tests/interop/reference/kafka-as-klog.py \
        KLOG_TEST_START_TIMEOUT=90 python3 -m pytest tests/interop -q
    KLOG_SERVER_BIN=$PWD/tests/interop/reference/kafka-as-klog.py \
        node --test --test-concurrency=1 tests/interop/node/

Accepts the flags the tests use (--data-dir, --listeners with port 0,
--num-partitions, --auto-create-topics, --group-initial-rebalance-delay-ms) and
prints the same ready line.  The JVM dies with this process (PDEATHSIG).
"""
import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.environ.get("KAFKA_REFERENCE_LIB", os.path.join(HERE, "lib"))

ap = argparse.ArgumentParser()
ap.add_argument("--data-dir", required=True)
ap.add_argument("--listeners", default="PLAINTEXT://127.0.0.1:0")
ap.add_argument("--num-partitions", default="1")
ap.add_argument("--auto-create-topics", default="true")
ap.add_argument("--group-initial-rebalance-delay-ms", default="3000")
args, _unknown = ap.parse_known_args()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


port, controller_port = free_port(), free_port()
os.makedirs(args.data_dir, exist_ok=True)
props = os.path.join(args.data_dir, "server.properties")
with open(props, "w") as f:
    f.write(f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={args.data_dir}/kafka-logs
num.partitions={args.num_partitions}
auto.create.topics.enable={args.auto_create_topics}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms={args.group_initial_rebalance_delay_ms}
""")

java = ["java", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", os.path.join(LIB, "*")]
if not os.path.exists(os.path.join(args.data_dir, "kafka-logs", "meta.properties")):
    subprocess.run(java + ["kafka.tools.StorageTool", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", props],
                   check=True, stdout=sys.stderr)


def die_with_parent():
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


child = subprocess.Popen(java + ["kafka.Kafka", props], stdout=sys.stderr, preexec_fn=die_with_parent)
signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
signal.signal(signal.SIGINT, lambda *_: child.send_signal(signal.SIGTERM))
while True:
    if child.poll() is not None:
        sys.exit(child.returncode)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.2)
time.sleep(1)  # let the broker register with its controller
print(f"klog-server listening on 127.0.0.1:{port}", flush=True)
rc = child.wait()
sys.exit(0 if rc in (0, 143) else rc)

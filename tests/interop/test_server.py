"""klog-server's process contract (flags, environment, ready line, signals,
crash recovery), exercised through confluent-kafka."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from conftest import READY_RE, server_bin

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402


def produce(bootstrap, topic, values, **conf):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    errors, offsets = [], []

    def cb(err, msg):
        (errors.append(err) if err else offsets.append(msg.offset()))

    for v in values:
        p.produce(topic, v, on_delivery=cb)
        p.poll(0)
    p.flush(30)
    return offsets, errors


def read_all(bootstrap, topic, n, timeout=20):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        out = []
        import time
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out.append((m.offset(), m.value()))
        return out, c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
    finally:
        c.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_shut_down_cleanly(server, topic_name, sig):
    offsets, errors = produce(server.bootstrap, topic_name, [b"a", b"b"])
    assert errors == [] and offsets == [0, 1]
    proc = server.proc
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == 0, f"exit code after {sig.name}"
    server._forget()
    server.start()
    got, marks = read_all(server.bootstrap, topic_name, 2)
    assert got == [(0, b"a"), (1, b"b")]
    assert marks == (0, 2)


def test_ready_line_names_the_bound_port(server):
    assert READY_RE.match(f"klog-server listening on {server.bootstrap}\n")
    assert server.port != 0
    md = AdminClient({"bootstrap.servers": server.bootstrap}).list_topics(timeout=10)
    assert {b.id: (b.host, b.port) for b in md.brokers.values()} == {1: ("127.0.0.1", server.port)}


def test_configuration_from_environment(tmp_path, topic_name):
    env = dict(os.environ, KLOG_DATA_DIR=str(tmp_path / "envdata"),
               KLOG_LISTENERS="PLAINTEXT://127.0.0.1:0", KLOG_NODE_ID="7",
               KLOG_NUM_PARTITIONS="3", KLOG_GROUP_INITIAL_REBALANCE_DELAY_MS="0", NO_COLOR="1")
    proc = subprocess.Popen([str(server_bin())], env=env, stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "stderr.log", "wb"), stdin=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode()
        m = READY_RE.match(line)
        assert m, f"unexpected first stdout line {line!r}; stderr: {(tmp_path / 'stderr.log').read_text()}"
        bootstrap = f"{m.group(1)}:{m.group(2)}"
        offsets, errors = produce(bootstrap, topic_name, [b"x"])
        assert errors == []
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic=topic_name, timeout=10)
        assert [b.id for b in md.brokers.values()] == [7]
        assert len(md.topics[topic_name].partitions) == 3
        assert {p.leader for p in md.topics[topic_name].partitions.values()} == {7}
        assert any((tmp_path / "envdata").iterdir()), "nothing written to KLOG_DATA_DIR"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_auto_create_disabled(server_factory, topic_name):
    srv = server_factory("--auto-create-topics", "false")
    offsets, errors = produce(srv.bootstrap, topic_name, [b"lost"],
                              **{"message.timeout.ms": 5000, "topic.metadata.propagation.max.ms": 1000})
    assert offsets == []
    assert [e.code() for e in errors] in (
        [KafkaError.UNKNOWN_TOPIC_OR_PART], [KafkaError._UNKNOWN_TOPIC], [KafkaError._MSG_TIMED_OUT])
    admin = AdminClient({"bootstrap.servers": srv.bootstrap})
    assert topic_name not in admin.list_topics(timeout=10).topics
    admin.create_topics([NewTopic(topic_name, 1, 1)])[topic_name].result(timeout=15)
    offsets, errors = produce(srv.bootstrap, topic_name, [b"kept"])
    assert errors == [] and offsets == [0]


def test_sigkill_keeps_acknowledged_records(server, topic_name):
    """Records acknowledged with acks=all survive SIGKILL of the broker (they
    reached the page cache) and stay visible: the high watermark is recovered."""
    n = 3000
    values = [f"v{i}".encode() for i in range(n)]
    offsets, errors = produce(server.bootstrap, topic_name, values,
                              **{"acks": "all", "batch.num.messages": 100})
    assert errors == [] and offsets == list(range(n))

    server.restart(crash=True)

    got, marks = read_all(server.bootstrap, topic_name, n)
    assert marks == (0, n), "acknowledged records lost or hidden after a crash"
    assert got == list(enumerate(values))
    offsets, errors = produce(server.bootstrap, topic_name, [b"after"])
    assert errors == [] and offsets == [n]


def test_stdout_carries_only_the_ready_line(server, topic_name):
    offsets, errors = produce(server.bootstrap, topic_name, [b"x"] * 10)
    assert errors == []
    assert server.stop() == 0
    assert server.extra_stdout() == [], "klog-server wrote more than the ready line to stdout"

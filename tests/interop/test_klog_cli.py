"""The `klog` command line against klog-server, checked with other clients.

- records written by `klog produce` read back by confluent-kafka, byte for byte;
- records written by confluent-kafka read by `klog consume --format json`;
- keyed records from `klog produce` land where Java's murmur2 partitioner (Kafka's
  ``Utils.murmur2``), librdkafka's ``murmur2_random`` and kafkajs's DefaultPartitioner
  put them;
- `klog groups describe/reset-offsets` on a group run by confluent-kafka.

The binary is ``$KLOG_BIN`` or ``target/release/klog``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import ROOT
from helpers import run, wait_until

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

NODE_DIR = ROOT / "tests" / "interop" / "node"


def klog_bin() -> Path:
    path = Path(os.environ.get("KLOG_BIN") or ROOT / "target" / "release" / "klog")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"klog binary not found at {path}; run `cargo build --release -p klog-server` or set KLOG_BIN",
            pytrace=False,
        )
    return path


def klog(server, *args, input=b"", check=True, timeout=60) -> subprocess.CompletedProcess:
    env_free = [str(klog_bin()), "--bootstrap", server.bootstrap, *map(str, args)]
    return run(env_free, input=input, check=check, timeout=timeout)


def klog_json(server, *args) -> list[dict]:
    out = klog(server, *args, "--format", "json").stdout.decode()
    return [json.loads(line) for line in out.splitlines()]


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (seed 0x9747b28c) as an unsigned 32-bit value."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & ~3
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, partitions: int) -> int:
    """``Utils.toPositive(Utils.murmur2(key)) % partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def test_murmur2_matches_kafka_reference_values():
    # From Kafka's UtilsTest.testMurmur2 (signed Java ints).
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for data, expected in cases.items():
        signed = murmur2(data) - (1 << 32) if murmur2(data) >= 1 << 31 else murmur2(data)
        assert signed == expected, data


def consume_all(bootstrap, topic, n, timeout=30):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    out = []
    try:
        wait_until(lambda: _poll_into(c, out) >= n, timeout=timeout, what=f"{n} records from {topic}")
    finally:
        c.close()
    return out


def partitions_by_key(bootstrap, topic, n):
    """``{key: partition}`` of the first ``n`` records of ``topic``, read with confluent-kafka."""
    got = consume_all(bootstrap, topic, n)
    assert len(got) == n
    return {m.key().decode(): m.partition() for m in got}


def _poll_into(c, out):
    m = c.poll(0.2)
    if m is not None and not m.error():
        out.append(m)
    return len(out)


def test_klog_produce_is_read_by_confluent_kafka(server, topic_name):
    klog(server, "topics", "create", topic_name, "--partitions", "3")
    lines = [b"alice:hello", b"bob:caf\xc3\xa9 \xe2\x98\x95", b"alice:second:with:colons", b"nokey", b":empty key"]
    proc = klog(
        server, "produce", topic_name, "--key-separator", ":", "-H", "app=klog", "-H", "dup=1", "-H", "dup=2",
        input=b"\n".join(lines) + b"\n",
    )
    assert b"produced 5 records" in proc.stderr
    got = consume_all(server.bootstrap, topic_name, 5)
    by_value = {m.value(): m for m in got}
    expected = {
        b"hello": b"alice",
        "café ☕".encode(): b"bob",
        b"second:with:colons": b"alice",
        b"nokey": None,
        b"empty key": b"",
    }
    assert set(by_value) == set(expected)
    for value, key in expected.items():
        m = by_value[value]
        assert m.key() == key, value
        assert m.headers() == [("app", b"klog"), ("dup", b"1"), ("dup", b"2")]
    # Per key, order is kept.
    alice = [m.value() for m in sorted(got, key=lambda m: m.offset()) if m.key() == b"alice"]
    assert alice == [b"hello", b"second:with:colons"]


def test_confluent_kafka_records_are_read_by_klog_consume_json(server, topic_name):
    klog(server, "topics", "create", topic_name, "--partitions", "2")
    p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 5})
    records = [
        (b"k1", b"plain", [("h", b"1"), ("h", b"2")]),
        (None, b"no key", []),
        (b"k2", b"\xff\xfe binary", [("bin", b"\x00\xff"), ("null", None)]),
        (b"\x80key", None, [("x", b"y")]),
    ]
    for key, value, headers in records:
        p.produce(topic_name, key=key, value=value, headers=headers or None)
    assert p.flush(30) == 0

    got = klog_json(server, "consume", topic_name, "--from", "beginning", "--exit")
    assert len(got) == len(records)

    def decode(obj, field):
        if obj[field] is None:
            return None
        if obj.get(f"{field}_encoding") == "base64":
            return base64.b64decode(obj[field])
        return obj[field].encode()

    def header_part(v):
        if v is None:
            return None
        if isinstance(v, dict):
            return base64.b64decode(v["base64"])
        return v.encode()

    seen = sorted(
        (decode(r, "key") or b"", decode(r, "value") or b"", [(k, header_part(v)) for k, v in r["headers"]])
        for r in got
    )
    want = sorted((k or b"", v or b"", [(hk, hv) for hk, hv in h]) for k, v, h in records)
    assert seen == want
    tombstone = next(r for r in got if r["value"] is None)
    assert tombstone["key_encoding"] == "base64"
    assert all(r["topic"] == topic_name and r["partition"] in (0, 1) for r in got)


KEYS = [f"user-{i}" for i in range(40)] + ["", "a", "ab", "abc", "abcd", "ünïcödé", "21", "foobar"]


def test_klog_keyed_records_land_where_the_java_partitioner_puts_them(server, topic_name):
    partitions = 7
    klog(server, "topics", "create", topic_name, "--partitions", partitions)
    klog(server, "produce", topic_name, "-K", "\t", input="".join(f"{k}\tv-{k}\n" for k in KEYS).encode())
    klog_partition = partitions_by_key(server.bootstrap, topic_name, len(KEYS))
    expected = {k: java_partition(k.encode(), partitions) for k in KEYS}
    assert klog_partition == expected
    assert len(set(expected.values())) > 1

    # librdkafka's murmur2_random is the Java partitioner too.
    other = f"{topic_name}-rdkafka"
    klog(server, "topics", "create", other, "--partitions", partitions)
    placed = {}
    p = Producer({"bootstrap.servers": server.bootstrap, "partitioner": "murmur2_random"})
    for k in KEYS:
        p.produce(other, key=k.encode(), value=b"v", on_delivery=lambda err, m: placed.__setitem__(m.key().decode(), m.partition()))
    assert p.flush(30) == 0
    assert placed == expected


def _kafkajs_available() -> bool:
    if shutil.which("node") is None:
        return False
    probe = subprocess.run(
        ["node", "-e", "require.resolve('kafkajs')"], cwd=NODE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return probe.returncode == 0


def test_klog_keyed_records_land_where_kafkajs_puts_them(server, topic_name):
    if not _kafkajs_available():
        pytest.skip("node with kafkajs is not installed (cd tests/interop/node && npm ci)")
    partitions = 5
    klog(server, "topics", "create", topic_name, "--partitions", partitions)
    other = f"{topic_name}-kafkajs"
    klog(server, "topics", "create", other, "--partitions", partitions)
    klog(server, "produce", topic_name, "-K", "\t", input="".join(f"{k}\tv\n" for k in KEYS).encode())
    klog_partition = partitions_by_key(server.bootstrap, topic_name, len(KEYS))
    env = dict(os.environ, KAFKAJS_NO_PARTITIONER_WARNING="1")
    proc = subprocess.run(
        ["node", str(NODE_DIR / "produce-keys.cjs"), server.bootstrap, other, *KEYS],
        cwd=NODE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    kafkajs_partition = json.loads(proc.stdout)
    assert kafkajs_partition == klog_partition
    # What kafkajs reported is where the records are.
    assert partitions_by_key(server.bootstrap, other, len(KEYS)) == kafkajs_partition


def test_klog_groups_on_a_confluent_kafka_group(server, topic_name):
    klog(server, "topics", "create", topic_name, "--partitions", "2")
    p = Producer({"bootstrap.servers": server.bootstrap})
    for i in range(10):
        p.produce(topic_name, value=f"m{i}".encode(), partition=0)
    assert p.flush(30) == 0
    group = f"g-{uuid.uuid4().hex[:8]}"
    c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic_name])
    got = []
    wait_until(lambda: _poll_into(c, got) >= 4, timeout=30, what="4 records")
    c.commit(offsets=[TopicPartition(topic_name, 0, got[3].offset() + 1)], asynchronous=False)

    describe = klog(server, "groups", "describe", group).stdout.decode()
    assert "State: Stable" in describe, describe
    rows = [line.split() for line in describe.splitlines() if line.startswith(topic_name + " ")]
    assert [r[1:5] for r in rows] == [["0", "4", "10", "6"], ["1", "-", "0", "-"]], describe
    # Both partitions belong to the one member.
    assert rows[0][5] == rows[1][5] != "-", describe
    assert "Total lag: 6" in describe, describe
    # A group with members refuses a reset.
    assert klog(server, "groups", "reset-offsets", group, "--topic", topic_name, "--to", "earliest", "--execute",
                check=False).returncode == 1
    c.close()

    assert group in klog(server, "groups", "list").stdout.decode().split()
    klog(server, "groups", "reset-offsets", group, "--topic", topic_name, "--to", "2", "--partition", "0", "--execute")
    c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.subscribe([topic_name])
    again = []
    wait_until(lambda: _poll_into(c, again) >= 1, timeout=30, what="a record after the reset")
    assert again[0].offset() == 2
    c.close()
    klog(server, "groups", "delete", group)
    assert group not in klog(server, "groups", "list").stdout.decode().split()

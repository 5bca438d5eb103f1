"""kcat (Debian 12: kcat 1.7.1 on librdkafka 2.0.2) against klog-server.

librdkafka 2.0.2 is old: it uses Produce v7, Fetch v11, Metadata v4 and has a
known weakness with tagged fields, so these tests exercise the low end of
what the broker advertises.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from helpers import run

KCAT = shutil.which("kcat") or shutil.which("kafkacat")

pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat not installed (run scripts/setup.sh)")


def kcat(bootstrap: str, *args: str, input: bytes | None = None, timeout: float = 60, check=True):
    cmd = [KCAT, "-b", bootstrap, "-m", "15", *args]
    if os.environ.get("KLOG_TEST_KCAT_DEBUG"):
        cmd += ["-d", os.environ["KLOG_TEST_KCAT_DEBUG"]]
    return run(cmd, input=input, timeout=timeout, check=check)


def produce(bootstrap: str, topic: str, lines: list[str], *extra: str) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    kcat(bootstrap, "-P", "-t", topic, *extra, input=data)


def consume(bootstrap: str, topic: str, fmt: str, *extra: str) -> list[str]:
    out = kcat(bootstrap, "-C", "-t", topic, "-e", "-q", "-f", fmt, *extra).stdout.decode()
    return out.splitlines()


def topic_segment_bytes(data_dir: Path, topic: str) -> bytes:
    """Concatenated contents of the topic's segment files (per DESIGN.md §2:
    ``<topic>-<partition>/<base offset>.log``), wherever under the data dir."""
    blobs = []
    for path in sorted(data_dir.rglob("*.log")):
        if any(part.startswith(f"{topic}-") for part in path.parts):
            blobs.append(path.read_bytes())
    return b"".join(blobs)


def test_produce_consume_keys_and_headers(server, topic_name):
    n = 50
    lines = [f"key-{i}:value {i} with spaces, commas and = signs" for i in range(n)]
    produce(server.bootstrap, topic_name, lines, "-K:", "-H", "trace=abc", "-H", "source=kcat")

    got = consume(server.bootstrap, topic_name, r"%k|%s|%h|%o|%p\n", "-o", "beginning")
    expected = [
        f"key-{i}|value {i} with spaces, commas and = signs|trace=abc,source=kcat|{i}|0"
        for i in range(n)
    ]
    assert got == expected


def test_null_and_empty_values(server, topic_name):
    # -Z: empty input lines are sent as NULL values; printed back as "NULL".
    produce(server.bootstrap, topic_name, ["k1:v1", "k2:", "k3:v3"], "-K:", "-Z")
    got = consume(server.bootstrap, topic_name, r"%k|%s|%S\n", "-o", "beginning", "-Z")
    assert got == ["k1|v1|2", "k2|NULL|-1", "k3|v3|2"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_round_trip(server, topic_name, codec):
    n = 500
    filler = "x" * 200  # compressible, so the stored batches must be much smaller
    lines = [f"k{i}:{i:06d}-{filler}" for i in range(n)]
    produce(
        server.bootstrap, topic_name, lines, "-K:", "-z", codec,
        "-X", "linger.ms=100", "-X", "batch.num.messages=1000",
    )
    got = consume(server.bootstrap, topic_name, r"%k|%s|%o\n", "-o", "beginning")
    assert got == [f"k{i}|{i:06d}-{filler}|{i}" for i in range(n)]

    # The broker stores client batches as they are: the codec must survive to disk.
    stored = topic_segment_bytes(server.data_dir, topic_name)
    if stored:
        assert filler.encode() not in stored, f"{codec} batches were stored uncompressed"
        assert len(stored) < n * len(filler) / 2


def test_metadata_listing(server_factory, topic_name):
    srv = server_factory("--num-partitions", "3")
    produce(srv.bootstrap, topic_name, ["hello"])  # auto-creates the topic

    meta = json.loads(kcat(srv.bootstrap, "-L", "-J", "-t", topic_name).stdout)
    assert meta["brokers"] == [{"id": 1, "name": srv.bootstrap}]
    [topic] = meta["topics"]
    assert topic["topic"] == topic_name
    assert "error" not in topic, topic
    parts = sorted(topic["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in parts] == [0, 1, 2]
    for p in parts:
        assert p["leader"] == 1
        assert p["replicas"] == [{"id": 1}]
        assert p["isrs"] == [{"id": 1}]

    # Listing everything includes the topic too.
    everything = json.loads(kcat(srv.bootstrap, "-L", "-J").stdout)
    assert topic_name in [t["topic"] for t in everything["topics"]]


def test_partitioned_produce_and_consume(server_factory, topic_name):
    srv = server_factory("--num-partitions", "3")
    for p in range(3):
        produce(srv.bootstrap, topic_name, [f"p{p}-{i}" for i in range(10)], "-p", str(p))
    for p in range(3):
        got = consume(srv.bootstrap, topic_name, r"%p|%o|%s\n", "-p", str(p), "-o", "beginning")
        assert got == [f"{p}|{i}|p{p}-{i}" for i in range(10)]
    # All partitions at once: 30 records, each exactly once.
    got = consume(srv.bootstrap, topic_name, r"%p|%o|%s\n", "-o", "beginning")
    assert sorted(got) == sorted(f"{p}|{i}|p{p}-{i}" for p in range(3) for i in range(10))


def test_consume_from_offsets(server, topic_name):
    n = 20
    produce(server.bootstrap, topic_name, [f"m{i}" for i in range(n)])
    fmt = r"%o:%s\n"
    # Absolute offset.
    got = consume(server.bootstrap, topic_name, fmt, "-p", "0", "-o", "7")
    assert got == [f"{i}:m{i}" for i in range(7, n)]
    # Relative from the end.
    got = consume(server.bootstrap, topic_name, fmt, "-p", "0", "-o", "-3")
    assert got == [f"{i}:m{i}" for i in range(n - 3, n)]
    # Count limit.
    got = consume(server.bootstrap, topic_name, fmt, "-p", "0", "-o", "5", "-c", "2")
    assert got == ["5:m5", "6:m6"]
    # From the end: nothing.
    got = consume(server.bootstrap, topic_name, fmt, "-p", "0", "-o", "end")
    assert got == []


def test_offsets_by_timestamp(server, topic_name):
    produce(server.bootstrap, topic_name, [f"early{i}" for i in range(5)])
    time.sleep(0.05)
    produce(server.bootstrap, topic_name, [f"late{i}" for i in range(5)])

    rows = consume(server.bootstrap, topic_name, r"%o|%T|%s\n", "-p", "0", "-o", "beginning")
    assert [r.split("|")[2] for r in rows] == [f"early{i}" for i in range(5)] + [f"late{i}" for i in range(5)]
    stamps = [int(r.split("|")[1]) for r in rows]
    now_ms = int(time.time() * 1000)
    assert all(now_ms - 60_000 < ts <= now_ms + 1000 for ts in stamps), stamps  # CreateTime kept

    target = stamps[5]
    expected_first = min(i for i, ts in enumerate(stamps) if ts >= target)
    got = consume(server.bootstrap, topic_name, r"%o\n", "-p", "0", "-o", f"s@{target}")
    assert got == [str(i) for i in range(expected_first, 10)]

    # -Q: ListOffsets by timestamp.
    out = kcat(server.bootstrap, "-Q", "-t", f"{topic_name}:0:{target}").stdout.decode()
    assert f"offset {expected_first}" in out, out
    # A timestamp after every record: no offset (end).
    out = kcat(server.bootstrap, "-Q", "-t", f"{topic_name}:0:{stamps[-1] + 60_000}").stdout.decode()
    assert "offset -1" in out, out


def test_idempotent_produce(server, topic_name):
    n = 2000
    produce(
        server.bootstrap, topic_name, [f"idem-{i}" for i in range(n)],
        "-X", "enable.idempotence=true", "-X", "linger.ms=5", "-X", "batch.num.messages=100",
    )
    got = consume(server.bootstrap, topic_name, r"%o|%s\n", "-o", "beginning")
    assert got == [f"{i}|idem-{i}" for i in range(n)]


def test_acks_all_and_acks_one(server, topic_name):
    produce(server.bootstrap, topic_name, ["a1", "a2"], "-X", "acks=all")
    produce(server.bootstrap, topic_name, ["b1", "b2"], "-X", "acks=1")
    got = consume(server.bootstrap, topic_name, r"%o|%s\n", "-o", "beginning")
    assert got == ["0|a1", "1|a2", "2|b1", "3|b2"]


def test_balanced_consumer_group(server, topic_name):
    produce(server.bootstrap, topic_name, [f"g{i}" for i in range(10)])
    got = kcat(
        server.bootstrap, "-C", "-G", f"grp-{topic_name}", "-q", "-f", r"%o|%s\n",
        "-X", "auto.offset.reset=earliest", "-c", "10", topic_name, timeout=60,
    ).stdout.decode().splitlines()
    assert got == [f"{i}|g{i}" for i in range(10)]

"""A hostile client with a raw socket against a real klog-server process: each
attack of the hardening findings, sent as bytes, while the broker's resident
memory is sampled. The broker must answer (or close the one connection), keep
serving others, let go of what the attacker held, and stay within 64 MiB of
resident memory above its baseline throughout."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import zlib

import pytest

from helpers import MIB, RssWatch, open_fds, wait_until

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic  # noqa: E402
from kafka.record.util import calc_crc32c  # noqa: E402

# --- the Kafka wire, by hand -------------------------------------------------------

def string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def frame(api_key: int, version: int, body: bytes, correlation: int = 1) -> bytes:
    header = struct.pack(">hhi", api_key, version, correlation) + string("hostile")
    return struct.pack(">i", len(header) + len(body)) + header + body


def read_frame(sock: socket.socket) -> bytes | None:
    head = recv_exact(sock, 4)
    if head is None:
        return None
    return recv_exact(sock, struct.unpack(">i", head)[0])


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(n - len(out), 1 << 20))
        if not chunk:
            return None
        out += chunk
    return bytes(out)


def connect(server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def fetch_v4(topic: str, partitions, max_wait_ms: int, min_bytes: int, max_bytes: int, partition_max: int) -> bytes:
    parts = b"".join(struct.pack(">iqi", p, offset, partition_max) for p, offset in partitions)
    body = struct.pack(">iiiib", -1, max_wait_ms, min_bytes, max_bytes, 0)
    body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions)) + parts
    return frame(1, 4, body)


def produce_v3(topic: str, records: bytes) -> bytes:
    body = struct.pack(">hhi", -1, -1, 5000) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">ii", 1, 0) + struct.pack(">i", len(records)) + records
    return frame(0, 3, body)


def produce_error(response: bytes) -> int:
    """The one partition's error code of a Produce v3 response."""
    at = 4 + 4  # correlation id, topic count
    (name_len,) = struct.unpack_from(">h", response, at)
    at += 2 + name_len + 4 + 4  # name, partition count, partition index
    return struct.unpack_from(">h", response, at)[0]


def varint(v: int) -> bytes:
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def batch(records: bytes, count: int, attributes: int = 0, producer_id: int = -1, epoch: int = -1) -> bytes:
    """A RecordBatch v2 holding `records` (already encoded, maybe compressed) and
    claiming `count` records, with a correct CRC."""
    after_crc = struct.pack(">hiqqqhii", attributes, count - 1, 1_700_000_000_000, 1_700_000_000_000,
                            producer_id, epoch, -1 if producer_id < 0 else 0, count) + records
    crc = calc_crc32c(after_crc)
    body = struct.pack(">ibI", 0, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def record(value_len: int) -> bytes:
    """The bytes of one record (offset delta 0, null key) before its value of
    `value_len` zero bytes (which the caller appends)."""
    head = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(value_len)
    return varint(len(head) + value_len + 1) + head


# --- the attacks ---------------------------------------------------------------------

def fill(server, topic: str, megabytes: int):
    p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 20})
    for _ in range(megabytes * 1024):
        p.produce(topic, b"x" * 1000)
        p.poll(0)
    assert p.flush(60) == 0
    del p  # closes its connections before a test counts the broker's descriptors


def test_fetch_of_one_partition_named_forty_times_stays_small(server, topic_name):
    fill(server, topic_name, 16)
    with RssWatch(server.proc.pid), connect(server) as sock:
        for max_bytes in (0, 2**31 - 1):
            sock.sendall(fetch_v4(topic_name, [(0, 0)] * 40, 0, 1, max_bytes, 2**31 - 1))
            response = read_frame(sock)
            assert response is not None
            # One batch for max_bytes 0; at most fetch.max.bytes (55 MiB) beyond
            # one batch otherwise, and the partition's 16 MiB only once.
            limit = 1 * MIB if max_bytes == 0 else 17 * MIB
            assert len(response) < limit, f"{len(response)} B for max_bytes={max_bytes}"


def test_lying_and_compressed_bomb_batches_are_refused(server, topic_name):
    fill(server, topic_name, 1)
    value = 512 * MIB
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing, Kafka's codec 1
    bomb = squeeze.compress(record(value))
    zeros = bytes(MIB)
    for _ in range(value // MIB):
        bomb += squeeze.compress(zeros)
    bomb += squeeze.compress(b"\x00") + squeeze.flush()
    lies = [
        batch(record(3) + b"abc", 2**31 - 1),  # claims 2^31-1 records, holds one
        batch(record(3) + b"abc", 5),
        batch(bomb, 1, attributes=1),  # 512 MiB of value in ~0.5 MB of gzip
        batch(os.urandom(4096), 3, attributes=4),  # lz4 garbage
    ]
    with RssWatch(server.proc.pid), connect(server) as sock:
        for records in lies:
            sock.sendall(produce_v3(topic_name, records))
            response = read_frame(sock)
            assert response is not None, "the broker closed the connection"
            assert produce_error(response) in (2, 87), "INVALID_RECORD or CORRUPT_MESSAGE expected"
    # Nothing was stored: the log still ends where the good records did.
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "hostile"})
    try:
        assert consumer.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (0, 1024)
    finally:
        consumer.close()


def test_abandoned_long_polls_and_stalled_frames_give_back_their_descriptors(server_factory, topic_name):
    server = server_factory("--connections-max-idle-ms", "1000")
    fill(server, topic_name, 1)
    pid = server.proc.pid
    baseline = open_fds(pid)
    with RssWatch(pid):
        polls = []
        for _ in range(300):
            sock = connect(server)
            sock.sendall(fetch_v4(topic_name, [(0, 0)], 2**31 - 1, 2**31 - 1, 2**31 - 1, 2**31 - 1))
            polls.append(sock)
        # (The baseline may still count a connection of the producer that filled the topic.)
        wait_until(lambda: open_fds(pid) >= baseline + 290, what="every long poll parked")
        for sock in polls:
            sock.close()
        wait_until(lambda: open_fds(pid) <= baseline + 5, what="abandoned long polls closed", timeout=10)
        stalled = []
        for _ in range(200):
            sock = connect(server)
            sock.sendall(struct.pack(">i", 1000) + b"\x00\x12")  # 6 bytes of a 1,004-byte frame
            stalled.append(sock)
        for sock in stalled:
            sock.settimeout(10)
            assert sock.recv(1) == b"", "a stalled frame kept its connection past the idle timeout"
            sock.close()
        claims = []
        for _ in range(100):
            sock = connect(server)
            sock.sendall(struct.pack(">i", 100 * MIB) + b"\x00\x12\x00\x03")
            claims.append(sock)
        # Claimed bytes are not held: an honest request is answered at once.
        probe = connect(server)
        probe.sendall(frame(18, 0, b""))
        assert read_frame(probe) is not None
        probe.close()
        for sock in claims:
            sock.close()


def test_connections_beyond_the_per_address_cap_are_closed(server_factory):
    server = server_factory("--max-connections-per-ip", "50")
    with RssWatch(server.proc.pid):
        admitted = [connect(server) for _ in range(50)]
        for sock in admitted:
            sock.sendall(frame(18, 0, b""))
            assert read_frame(sock) is not None
        extra = connect(server)
        extra.settimeout(5)
        assert extra.recv(1) == b"", "a connection beyond the cap was kept"
        extra.close()
        admitted.pop().close()
        time.sleep(0.2)
        again = connect(server)
        again.sendall(frame(18, 0, b""))
        assert read_frame(again) is not None, "a freed place was not given again"
        for sock in admitted + [again]:
            sock.close()
    assert "connection refused" in server.stderr_tail(), "refusals are logged with the peer"


def test_list_offsets_by_timestamp_over_compressed_batches_streams(server, topic_name):
    # 64 MiB of records in gzip batches of about 1 MiB each, one millisecond apart.
    p = Producer({"bootstrap.servers": server.bootstrap, "compression.type": "gzip",
                  "linger.ms": 50, "batch.size": 1000000})
    count = 64 * 1024
    for i in range(count):
        p.produce(topic_name, bytes(1000), timestamp=1_700_000_000_000 + i)
        p.poll(0)
    assert p.flush(60) == 0
    del p
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "hostile"})
    try:
        with RssWatch(server.proc.pid):
            for i in (0, 1, count // 3, count // 2, count - 1, count):
                [found] = consumer.offsets_for_times([TopicPartition(topic_name, 0, 1_700_000_000_000 + i)],
                                                     timeout=30)
                assert found.error is None
                assert found.offset == (i if i < count else -1), f"timestamp +{i}"
    finally:
        consumer.close()


def test_internal_topic_and_odd_producer_fields_are_refused(server, topic_name):
    fill(server, topic_name, 1)
    committer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "keeps-offsets"})
    committer.commit(offsets=[TopicPartition(topic_name, 0, 42)], asynchronous=False)
    committer.close()
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    with RssWatch(server.proc.pid):
        attempts = [
            admin.create_topics([NewTopic("__consumer_offsets", 1, 1)]),
            admin.delete_topics(["__consumer_offsets"]),
            admin.create_partitions([NewPartitions("__consumer_offsets", 100)]),
        ]
        for futures in attempts:
            with pytest.raises(KafkaException):
                futures["__consumer_offsets"].result(timeout=30)
        with connect(server) as sock:
            sock.sendall(produce_v3("__consumer_offsets", batch(record(3) + b"abc", 1)))
            assert produce_error(read_frame(sock)) == 17, "INVALID_TOPIC_EXCEPTION expected"
            odd = [
                (batch(record(3) + b"abc", 1, attributes=0x10, producer_id=7, epoch=0), 48),  # no transaction
                (batch(record(3) + b"abc", 1, producer_id=7, epoch=-1), 87),  # a producer id, no epoch
            ]
            for records, code in odd:
                sock.sendall(produce_v3(topic_name, records))
                assert produce_error(read_frame(sock)) == code
    server.restart()
    check = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "keeps-offsets"})
    try:
        [tp] = check.committed([TopicPartition(topic_name, 0)], timeout=30)
        assert tp.offset == 42, "a committed offset was lost"
        assert check.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (0, 1024)
    finally:
        check.close()


def test_concurrent_large_topic_creations_leave_others_answered(server, topic_name):
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    answered, done = [], threading.Event()

    def probe():
        with connect(server) as sock:
            sock.settimeout(2)  # well inside any client's session timeout
            while not done.is_set():
                sock.sendall(frame(18, 0, b""))
                assert read_frame(sock) is not None
                answered.append(time.monotonic())
                time.sleep(0.01)

    with RssWatch(server.proc.pid):
        prober = threading.Thread(target=probe)
        prober.start()
        futures = admin.create_topics([NewTopic(f"{topic_name}-{i}", 1500, 1) for i in range(2)],
                                      operation_timeout=120)
        started = time.monotonic()
        for future in futures.values():
            future.result(timeout=180)
        took = time.monotonic() - started
        done.set()
        prober.join()
    during = [t for t in answered if t >= started]
    print(f"3,000 partitions created in {took:.1f} s; {len(during)} ApiVersions answered meanwhile")
    assert len(during) >= min(20, int(took * 10)), "other clients were not answered during the creation"

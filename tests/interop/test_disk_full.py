"""A full disk, with a real klog-server on a small tmpfs and confluent-kafka:
acknowledged records stay readable, writes resume by themselves once the
filesystem has room again (no restart), SIGTERM while full exits cleanly, and a
start on a full disk never dies of a signal (the SIGBUS of an index mapping that
cannot be backed).

Needs permission to mount a tmpfs (root, as in CI); skipped otherwise.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from conftest import KlogServer, KlogServerError
from helpers import RssWatch

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

VALUE = b"x" * 20_000
TOPIC = "fills"


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def grow(mount: Path, megabytes: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={megabytes}m", str(mount)], check=True)


def fill(bootstrap: str, limit: int = 2000) -> tuple[list[int], int]:
    """Produces until the broker refuses; returns the acknowledged offsets and the failures."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": 4000, "retry.backoff.ms": 100})
    acked: list[int] = []
    failed = [0]

    def cb(err, msg):
        if err:
            failed[0] += 1
        else:
            acked.append(msg.offset())

    for _ in range(limit):
        p.produce(TOPIC, VALUE, partition=0, on_delivery=cb)
        p.flush(10)
        if failed[0]:
            break
    p.flush(10)
    return acked, failed[0]


def produce_one(bootstrap: str) -> int | None:
    """Offset of one acknowledged record, or None if it failed."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 3000})
    out: list = []
    p.produce(TOPIC, b"after", partition=0, on_delivery=lambda err, msg: out.append(None if err else msg.offset()))
    p.flush(10)
    return out[0] if out else None


def read_offsets(bootstrap: str, upto: int) -> list[int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "disk-reader", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(TOPIC, 0, 0)])
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while (not seen or seen[-1] < upto) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                assert m.value() in (VALUE, b"after")
                seen.append(m.offset())
        return seen
    finally:
        c.close()


def test_a_full_disk_keeps_acknowledged_records_and_recovers_without_restart(small_disk, tmp_path):
    srv = KlogServer(small_disk / "data", tmp_path / "logs", name="disk")
    srv.start()
    try:
        with RssWatch(srv.proc.pid):
            acked, failed = fill(srv.bootstrap)
            assert failed > 0, "the disk never filled"
            assert len(acked) > 10, "too little was written before the disk filled"
            assert acked == list(range(len(acked))), "acknowledged offsets are not consecutive"
            assert read_offsets(srv.bootstrap, acked[-1])[: len(acked)] == acked

            # Room again (the filesystem grows): writes resume by themselves.
            grow(small_disk, 48)
            deadline = time.monotonic() + 20
            offset = None
            while offset is None and time.monotonic() < deadline:
                offset = produce_one(srv.bootstrap)
            assert offset is not None and offset >= len(acked), "writes did not resume once the disk had room"

        # Full again, then SIGTERM: a clean exit.
        more, failed = fill(srv.bootstrap)
        assert failed > 0
        assert srv.stop() == 0, srv.stderr_tail()

        # Starting on the full disk: ready, or a clean refusal; never a signal.
        try:
            srv.start()
        except KlogServerError:
            code = srv.exit_codes[-1] if srv.exit_codes else srv.proc and srv.proc.poll()
            assert code is None or code >= 0, f"klog-server died of signal {-code}\n{srv.stderr_tail()}"
            srv._forget()
            grow(small_disk, 96)
            srv.start()
        last = more[-1] if more else offset
        seen = read_offsets(srv.bootstrap, last)
        for o in acked + more + [offset]:
            assert o in seen, f"acknowledged offset {o} not read back"
    finally:
        srv.close()

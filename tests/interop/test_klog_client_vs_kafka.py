"""klog's own client (through the `klog` CLI) against a real Apache Kafka
broker: admin, idempotent compressed produce, a consumer group with commits.
Kafka 3.9.1 runs single-node in KRaft mode from Maven Central jars
(reference/pom.xml, fetched by scripts/setup.sh); see reference/kafka-as-klog.py."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import conftest
from conftest import KlogServer
from test_klog_cli import klog, klog_json

REFERENCE = Path(__file__).parent / "reference"
LIB = Path(os.environ.get("KAFKA_REFERENCE_LIB", REFERENCE / "lib"))


class ApacheKafka(KlogServer):
    """Apache Kafka behind klog-server's command-line contract."""

    def args(self) -> list[str]:
        return [
            "python3", str(REFERENCE / "kafka-as-klog.py"),
            "--data-dir", str(self.data_dir),
            "--group-initial-rebalance-delay-ms", "0",
            *self.extra_args,
        ]


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    if not (LIB.is_dir() and any(LIB.glob("kafka_2.13-*.jar"))):
        pytest.skip("Apache Kafka jars not fetched (scripts/setup.sh puts them in tests/interop/reference/lib)")
    d = tmp_path_factory.mktemp("kafka")
    server = ApacheKafka(d / "data", d / "logs", name="kafka")
    previous = conftest.START_TIMEOUT
    conftest.START_TIMEOUT = 120.0  # JVM start and storage format
    try:
        server.start()
    finally:
        conftest.START_TIMEOUT = previous
    yield server
    server.close()


def test_klog_client_admin_against_kafka(kafka):
    klog(kafka, "topics", "create", "klog-admin", "--partitions", "3", "--config", "retention.ms=3600000")
    listed = klog(kafka, "topics", "list").stdout.decode()
    assert "klog-admin" in listed
    described = klog(kafka, "topics", "describe", "klog-admin").stdout.decode()
    assert "retention.ms" in described and "3600000" in described
    klog(kafka, "topics", "alter", "klog-admin", "--partitions", "4")
    assert klog(kafka, "cluster", "describe").returncode == 0
    klog(kafka, "topics", "delete", "klog-admin")


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_klog_client_produces_and_consumes_against_kafka(kafka, codec):
    topic = f"klog-roundtrip-{codec}"
    klog(kafka, "topics", "create", topic, "--partitions", "2")
    lines = "".join(f"k{i}:v{i}\n" for i in range(200)).encode()
    klog(kafka, "produce", topic, "--key-separator", ":", "--header", "source=klog",
         "--compression", codec, "--acks", "all", input=lines)
    group = f"klog-group-{codec}"
    records = klog_json(kafka, "consume", topic, "--group", group, "--from", "beginning", "--count", "200")
    assert sorted((r["key"], r["value"]) for r in records) == sorted((f"k{i}", f"v{i}") for i in range(200))
    assert all(r["headers"] == [["source", "klog"]] for r in records)
    # Keys land where Kafka's own partitioner would put them: the same key, the same partition.
    by_key = {r["key"]: r["partition"] for r in records}
    assert len({by_key[f"k{i}"] for i in range(200)}) == 2
    described = klog(kafka, "groups", "describe", group).stdout.decode()
    assert "Total lag: 0" in described, described

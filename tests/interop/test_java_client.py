"""The Apache Kafka Java client (4.x, from Maven Central) against klog-server:
admin, idempotent compressed produce with duplicate header keys, a consumer
group that reads everything and commits. See java/JavaClient.java."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JAVA_DIR = Path(__file__).parent / "java"


@pytest.fixture(scope="session")
def java_classpath(tmp_path_factory):
    if not (shutil.which("java") and shutil.which("mvn")):
        pytest.skip("java and mvn are needed for the Java client tests")
    out = tmp_path_factory.mktemp("java") / "classpath.txt"
    subprocess.run(
        ["mvn", "-q", "-B", "dependency:build-classpath", f"-Dmdep.outputFile={out}"],
        cwd=JAVA_DIR, check=True, timeout=600,
    )
    return out.read_text().strip()


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_java_client_round_trip(server, topic_name, java_classpath, codec):
    proc = subprocess.run(
        ["java", "-cp", java_classpath, str(JAVA_DIR / "JavaClient.java"), server.bootstrap, topic_name, codec, "500"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "JAVA_TOOL_OPTIONS": "-Xshare:auto"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "created 3 partitions" in lines
    assert "produced 500" in lines
    assert "consumed 500 committed 500" in lines

"""Fixtures for the klog Python package tests.

``server`` is one real klog-server for the session, started like the interop
suite does (``$KLOG_SERVER_BIN`` or ``target/release/klog-server``, port 0, a
temporary data directory); ``db`` is an embedded broker per test.
"""

from __future__ import annotations

import importlib.util
import re
import uuid
from pathlib import Path
from typing import Iterator

import pytest

import klog

ROOT = Path(__file__).resolve().parents[3]


def _load_interop():
    spec = importlib.util.spec_from_file_location("klog_interop_conftest", ROOT / "tests" / "interop" / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


interop = _load_interop()
KlogServer = interop.KlogServer


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator["interop.KlogServer"]:
    d = tmp_path_factory.mktemp("klog-server")
    srv = KlogServer(d / "data", d / "logs", name="pyklog")
    srv.start()
    yield srv
    srv.close()


@pytest.fixture
def bootstrap(server) -> str:
    if server.proc is None or server.proc.poll() is not None:
        server._forget()
        server.start()
    return server.bootstrap


@pytest.fixture
def db(tmp_path) -> Iterator[klog.Embedded]:
    broker = klog.open(tmp_path / "broker")
    yield broker
    broker.close()


@pytest.fixture
def topic(request) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", request.node.name)[:50]
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "server" in item.fixturenames:
        srv = item.funcargs.get("server")
        if srv is not None:
            report.sections.append(("klog-server stderr", srv.stderr_tail(8000)))


@pytest.fixture(params=["embedded", "server"])
def target_server_or_db(request, tmp_path):
    """Either an embedded broker or the klog-server's bootstrap address."""
    if request.param == "embedded":
        broker = klog.open(tmp_path / "broker-param")
        yield broker
        broker.close()
    else:
        yield request.getfixturevalue("bootstrap")

"""Fixtures that run a real klog-server for the interoperability tests.

The binary is ``$KLOG_SERVER_BIN`` or ``target/release/klog-server``.  Every
server listens on an ephemeral port (``PLAINTEXT://127.0.0.1:0``), keeps its
data in a per-test temporary directory, and is stopped (SIGTERM, then SIGKILL)
at the end of the test that started it.  Its stderr goes to a file whose tail
is attached to the report of any failing test.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^klog-server listening on (\S+):(\d+)\s*$")
START_TIMEOUT = float(os.environ.get("KLOG_TEST_START_TIMEOUT", "30"))
STOP_TIMEOUT = 20.0

_LIVE: "set[KlogServer]" = set()


def server_bin() -> Path:
    path = Path(os.environ.get("KLOG_SERVER_BIN") or ROOT / "target" / "release" / "klog-server")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"klog-server binary not found at {path}; run `cargo build --release -p klog-server` "
            "or set KLOG_SERVER_BIN",
            pytrace=False,
        )
    return path


def _die_with_parent() -> None:
    """preexec_fn: have the kernel SIGKILL the server if the test process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


class KlogServerError(RuntimeError):
    pass


class KlogServer:
    """A klog-server child process.

    ``bootstrap`` is ``127.0.0.1:PORT`` of the running instance; it changes
    on :meth:`restart`, so clients created before a restart must be recreated.
    """

    def __init__(self, data_dir: Path, log_dir: Path, extra_args=(), name: str = "klog"):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.extra_args = [str(a) for a in extra_args]
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.host: str | None = None
        self.port: int | None = None
        self.starts = 0
        self.stderr_paths: list[Path] = []
        self.exit_codes: list[int] = []
        self._stdout_thread: threading.Thread | None = None
        self._stdout_lines: "queue.Queue[str | None] | None" = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    # -- lifecycle ---------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        if self.proc is None or self.port is None:
            raise KlogServerError("server is not running")
        return f"{self.host}:{self.port}"

    def args(self) -> list[str]:
        return [
            str(server_bin()),
            "--data-dir", str(self.data_dir),
            "--listeners", "PLAINTEXT://127.0.0.1:0",
            "--group-initial-rebalance-delay-ms", "0",
            *self.extra_args,
        ]

    def start(self) -> "KlogServer":
        if self.proc is not None:
            raise KlogServerError("server already running")
        self.starts += 1
        stderr_path = self.log_dir / f"{self.name}-stderr-{self.starts}.log"
        self.stderr_paths.append(stderr_path)
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("NO_COLOR", "1")  # plain stderr logs
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(
                self.args(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                preexec_fn=_die_with_parent,
            )
        self.proc = proc
        _LIVE.add(self)

        lines: "queue.Queue[str | None]" = queue.Queue()
        self._stdout_lines = lines

        def pump():
            # Keep draining stdout for the life of the process so it never blocks.
            assert proc.stdout is not None
            try:
                for raw in proc.stdout:
                    lines.put(raw.decode("utf-8", "replace"))
            finally:
                lines.put(None)
                proc.stdout.close()

        self._stdout_thread = threading.Thread(target=pump, name=f"{self.name}-stdout", daemon=True)
        self._stdout_thread.start()

        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise KlogServerError(
                    f"klog-server did not print its ready line within {START_TIMEOUT}s; "
                    f"stdout={seen!r}\n{self.stderr_tail(4000)}"
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = proc.wait()
                self._forget()
                raise KlogServerError(
                    f"klog-server exited with {code} before becoming ready; stdout={seen!r}\n"
                    f"{self.stderr_tail(4000)}"
                )
            seen.append(line)
            m = READY_RE.match(line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                return self

    def extra_stdout(self, wait: float = 2.0) -> list[str]:
        """Lines written to stdout after the ready line (call after stop())."""
        out = []
        if self._stdout_thread is not None:
            self._stdout_thread.join(timeout=wait)
        while self._stdout_lines is not None:
            try:
                line = self._stdout_lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                out.append(line)
        return out

    def _forget(self):
        self.proc = None
        self.port = None
        _LIVE.discard(self)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILLs if it hangs)."""
        if self.proc is None:
            raise KlogServerError("server is not running")
        proc = self.proc
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self._forget()
            raise KlogServerError(f"klog-server did not exit within {timeout}s of SIGTERM")
        self.exit_codes.append(code)
        self._forget()
        return code

    def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        if self.proc is None:
            return
        proc = self.proc
        proc.kill()
        proc.wait()
        self.exit_codes.append(proc.returncode)
        self._forget()

    def restart(self, crash: bool = False) -> "KlogServer":
        """Stop (or SIGKILL when ``crash``) and start again on the same data dir."""
        if crash:
            self.kill()
        else:
            code = self.stop()
            if code != 0:
                raise KlogServerError(f"clean shutdown exited with {code}\n{self.stderr_tail()}")
        return self.start()

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            self.stop(timeout=10)
        except KlogServerError:
            pass

    def stderr_tail(self, max_bytes: int = 20000) -> str:
        out = []
        for path in self.stderr_paths:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if len(data) > max_bytes:
                data = b"...(truncated)...\n" + data[-max_bytes:]
            out.append(f"--- {path.name} ---\n{data.decode('utf-8', 'replace')}")
        return "\n".join(out)

    def __repr__(self):
        return f"KlogServer({self.name}, pid={self.proc.pid if self.proc else None}, port={self.port})"


def _kill_leftovers():
    for srv in list(_LIVE):
        try:
            srv.kill()
        except Exception:
            pass


atexit.register(_kill_leftovers)


# -- pytest integration ---------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in getattr(item, "_klog_servers", []):
            rep.sections.append((f"klog-server stderr ({srv.name})", srv.stderr_tail()))


def pytest_sessionfinish(session, exitstatus):
    _kill_leftovers()


def _make_factory(request, tmp_path_factory, base: str):
    servers: list[KlogServer] = []
    counter = [0]

    def factory(*extra_args, start=True, name=None) -> KlogServer:
        counter[0] += 1
        tag = name or f"klog{counter[0]}"
        d = tmp_path_factory.mktemp(f"{base}-{tag}")
        srv = KlogServer(d / "data", d / "logs", extra_args, name=tag)
        servers.append(srv)
        item = request.node
        if not hasattr(item, "_klog_servers"):
            item._klog_servers = []
        item._klog_servers.append(srv)
        if start:
            srv.start()
        return srv

    return factory, servers


@pytest.fixture
def server_factory(request, tmp_path_factory):
    """Start extra servers with custom arguments: ``server_factory("--num-partitions", "3")``."""
    factory, servers = _make_factory(request, tmp_path_factory, "srv")
    yield factory
    for srv in servers:
        srv.close()


@pytest.fixture
def server(server_factory) -> KlogServer:
    """A fresh single-node klog-server for one test."""
    return server_factory(name="klog")


@pytest.fixture(scope="session")
def _shared_server_session(tmp_path_factory) -> KlogServer:
    d = tmp_path_factory.mktemp("shared")
    srv = KlogServer(d / "data", d / "logs", name="shared")
    srv.start()
    yield srv
    srv.close()


@pytest.fixture
def shared_server(request, _shared_server_session) -> KlogServer:
    """One server for the whole session; only for tests that use their own topics
    and never stop the server.  Restarted if an earlier test left it dead."""
    srv = _shared_server_session
    if srv.proc is None or srv.proc.poll() is not None:
        srv._forget()
        srv.start()
    item = request.node
    if not hasattr(item, "_klog_servers"):
        item._klog_servers = []
    item._klog_servers.append(srv)
    return srv


@pytest.fixture
def topic_name(request) -> str:
    """A topic name unique to this test."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", request.node.name)[:60]
    return f"{base}-{uuid.uuid4().hex[:8]}"


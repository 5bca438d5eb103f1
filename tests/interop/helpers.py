"""Small helpers shared by the interop tests."""

from __future__ import annotations

import os
import subprocess
import threading
import time


def wait_until(pred, timeout=15.0, interval=0.05, what="condition"):
    """Poll ``pred`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last={last!r})")


def run(cmd, *, input=None, timeout=60, check=True) -> subprocess.CompletedProcess:
    """Run a command, failing with its stdout/stderr on a non-zero exit."""
    proc = subprocess.run(
        cmd,
        input=input,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{cmd!r} exited with {proc.returncode}\n"
            f"stdout:\n{proc.stdout.decode('utf-8', 'replace')[-5000:]}\n"
            f"stderr:\n{proc.stderr.decode('utf-8', 'replace')[-5000:]}"
        )
    return proc


MIB = 1024 * 1024
RSS_HEADROOM = 64 * MIB


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class RssWatch:
    """Samples a process's (the broker's) RSS every 10 ms while in its `with` block and
    asserts on leaving it that it never grew by `RSS_HEADROOM` or more."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self.baseline = rss(pid)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.01)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        grown = self.peak - self.baseline
        print(f"broker RSS: baseline {self.baseline / MIB:.1f} MiB, peak +{grown / MIB:.1f} MiB")
        assert grown < RSS_HEADROOM, f"broker RSS grew by {grown / MIB:.0f} MiB (baseline {self.baseline / MIB:.0f})"

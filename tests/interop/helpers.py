"""Small helpers shared by the interop tests."""

from __future__ import annotations

import subprocess
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

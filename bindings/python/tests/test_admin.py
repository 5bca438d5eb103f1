"""Admin client and embedded broker: no producer or consumer needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import klog


def test_embedded_topics_persist_across_reopen(tmp_path, topic):
    path = tmp_path / "broker"
    with klog.open(path) as db:
        with db.admin() as admin:
            admin.create_topic(topic, 3, config={"retention.ms": 60000})
            assert [t.name for t in admin.list_topics()] == [topic]
    assert db.closed
    with klog.open(path) as db:
        admin = db.admin()
        info = admin.describe_topic(topic)
        assert info.name == topic
        assert [p.partition for p in info.partitions] == [0, 1, 2]
        assert admin.describe_configs(topic)["retention.ms"].value == "60000"
        admin.close()


def test_admin_over_tcp_of_embedded_broker(db, topic):
    addr = db.listen("127.0.0.1:0")
    assert db.bootstrap_servers == addr
    with klog.Admin(addr, client_id="py-admin", request_timeout_ms=5000) as admin:
        admin.create_topic(topic, 2)
        cluster = admin.describe_cluster()
        assert cluster.brokers == [(cluster.controller, addr)]
        assert admin.list_offsets([(topic, 0), (topic, 1)], "latest") == {
            klog.TopicPartition(topic, 0): 0,
            klog.TopicPartition(topic, 1): 0,
        }
        admin.create_partitions(topic, 4)
        assert len(admin.describe_topic(topic).partitions) == 4
        admin.alter_configs(topic, set={"retention.ms": 1234})
        entry = admin.describe_configs(topic)["retention.ms"]
        assert entry.value == "1234" and not entry.is_default
        admin.alter_configs(topic, delete=["retention.ms"])
        assert admin.describe_configs(topic)["retention.ms"].is_default
        admin.delete_topics(topic)
        assert admin.list_topics() == []


def test_admin_against_klog_server(bootstrap, topic):
    with klog.Admin(bootstrap) as admin:
        admin.create_topics([klog.NewTopic(topic, 2)])
        assert topic in [t.name for t in admin.list_topics()]
        assert admin.list_groups() is not None
        admin.delete_topics([topic])


def test_exceptions_carry_kind_and_kafka_code(db, topic):
    admin = db.admin()
    admin.create_topic(topic, 1)
    with pytest.raises(klog.AlreadyExistsError) as info:
        admin.create_topic(topic, 1)
    err = info.value
    assert isinstance(err, klog.KlogError)
    assert err.kafka_code == 36  # TOPIC_ALREADY_EXISTS
    assert err.kind == "already_exists" and not err.retriable
    assert topic in str(err)

    with pytest.raises(klog.NotFoundError) as info:
        admin.describe_topic("no-such-topic")
    assert isinstance(info.value, LookupError)

    with pytest.raises(klog.InvalidError) as info:
        klog.Admin(db, no_such_option=1)
    assert isinstance(info.value, ValueError)

    assert issubclass(klog.TimeoutError, TimeoutError)
    assert issubclass(klog.UnavailableError, klog.KlogError) and klog.UnavailableError.retriable
    admin.close()
    with pytest.raises(klog.ClosedError):
        admin.list_topics()


def test_closed_embedded_broker_refuses_new_clients(tmp_path):
    db = klog.open(tmp_path / "b")
    db.close()
    db.close()  # idempotent
    with pytest.raises(klog.ClosedError):
        db.admin()


def test_directory_is_locked_while_open(db):
    with pytest.raises(klog.KlogError):
        klog.open(db.path)


async def test_async_admin(db, topic):
    async with klog.AsyncAdmin(db) as admin:
        await admin.create_topic(topic, 2)
        topics = await admin.list_topics()
        assert [t.name for t in topics] == [topic]
        with pytest.raises(klog.NotFoundError):
            await admin.describe_topic("nope")
        assert (await admin.describe_cluster()).cluster_id


async def test_async_cancellation_does_not_break_the_loop(db, topic):
    import asyncio

    async with klog.AsyncAdmin(db) as admin:
        task = asyncio.ensure_future(admin.create_topic(topic, 1))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The client still works after a cancelled call.
        await admin.list_topics()


def _run_script(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


def test_ctrl_c_interrupts_a_blocking_call(server):
    """SIGINT reaches a thread blocked in a klog call (GIL released) within a slice."""
    os.kill(server.proc.pid, signal.SIGSTOP)  # the broker accepts connections but never answers
    try:
        code = f"""
            import sys, time, klog
            print("ready", flush=True)
            t = time.monotonic()
            try:
                klog.Admin({server.bootstrap!r}, request_timeout_ms=60000)
            except KeyboardInterrupt:
                print("interrupted after %.2f" % (time.monotonic() - t), flush=True)
                sys.exit(3)
            sys.exit(0)
        """
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 3, (out, err)
        assert "interrupted" in out
        assert time.monotonic() - sent < 5
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)


def test_no_thread_leak_and_clean_exit(tmp_path):
    """Many clients come and go on one runtime; the interpreter exits promptly with a broker open."""
    r = _run_script(
        f"""
        import threading, klog
        db = klog.open({str(tmp_path / "b")!r})
        base = threading.active_count()
        for i in range(20):
            a = db.admin(); a.list_topics(); a.close()
        assert threading.active_count() == base, (base, threading.active_count())
        import os
        tids = os.listdir("/proc/self/task")
        print(len(tids))
        # db left open on purpose: the atexit hook closes it and stops the runtime.
        """,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) <= 1 + 4 + 2  # main + runtime workers (+ blocking pool)


def test_fork_after_klog_started_is_refused_cleanly(tmp_path):
    """A child forked after klog started raises ClosedError (no crash, no hang); a child
    forked before the first klog call starts its own runtime."""
    r = _run_script(
        f"""
        import os, klog
        pid = os.fork()  # before any klog call: the child may use klog
        if pid == 0:
            try:
                with klog.open({str(tmp_path / "early")!r}) as db:
                    db.admin().create_topic("t", 1)
                    os._exit(0 if [t.name for t in db.admin().list_topics()] == ["t"] else 20)
            except BaseException as e:
                print("early child:", repr(e), flush=True)
                os._exit(21)
        _, status = os.waitpid(pid, 0)
        print("early", os.waitstatus_to_exitcode(status), flush=True)

        db = klog.open({str(tmp_path / "b")!r})
        admin = db.admin(); admin.create_topic("t", 1)
        addr = db.listen()
        pid = os.fork()
        if pid == 0:
            code = 0
            for attempt in (lambda: admin.list_topics(), lambda: klog.Admin(addr), lambda: klog.open("/nonexistent/x")):
                try:
                    attempt()
                    code = 10
                except klog.ClosedError:
                    pass
                except BaseException as e:
                    print("late child:", repr(e), flush=True)
                    code = 11
            admin.close(); db.close()  # closing inherited objects does nothing
            del admin, db
            import gc; gc.collect()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print("late", os.waitstatus_to_exitcode(status), flush=True)
        print([t.name for t in admin.list_topics()])  # the parent is unaffected
        db.close()
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["early 0", "late 0", "['t']"], (r.stdout, r.stderr)

"""klog: a Kafka-compatible commit log for Python.

Blocking and asyncio clients (:class:`Producer`, :class:`Consumer`,
:class:`Admin`, :class:`AsyncProducer`, :class:`AsyncConsumer`,
:class:`AsyncAdmin`) for any Kafka-compatible broker, an embedded broker opened
from a directory (:func:`open`), and consumed batches as ``pyarrow`` record
batches. The work happens in Rust (``klog._native``) on one tokio runtime per
process; blocking calls release the GIL and stay interruptible by Ctrl-C.

Fork: the runtime's threads do not survive ``fork()``. A process forked after
klog started cannot use klog (every call raises :class:`ClosedError`); one
forked before the first klog call works normally. With ``multiprocessing`` use
the ``spawn`` or ``forkserver`` start method, or create klog objects in workers.
"""

from __future__ import annotations

import atexit
import os

from . import _native
from ._arrow import schema as arrow_schema
from ._client import (
    Admin,
    AsyncAdmin,
    AsyncConsumer,
    AsyncProducer,
    Consumer,
    Embedded,
    Producer,
    _close_live_brokers,
    open,
)
from ._native import (
    AlreadyExistsError,
    ClosedError,
    CorruptError,
    FencedError,
    InternalError,
    InvalidError,
    IoError,
    KlogError,
    NotFoundError,
    NotLeaderError,
    Record,
    RecordMetadata,
    TimeoutError,
    UnavailableError,
)
from ._types import (
    ClusterDescription,
    ConfigEntry,
    GroupDescription,
    GroupMember,
    GroupOffset,
    NewTopic,
    PartitionInfo,
    TopicInfo,
    TopicPartition,
)

__version__ = _native.__version__

__all__ = [
    "Admin",
    "AlreadyExistsError",
    "AsyncAdmin",
    "AsyncConsumer",
    "AsyncProducer",
    "ClosedError",
    "ClusterDescription",
    "ConfigEntry",
    "Consumer",
    "CorruptError",
    "Embedded",
    "FencedError",
    "GroupDescription",
    "GroupMember",
    "GroupOffset",
    "InternalError",
    "InvalidError",
    "IoError",
    "KlogError",
    "NewTopic",
    "NotFoundError",
    "NotLeaderError",
    "PartitionInfo",
    "Producer",
    "Record",
    "RecordMetadata",
    "TimeoutError",
    "TopicInfo",
    "TopicPartition",
    "UnavailableError",
    "arrow_schema",
    "open",
]


def _at_exit() -> None:
    # Embedded brokers flush their logs, then the runtime's threads stop, before
    # the interpreter tears down (tasks must not touch a finalizing interpreter).
    _close_live_brokers()
    _native.shutdown()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_native.after_fork_in_child)

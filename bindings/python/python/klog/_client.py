"""The Python-facing clients: blocking and asyncio flavours over ``klog._native``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from . import _native
from ._arrow import record_batch
from ._native import Record, RecordMetadata
from ._types import (
    ClusterDescription,
    ConfigEntry,
    GroupDescription,
    GroupOffset,
    NewTopic,
    TopicInfo,
    TopicPartition,
    _group,
    _topic_info,
)

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow

Bytesish = Union[bytes, bytearray, memoryview, str]
Headers = Union[Mapping[Any, Optional[Bytesish]], Sequence[Tuple[Bytesish, Optional[Bytesish]]]]
Partitions = Iterable[Tuple[str, int]]
DeliveryCallback = Callable[[Optional[BaseException], Optional[RecordMetadata]], Any]
Config = Mapping[str, Union[str, int, float, bool]]

_LIVE_BROKERS: "weakref.WeakSet[Embedded]" = weakref.WeakSet()


def _options(config: Optional[Config], options: Dict[str, Any]) -> List[Tuple[str, str]]:
    """Kafka-named settings: ``config`` keys as given, keyword arguments with ``_`` -> ``.``."""
    merged: Dict[str, str] = {}
    items = list((config or {}).items()) + [(k.replace("_", "."), v) for k, v in options.items()]
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            merged[key] = "true" if value else "false"
        else:
            merged[key] = str(value)
    return list(merged.items())


def _target(bootstrap_servers: "Union[str, Embedded, Sequence[str]]") -> Any:
    if isinstance(bootstrap_servers, Embedded):
        return bootstrap_servers._native
    if isinstance(bootstrap_servers, str):
        return bootstrap_servers
    return ",".join(bootstrap_servers)


def _tps(partitions: Partitions) -> List[Tuple[str, int]]:
    return [(str(t), int(p)) for t, p in partitions]


def _tp_dict(d: Mapping[Tuple[str, int], Any]) -> Dict[TopicPartition, Any]:
    return {TopicPartition(*k): v for k, v in d.items()}


def _topics(topics: Union[str, Iterable[str]]) -> List[str]:
    return [topics] if isinstance(topics, str) else list(topics)


# --------------------------------------------------------------------------- embedded broker


class Embedded:
    """A klog broker inside this process, opened from a directory (like SQLite).

    Clients connect by passing it instead of ``bootstrap_servers``; calls go
    straight to the broker with no socket. :meth:`listen` also serves it on TCP
    so other processes (any Kafka client) can connect.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self._native = _native.Embedded(os.fspath(path))
        self._listening: List[str] = []
        _LIVE_BROKERS.add(self)

    @property
    def path(self) -> str:
        return self._native.path

    @property
    def closed(self) -> bool:
        return self._native.closed

    @property
    def bootstrap_servers(self) -> Optional[str]:
        """``host:port`` of the first TCP listener, if :meth:`listen` was called."""
        return self._listening[0] if self._listening else None

    def listen(self, addr: str = "127.0.0.1:0") -> str:
        """Serves the broker on TCP (port 0 picks a free port); returns ``host:port``."""
        bound = self._native.listen(addr)
        self._listening.append(bound)
        return bound

    def producer(self, *, config: Optional[Config] = None, **options: Any) -> "Producer":
        return Producer(self, config=config, **options)

    def consumer(
        self,
        group_id: Optional[str] = None,
        *,
        topics: Union[str, Iterable[str], None] = None,
        config: Optional[Config] = None,
        **options: Any,
    ) -> "Consumer":
        return Consumer(self, group_id=group_id, topics=topics, config=config, **options)

    def admin(self, *, config: Optional[Config] = None, **options: Any) -> "Admin":
        return Admin(self, config=config, **options)

    def close(self) -> None:
        """Stops listening, flushes every log and releases the directory. Idempotent."""
        self._native.close()
        _LIVE_BROKERS.discard(self)

    def __enter__(self) -> "Embedded":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<klog.Embedded {self.path!r}{' closed' if self.closed else ''}>"


def open(path: Union[str, "os.PathLike[str]"]) -> Embedded:  # noqa: A001 - the natural name
    """Opens (or creates) an embedded broker in directory ``path``."""
    return Embedded(path)


def _close_live_brokers() -> None:
    for broker in list(_LIVE_BROKERS):
        try:
            broker.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass


# --------------------------------------------------------------------------- blocking clients

_SyncSelf = TypeVar("_SyncSelf", bound="_SyncClient")


class _SyncClient:
    """Lifecycle shared by the blocking clients: ``close()`` or ``with``."""

    _native: Any

    @property
    def closed(self) -> bool:
        return bool(self._native.closed)

    def close(self) -> None:
        """Closes the client (a producer flushes first and runs the remaining callbacks; a
        consumer commits with auto-commit and leaves its group). Idempotent."""
        self._native.close()

    def __enter__(self: _SyncSelf) -> _SyncSelf:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- admin


class Admin(_SyncClient):
    """Blocking admin client: topics, configs, offsets, groups, cluster."""

    def __init__(
        self,
        bootstrap_servers: Union[str, Embedded, Sequence[str]],
        *,
        config: Optional[Config] = None,
        **options: Any,
    ) -> None:
        self._native = _native.Admin.connect(_target(bootstrap_servers), _options(config, options))

    def create_topic(
        self,
        name: str,
        partitions: int = -1,
        *,
        replication_factor: int = -1,
        config: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.create_topics([NewTopic(name, partitions, replication_factor, dict(config or {}))])

    def create_topics(self, topics: Iterable[NewTopic]) -> None:
        self._native.create_topics(
            [(t.name, t.partitions, t.replication_factor, {k: str(v) for k, v in t.config.items()}) for t in topics]
        )

    def delete_topics(self, topics: Union[str, Iterable[str]]) -> None:
        self._native.delete_topics(_topics(topics))

    def list_topics(self) -> List[TopicInfo]:
        return [_topic_info(t) for t in self._native.list_topics()]

    def describe_topic(self, topic: str) -> TopicInfo:
        return _topic_info(self._native.describe_topic(topic))

    def create_partitions(self, topic: str, total: int) -> None:
        self._native.create_partitions(topic, total)

    def describe_configs(self, topic: str) -> Dict[str, ConfigEntry]:
        return {k: ConfigEntry(v, d, r) for k, v, d, r in self._native.describe_configs(topic)}

    def alter_configs(
        self, topic: str, set: Optional[Mapping[str, Any]] = None, delete: Iterable[str] = ()
    ) -> None:
        self._native.alter_configs(topic, [(k, str(v)) for k, v in (set or {}).items()], list(delete))

    def list_offsets(
        self, partitions: Partitions, spec: Union[str, int] = "latest"
    ) -> Dict[TopicPartition, Optional[int]]:
        """``spec``: ``"earliest"``, ``"latest"`` or a timestamp in ms."""
        return _tp_dict(self._native.list_offsets(_tps(partitions), spec))

    def delete_records(self, partition: Tuple[str, int], offset: int) -> int:
        return self._native.delete_records(tuple(partition), offset)

    def list_groups(self) -> List[Tuple[str, str]]:
        return self._native.list_groups()

    def describe_group(self, group: str) -> GroupDescription:
        return _group(self._native.describe_group(group))

    def delete_group(self, group: str) -> None:
        self._native.delete_group(group)

    def group_offsets(self, group: str) -> List[GroupOffset]:
        return [GroupOffset(TopicPartition(*tp), c, e, lag) for tp, c, e, lag in self._native.group_offsets(group)]

    def set_group_offsets(self, group: str, offsets: Mapping[Tuple[str, int], int]) -> None:
        self._native.set_group_offsets(group, [((t, p), o) for (t, p), o in offsets.items()])

    def describe_cluster(self) -> ClusterDescription:
        return ClusterDescription(*self._native.describe_cluster())


_AsyncSelf = TypeVar("_AsyncSelf", bound="_AsyncClient")


class _AsyncClient:
    """Lifecycle shared by the asyncio clients: ``await start()`` or ``async with`` connects."""

    _what = "client"

    def __init__(
        self, bootstrap_servers: Union[str, Embedded, Sequence[str]], config: Optional[Config], options: Dict[str, Any]
    ) -> None:
        self._target = _target(bootstrap_servers)
        self._opts = _options(config, options)
        self._native: Any = None

    async def _connect(self) -> Any:
        """Creates the native client (subclasses say which)."""
        raise TypeError(f"{type(self).__name__} cannot connect")

    async def start(self: _AsyncSelf) -> _AsyncSelf:
        if self._native is None:
            self._native = await self._connect()
        return self

    def _n(self) -> Any:
        if self._native is None:
            raise _native.ClosedError(f"the {self._what} is not started (await start() or use async with)")
        return self._native

    async def __aenter__(self: _AsyncSelf) -> _AsyncSelf:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._native is not None:
            await self._native.close(aio=True)


class AsyncAdmin(_AsyncClient):
    """asyncio admin client; ``await admin.start()`` or ``async with`` connects."""

    _what = "admin client"

    def __init__(
        self,
        bootstrap_servers: Union[str, Embedded, Sequence[str]],
        *,
        config: Optional[Config] = None,
        **options: Any,
    ) -> None:
        super().__init__(bootstrap_servers, config, options)

    async def _connect(self) -> Any:
        return await _native.Admin.connect(self._target, self._opts, aio=True)

    async def create_topic(
        self,
        name: str,
        partitions: int = -1,
        *,
        replication_factor: int = -1,
        config: Optional[Mapping[str, Any]] = None,
    ) -> None:
        await self.create_topics([NewTopic(name, partitions, replication_factor, dict(config or {}))])

    async def create_topics(self, topics: Iterable[NewTopic]) -> None:
        specs = [(t.name, t.partitions, t.replication_factor, {k: str(v) for k, v in t.config.items()}) for t in topics]
        await self._n().create_topics(specs, aio=True)

    async def delete_topics(self, topics: Union[str, Iterable[str]]) -> None:
        await self._n().delete_topics(_topics(topics), aio=True)

    async def list_topics(self) -> List[TopicInfo]:
        return [_topic_info(t) for t in await self._n().list_topics(aio=True)]

    async def describe_topic(self, topic: str) -> TopicInfo:
        return _topic_info(await self._n().describe_topic(topic, aio=True))

    async def create_partitions(self, topic: str, total: int) -> None:
        await self._n().create_partitions(topic, total, aio=True)

    async def describe_configs(self, topic: str) -> Dict[str, ConfigEntry]:
        return {k: ConfigEntry(v, d, r) for k, v, d, r in await self._n().describe_configs(topic, aio=True)}

    async def alter_configs(
        self, topic: str, set: Optional[Mapping[str, Any]] = None, delete: Iterable[str] = ()
    ) -> None:
        await self._n().alter_configs(topic, [(k, str(v)) for k, v in (set or {}).items()], list(delete), aio=True)

    async def list_offsets(
        self, partitions: Partitions, spec: Union[str, int] = "latest"
    ) -> Dict[TopicPartition, Optional[int]]:
        return _tp_dict(await self._n().list_offsets(_tps(partitions), spec, aio=True))

    async def delete_records(self, partition: Tuple[str, int], offset: int) -> int:
        return await self._n().delete_records(tuple(partition), offset, aio=True)

    async def list_groups(self) -> List[Tuple[str, str]]:
        return await self._n().list_groups(aio=True)

    async def describe_group(self, group: str) -> GroupDescription:
        return _group(await self._n().describe_group(group, aio=True))

    async def delete_group(self, group: str) -> None:
        await self._n().delete_group(group, aio=True)

    async def group_offsets(self, group: str) -> List[GroupOffset]:
        rows = await self._n().group_offsets(group, aio=True)
        return [GroupOffset(TopicPartition(*tp), c, e, lag) for tp, c, e, lag in rows]

    async def set_group_offsets(self, group: str, offsets: Mapping[Tuple[str, int], int]) -> None:
        await self._n().set_group_offsets(group, [((t, p), o) for (t, p), o in offsets.items()], aio=True)

    async def describe_cluster(self) -> ClusterDescription:
        return ClusterDescription(*await self._n().describe_cluster(aio=True))

    async def close(self) -> None:
        if self._native is not None:
            self._native.close()


# --------------------------------------------------------------------------- producer


class Producer(_SyncClient):
    """Blocking producer.

    ``produce()`` queues a record and returns at once (it waits, without the GIL,
    only while ``buffer.memory`` is exhausted); ``send()`` does the same and
    returns a :class:`concurrent.futures.Future` of the :class:`RecordMetadata`.
    Failures of records queued without a callback are raised by the next
    :meth:`flush` or :meth:`close`. Settings use Kafka's names, as keyword
    arguments with ``_`` for ``.`` (``linger_ms=5``) or in ``config``.
    """

    def __init__(
        self,
        bootstrap_servers: Union[str, Embedded, Sequence[str]],
        *,
        config: Optional[Config] = None,
        **options: Any,
    ) -> None:
        self._native = _native.Producer.connect(_target(bootstrap_servers), _options(config, options))
        # Fast paths: the native methods directly, without a Python frame per record.
        self.produce = self._native.produce  # type: ignore[method-assign]
        self.send = self._native.send  # type: ignore[method-assign]

    def produce(
        self,
        topic: str,
        value: Optional[Bytesish] = None,
        key: Optional[Bytesish] = None,
        *,
        partition: Optional[int] = None,
        timestamp: Optional[int] = None,
        headers: Optional[Headers] = None,
        on_delivery: Optional[DeliveryCallback] = None,
    ) -> None:
        """Queues a record. ``on_delivery(err, metadata)`` runs on a klog thread once it is acknowledged."""
        self._native.produce(
            topic, value, key, partition=partition, timestamp=timestamp, headers=headers, on_delivery=on_delivery
        )

    def send(
        self,
        topic: str,
        value: Optional[Bytesish] = None,
        key: Optional[Bytesish] = None,
        *,
        partition: Optional[int] = None,
        timestamp: Optional[int] = None,
        headers: Optional[Headers] = None,
    ) -> "concurrent.futures.Future[RecordMetadata]":
        """Queues a record; the future resolves to its :class:`RecordMetadata`."""
        return self._native.send(topic, value, key, partition=partition, timestamp=timestamp, headers=headers)

    def produce_batch(
        self,
        topic: str,
        values: Iterable[Optional[Bytesish]],
        keys: Optional[Iterable[Optional[Bytesish]]] = None,
        *,
        partition: Optional[int] = None,
    ) -> int:
        """Queues many records of one topic in one call; returns how many."""
        return self._native.produce_batch(topic, values, keys, partition=partition)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Sends everything queued and waits until it is acknowledged."""
        self._native.flush(timeout)

    def __len__(self) -> int:
        """Records queued and not acknowledged yet."""
        return len(self._native)



class AsyncProducer(_AsyncClient):
    """asyncio producer; ``await producer.start()`` or ``async with`` connects."""

    _what = "producer"

    def __init__(
        self,
        bootstrap_servers: Union[str, Embedded, Sequence[str]],
        *,
        config: Optional[Config] = None,
        **options: Any,
    ) -> None:
        super().__init__(bootstrap_servers, config, options)

    async def _connect(self) -> Any:
        return await _native.Producer.connect(self._target, self._opts, aio=True)

    async def send(
        self,
        topic: str,
        value: Optional[Bytesish] = None,
        key: Optional[Bytesish] = None,
        *,
        partition: Optional[int] = None,
        timestamp: Optional[int] = None,
        headers: Optional[Headers] = None,
    ) -> "asyncio.Future[RecordMetadata]":
        """Queues a record (waiting while ``buffer.memory`` is exhausted); returns a future of its metadata."""
        queued, delivered = self._n().send_async(
            topic, value, key, partition=partition, timestamp=timestamp, headers=headers
        )
        if queued is not None:
            await queued
        return delivered

    async def send_and_wait(
        self,
        topic: str,
        value: Optional[Bytesish] = None,
        key: Optional[Bytesish] = None,
        *,
        partition: Optional[int] = None,
        timestamp: Optional[int] = None,
        headers: Optional[Headers] = None,
    ) -> RecordMetadata:
        """Sends a record and waits until it is acknowledged."""
        fut = await self.send(topic, value, key, partition=partition, timestamp=timestamp, headers=headers)
        return await fut

    async def flush(self, timeout: Optional[float] = None) -> None:
        await self._n().flush(timeout, aio=True)



# --------------------------------------------------------------------------- consumer


class Consumer(_SyncClient):
    """Blocking consumer: ``for record in consumer`` or :meth:`poll`/:meth:`poll_batch`/:meth:`poll_arrow`.

    With ``group_id`` and ``topics`` (or :meth:`subscribe`) it joins the group;
    without a group use :meth:`assign`. Settings use Kafka's names
    (``auto_offset_reset="earliest"``, ``enable_auto_commit=False``, ...).
    """

    def __init__(
        self,
        bootstrap_servers: Union[str, Embedded, Sequence[str]],
        *,
        group_id: Optional[str] = None,
        topics: Union[str, Iterable[str], None] = None,
        config: Optional[Config] = None,
        **options: Any,
    ) -> None:
        self._native = _native.Consumer.connect(_target(bootstrap_servers), group_id, _options(config, options))
        if topics is not None:
            self.subscribe(topics)

    def subscribe(self, topics: Union[str, Iterable[str]]) -> None:
        self._native.subscribe(_topics(topics))

    def assign(self, partitions: Partitions) -> None:
        self._native.assign(_tps(partitions))

    def assignment(self) -> List[TopicPartition]:
        return [TopicPartition(*tp) for tp in self._native.assignment()]

    def poll(self, timeout: float = 1.0) -> Optional[Record]:
        """The next record, or None if none arrived within ``timeout`` seconds."""
        return self._native.poll(timeout)

    def poll_batch(self, timeout: float = 1.0, max_records: int = 500) -> List[Record]:
        """Up to ``max_records`` records; waits at most ``timeout`` seconds for the first."""
        return self._native.poll_batch(timeout, max_records)

    def poll_arrow(self, timeout: float = 1.0, max_records: int = 65536) -> "pyarrow.RecordBatch":
        """Up to ``max_records`` records as a ``pyarrow.RecordBatch`` (see :func:`klog.arrow_schema`)."""
        return record_batch(self._native.poll_columns(timeout, max_records))

    def __iter__(self) -> Iterator[Record]:
        """Blocks for each record; ends when the consumer is closed."""
        return self._native

    def commit(self, offsets: Optional[Mapping[Tuple[str, int], int]] = None) -> None:
        """Commits the records returned so far, or explicit next offsets ``{(topic, partition): offset}``."""
        self._native.commit(None if offsets is None else {(t, p): o for (t, p), o in offsets.items()})

    def committed(self, partitions: Partitions) -> Dict[TopicPartition, Optional[int]]:
        return _tp_dict(self._native.committed(_tps(partitions)))

    def position(self, partition: Tuple[str, int]) -> int:
        return self._native.position(tuple(partition))

    def seek(self, partition: Tuple[str, int], offset: int) -> None:
        self._native.seek(tuple(partition), offset)

    def seek_to_beginning(self, partitions: Optional[Partitions] = None) -> None:
        self._native.seek_to_beginning(_tps(partitions) if partitions is not None else self._native.assignment())

    def seek_to_end(self, partitions: Optional[Partitions] = None) -> None:
        self._native.seek_to_end(_tps(partitions) if partitions is not None else self._native.assignment())

    def offsets_for_times(
        self, timestamps: Mapping[Tuple[str, int], int]
    ) -> Dict[TopicPartition, Optional[Tuple[int, int]]]:
        """``{(topic, partition): ts_ms}`` -> first ``(offset, timestamp)`` at or after it, or None."""
        return _tp_dict(self._native.offsets_for_times({(t, p): ts for (t, p), ts in timestamps.items()}))

    def pause(self, partitions: Partitions) -> None:
        self._native.pause(_tps(partitions))

    def resume(self, partitions: Partitions) -> None:
        self._native.resume(_tps(partitions))

    def paused(self) -> List[TopicPartition]:
        return [TopicPartition(*tp) for tp in self._native.paused()]

    def lag(self) -> Dict[TopicPartition, int]:
        return _tp_dict(self._native.lag())



class AsyncConsumer(_AsyncClient):
    """asyncio consumer: ``async for record in consumer``; ``await start()`` or ``async with`` connects."""

    _what = "consumer"

    def __init__(
        self,
        bootstrap_servers: Union[str, Embedded, Sequence[str]],
        *,
        group_id: Optional[str] = None,
        topics: Union[str, Iterable[str], None] = None,
        config: Optional[Config] = None,
        **options: Any,
    ) -> None:
        super().__init__(bootstrap_servers, config, options)
        self._group_id = group_id
        self._topics = None if topics is None else _topics(topics)

    async def _connect(self) -> Any:
        native = await _native.Consumer.connect(self._target, self._group_id, self._opts, aio=True)
        if self._topics is not None:
            await native.subscribe(self._topics, aio=True)
        return native

    async def subscribe(self, topics: Union[str, Iterable[str]]) -> None:
        await self._n().subscribe(_topics(topics), aio=True)

    async def assign(self, partitions: Partitions) -> None:
        await self._n().assign(_tps(partitions), aio=True)

    def assignment(self) -> List[TopicPartition]:
        return [TopicPartition(*tp) for tp in self._n().assignment()]

    async def poll(self, timeout: float = 1.0) -> Optional[Record]:
        return await self._n().poll(timeout, aio=True)

    async def poll_batch(self, timeout: float = 1.0, max_records: int = 500) -> List[Record]:
        return await self._n().poll_batch(timeout, max_records, aio=True)

    async def poll_arrow(self, timeout: float = 1.0, max_records: int = 65536) -> "pyarrow.RecordBatch":
        return record_batch(await self._n().poll_columns(timeout, max_records, aio=True))

    def __aiter__(self) -> AsyncIterator[Record]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Record]:
        native = self._n()
        while not native.closed:
            try:
                batch = await native.poll_batch(1.0, 500, aio=True)
            except _native.ClosedError:
                return
            for record in batch:
                yield record

    async def commit(self, offsets: Optional[Mapping[Tuple[str, int], int]] = None) -> None:
        await self._n().commit(None if offsets is None else {(t, p): o for (t, p), o in offsets.items()}, aio=True)

    async def committed(self, partitions: Partitions) -> Dict[TopicPartition, Optional[int]]:
        return _tp_dict(await self._n().committed(_tps(partitions), aio=True))

    async def position(self, partition: Tuple[str, int]) -> int:
        return await self._n().position(tuple(partition), aio=True)

    async def seek(self, partition: Tuple[str, int], offset: int) -> None:
        await self._n().seek(tuple(partition), offset, aio=True)

    async def seek_to_beginning(self, partitions: Optional[Partitions] = None) -> None:
        n = self._n()
        await n.seek_to_beginning(_tps(partitions) if partitions is not None else n.assignment(), aio=True)

    async def seek_to_end(self, partitions: Optional[Partitions] = None) -> None:
        n = self._n()
        await n.seek_to_end(_tps(partitions) if partitions is not None else n.assignment(), aio=True)

    async def offsets_for_times(
        self, timestamps: Mapping[Tuple[str, int], int]
    ) -> Dict[TopicPartition, Optional[Tuple[int, int]]]:
        return _tp_dict(await self._n().offsets_for_times({(t, p): ts for (t, p), ts in timestamps.items()}, aio=True))

    def pause(self, partitions: Partitions) -> None:
        self._n().pause(_tps(partitions))

    def resume(self, partitions: Partitions) -> None:
        self._n().resume(_tps(partitions))

    def paused(self) -> List[TopicPartition]:
        return [TopicPartition(*tp) for tp in self._n().paused()]

    async def lag(self) -> Dict[TopicPartition, int]:
        return _tp_dict(await self._n().lag(aio=True))

    @property
    def closed(self) -> bool:
        return self._native is None or self._native.closed


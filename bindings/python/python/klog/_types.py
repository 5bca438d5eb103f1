"""Plain value types returned by the klog clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, NamedTuple, Optional, Tuple


class TopicPartition(NamedTuple):
    """A topic partition; any ``(topic, partition)`` tuple is accepted where one is expected."""

    topic: str
    partition: int


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    leader: int
    leader_epoch: int


@dataclass(frozen=True)
class TopicInfo:
    name: str
    id: str
    partitions: List[PartitionInfo] = field(default_factory=list)


@dataclass(frozen=True)
class NewTopic:
    """A topic to create (``partitions``/``replication_factor`` -1: the broker's default)."""

    name: str
    partitions: int = -1
    replication_factor: int = -1
    config: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigEntry:
    value: Optional[str]
    is_default: bool
    read_only: bool


@dataclass(frozen=True)
class GroupMember:
    member_id: str
    group_instance_id: Optional[str]
    client_id: str
    client_host: str
    assignment: List[TopicPartition]


@dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    members: List[GroupMember]


@dataclass(frozen=True)
class GroupOffset:
    partition: TopicPartition
    committed: int
    end: int
    lag: int


@dataclass(frozen=True)
class ClusterDescription:
    cluster_id: str
    controller: int
    brokers: List[Tuple[int, str]]


def _topic_info(t: Tuple[Any, ...]) -> TopicInfo:
    name, id_, parts = t
    return TopicInfo(name, id_, [PartitionInfo(*p) for p in parts])


def _group(g: Tuple[Any, ...]) -> GroupDescription:
    gid, state, ptype, proto, members = g
    return GroupDescription(
        gid,
        state,
        ptype,
        proto,
        [GroupMember(m[0], m[1], m[2], m[3], [TopicPartition(*tp) for tp in m[4]]) for m in members],
    )

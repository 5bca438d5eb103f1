//! The admin client: topics, groups, offsets and the cluster, as plain objects.

use std::collections::BTreeMap;

use klog::client::admin::{ConfigEntry as CoreConfigEntry, GroupDescription, GroupOffset};
use klog::client::{Admin as CoreAdmin, NewTopic as CoreNewTopic, OffsetSpec, TopicInfo as CoreTopicInfo};
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;

use crate::bridge::{promise, promise_of};
use crate::config::{self, Options};
use crate::embedded::Embedded;
use crate::types::{core_tps, required_offsets, PartitionOffset, TopicPartition};

/// A topic to create.
#[napi(object)]
pub struct NewTopic {
    /// Topic name.
    pub topic: String,
    /// Number of partitions (default 1).
    pub num_partitions: Option<i32>,
    /// Replication factor (default 1).
    pub replication_factor: Option<i16>,
    /// Topic configs (`retention.ms`, `cleanup.policy`, ...).
    pub configs: Option<BTreeMap<String, String>>,
}

/// A topic config's value and where it comes from.
#[napi(object)]
pub struct ConfigEntry {
    /// Config name.
    pub name: String,
    /// Value (null when sensitive or unset).
    pub value: Option<String>,
    /// Whether this is the broker's default.
    pub is_default: bool,
    /// Whether it cannot be altered.
    pub read_only: bool,
}

impl ConfigEntry {
    fn new(name: String, e: CoreConfigEntry) -> Self {
        ConfigEntry { name, value: e.value, is_default: e.is_default, read_only: e.read_only }
    }
}

/// A partition of a topic and its leader.
#[napi(object)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: i32,
    /// Leader broker id.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
}

/// A topic and its partitions.
#[napi(object)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id (UUID).
    pub id: String,
    /// Partitions in order.
    pub partitions: Vec<PartitionInfo>,
}

impl From<CoreTopicInfo> for TopicInfo {
    fn from(t: CoreTopicInfo) -> Self {
        let partitions = t
            .partitions
            .into_iter()
            .map(|p| PartitionInfo { partition: p.partition, leader: p.leader, leader_epoch: p.leader_epoch })
            .collect();
        TopicInfo { name: t.name, id: t.id.to_string(), partitions }
    }
}

/// A member of a consumer group.
#[napi(object)]
pub struct GroupMember {
    /// Member id.
    pub member_id: String,
    /// Static member id, if any.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Assigned partitions.
    pub assignment: Vec<TopicPartition>,
}

/// A consumer group's state and members.
#[napi(object)]
pub struct GroupInfo {
    /// Group id.
    pub group_id: String,
    /// State (`Stable`, `Empty`, ...).
    pub state: String,
    /// Protocol type (`consumer`).
    pub protocol_type: String,
    /// Assignor in use.
    pub protocol: String,
    /// Members.
    pub members: Vec<GroupMember>,
}

impl From<GroupDescription> for GroupInfo {
    fn from(g: GroupDescription) -> Self {
        let members = g
            .members
            .into_iter()
            .map(|m| GroupMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                assignment: m.assignment.into_iter().map(Into::into).collect(),
            })
            .collect();
        GroupInfo {
            group_id: g.group_id,
            state: g.state,
            protocol_type: g.protocol_type,
            protocol: g.protocol,
            members,
        }
    }
}

/// A group's committed offset, the partition end and the lag between them.
#[napi(object)]
pub struct GroupPartitionOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Committed offset.
    pub committed: i64,
    /// End offset (high watermark).
    pub end: i64,
    /// `end - committed`.
    pub lag: i64,
}

impl From<GroupOffset> for GroupPartitionOffset {
    fn from(o: GroupOffset) -> Self {
        GroupPartitionOffset {
            topic: o.partition.topic,
            partition: o.partition.partition,
            committed: o.committed,
            end: o.end,
            lag: o.lag,
        }
    }
}

/// The cluster id, controller and brokers.
#[napi(object)]
pub struct ClusterInfo {
    /// Cluster id.
    pub cluster_id: String,
    /// Controller broker id.
    pub controller: i32,
    /// Brokers as `{ id, address }`.
    pub brokers: Vec<BrokerInfo>,
}

/// A broker of the cluster.
#[napi(object)]
pub struct BrokerInfo {
    /// Broker id.
    pub id: i32,
    /// `host:port`.
    pub address: String,
}

/// Admin client (native handle; the `klog` package wraps it).
#[napi]
pub struct Admin {
    inner: klog::Handle<CoreAdmin>,
}

/// Connects an admin client to the embedded broker or to `bootstrap.servers` in `options`.
#[napi]
pub fn connect_admin<'env>(
    env: &'env Env,
    embedded: Option<&Embedded>,
    options: Options,
) -> napi::Result<PromiseRaw<'env, Admin>> {
    let config = config::admin(embedded, &options);
    promise(env, async move { CoreAdmin::connect(config?).await }, |_, admin| {
        Ok(Admin { inner: klog::Handle::new(admin, "admin client") })
    })
}

/// Parses `earliest`, `latest` or a timestamp in ms.
fn offset_spec(spec: &str) -> klog::Result<OffsetSpec> {
    match spec {
        "earliest" => Ok(OffsetSpec::Earliest),
        "latest" => Ok(OffsetSpec::Latest),
        ms => ms.parse::<i64>().map(OffsetSpec::Timestamp).map_err(|_| {
            klog::Error::invalid(format!("offset spec must be earliest, latest or a timestamp, not {ms:?}"))
        }),
    }
}

#[napi]
impl Admin {
    /// Creates topics (fails with `KLOG_ALREADY_EXISTS` if one exists).
    #[napi]
    pub fn create_topics<'env>(&self, env: &'env Env, topics: Vec<NewTopic>) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let topics: Vec<CoreNewTopic> = topics
                .into_iter()
                .map(|t| {
                    let mut new = CoreNewTopic::new(t.topic, t.num_partitions.unwrap_or(1));
                    new.replication_factor = t.replication_factor.unwrap_or(1);
                    new.configs = t.configs.unwrap_or_default();
                    new
                })
                .collect();
            inner?.create_topics(&topics).await
        })
    }

    /// Deletes topics.
    #[napi]
    pub fn delete_topics<'env>(&self, env: &'env Env, topics: Vec<String>) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
            inner?.delete_topics(&topics).await
        })
    }

    /// Every topic with its partitions.
    #[napi]
    pub fn list_topics<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Vec<TopicInfo>>> {
        let inner = self.inner.get();
        promise_of(env, async move { Ok(inner?.list_topics().await?.into_iter().map(Into::into).collect()) })
    }

    /// One topic (fails with `KLOG_NOT_FOUND`).
    #[napi]
    pub fn describe_topic<'env>(&self, env: &'env Env, topic: String) -> napi::Result<PromiseRaw<'env, TopicInfo>> {
        let inner = self.inner.get();
        promise_of(env, async move { Ok(inner?.describe_topic(&topic).await?.into()) })
    }

    /// Grows `topic` to `total` partitions.
    #[napi]
    pub fn create_partitions<'env>(
        &self,
        env: &'env Env,
        topic: String,
        total: i32,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.create_partitions(&topic, total).await })
    }

    /// Offsets of `partitions` by `spec` ("earliest", "latest" or a timestamp in ms; offset null when none).
    #[napi]
    pub fn list_offsets<'env>(
        &self,
        env: &'env Env,
        partitions: Vec<TopicPartition>,
        spec: String,
    ) -> napi::Result<PromiseRaw<'env, Vec<PartitionOffset>>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let partitions = core_tps(partitions);
            let offsets = inner?.list_offsets(&partitions, offset_spec(&spec)?).await?;
            Ok(partitions
                .into_iter()
                .map(|tp| {
                    let offset = offsets.get(&tp).copied().flatten();
                    PartitionOffset::new(tp, offset)
                })
                .collect())
        })
    }

    /// The configs of `topic`, by name.
    #[napi]
    pub fn describe_configs<'env>(
        &self,
        env: &'env Env,
        topic: String,
    ) -> napi::Result<PromiseRaw<'env, Vec<ConfigEntry>>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let configs = inner?.describe_configs(&topic).await?;
            Ok(configs.into_iter().map(|(name, e)| ConfigEntry::new(name, e)).collect())
        })
    }

    /// Sets the `set` configs of `topic` and resets the `reset` ones to their defaults.
    #[napi]
    pub fn alter_configs<'env>(
        &self,
        env: &'env Env,
        topic: String,
        set: BTreeMap<String, String>,
        reset: Vec<String>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let set: Vec<(&str, &str)> = set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let reset: Vec<&str> = reset.iter().map(String::as_str).collect();
            inner?.alter_configs(&topic, &set, &reset).await
        })
    }

    /// Deletes the records of `partition` before `offset`; resolves to the new first offset.
    #[napi]
    pub fn delete_records<'env>(
        &self,
        env: &'env Env,
        partition: TopicPartition,
        offset: i64,
    ) -> napi::Result<PromiseRaw<'env, i64>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.delete_records(&partition.into(), offset).await })
    }

    /// Group ids.
    #[napi]
    pub fn list_groups<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        let inner = self.inner.get();
        promise_of(env, async move { Ok(inner?.list_groups().await?.into_iter().map(|(id, _)| id).collect()) })
    }

    /// A group's state and members.
    #[napi]
    pub fn describe_group<'env>(&self, env: &'env Env, group: String) -> napi::Result<PromiseRaw<'env, GroupInfo>> {
        let inner = self.inner.get();
        promise_of(env, async move { Ok(inner?.describe_group(&group).await?.into()) })
    }

    /// Deletes an empty group.
    #[napi]
    pub fn delete_group<'env>(&self, env: &'env Env, group: String) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move { inner?.delete_group(&group).await })
    }

    /// A group's committed offsets and lag per partition.
    #[napi]
    pub fn group_offsets<'env>(
        &self,
        env: &'env Env,
        group: String,
    ) -> napi::Result<PromiseRaw<'env, Vec<GroupPartitionOffset>>> {
        let inner = self.inner.get();
        promise_of(env, async move { Ok(inner?.group_offsets(&group).await?.into_iter().map(Into::into).collect()) })
    }

    /// Sets the committed offsets of a group without active members (e.g. to reset it).
    #[napi]
    pub fn set_group_offsets<'env>(
        &self,
        env: &'env Env,
        group: String,
        offsets: Vec<PartitionOffset>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let offsets = required_offsets(offsets, "setGroupOffsets")?;
            inner?.set_group_offsets(&group, &offsets).await
        })
    }

    /// The cluster id, controller and brokers.
    #[napi]
    pub fn describe_cluster<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ClusterInfo>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let c = inner?.describe_cluster().await?;
            let brokers = c.brokers.into_iter().map(|(id, address)| BrokerInfo { id, address }).collect();
            Ok(ClusterInfo { cluster_id: c.cluster_id, controller: c.controller, brokers })
        })
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Releases connections; later calls reject with `KLOG_CLOSED`. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.inner.take();
    }
}

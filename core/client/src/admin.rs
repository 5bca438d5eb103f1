//! Administration of topics, configs, consumer groups and the cluster.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{ClientConfig, Cluster, TopicInfo, TopicPartition};
use klog_protocol::codes::{check, check_with_message};
use klog_protocol::error::{Error, ErrorKind, Result};

/// Config resource type of topics.
const TOPIC_RESOURCE: i8 = 2;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partitions (-1: the broker's default).
    pub partitions: i32,
    /// Replication factor (-1: the broker's default).
    pub replication_factor: i16,
    /// Topic configs with Kafka names, e.g. `retention.ms`.
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and the broker's default replication.
    pub fn new(name: impl Into<String>, partitions: i32) -> NewTopic {
        NewTopic { name: name.into(), partitions, replication_factor: -1, configs: BTreeMap::new() }
    }

    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// One config value of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Value (`None` for sensitive or unset values).
    pub value: Option<String>,
    /// Whether the value is the default rather than set on the topic.
    pub is_default: bool,
    /// Whether it can be altered.
    pub read_only: bool,
}

/// Which offset [`Admin::list_offsets`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The first kept offset.
    Earliest,
    /// The next offset to be written (the high watermark).
    Latest,
    /// The first offset whose timestamp is at or after this time (ms).
    Timestamp(i64),
}

/// A member of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member id given by the coordinator.
    pub member_id: String,
    /// Static member id, if any.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Partitions assigned to it (decoded from the consumer protocol; empty otherwise).
    pub assignment: Vec<TopicPartition>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State name as Kafka reports it ("Stable", "Empty", ...).
    pub state: String,
    /// Protocol type ("consumer" for consumer groups).
    pub protocol_type: String,
    /// Chosen assignor.
    pub protocol: String,
    /// Members.
    pub members: Vec<GroupMember>,
}

/// A group's committed offset and lag on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOffset {
    /// Partition.
    pub partition: TopicPartition,
    /// Committed offset.
    pub committed: i64,
    /// End of the partition (high watermark).
    pub end: i64,
    /// `end - committed` (0 if negative).
    pub lag: i64,
}

/// The cluster as DescribeCluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// Cluster id.
    pub cluster_id: String,
    /// Controller node id.
    pub controller: i32,
    /// Brokers: node id and `host:port`.
    pub brokers: Vec<(i32, String)>,
}

/// An admin client. All methods take `&self`.
pub struct Admin {
    cluster: Arc<Cluster>,
}

impl Admin {
    /// Connects to the cluster.
    pub async fn connect(config: ClientConfig) -> Result<Admin> {
        Ok(Admin { cluster: Cluster::connect(config).await? })
    }

    /// Creates topics; fails on the first refusal.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<()> {
        let mut request = CreateTopicsRequest::default();
        request.timeout_ms = self.timeout_ms();
        request.topics = topics
            .iter()
            .map(|t| {
                let mut topic = create_topics_request::CreatableTopic::default();
                topic.name = name(&t.name);
                topic.num_partitions = t.partitions;
                topic.replication_factor = t.replication_factor;
                topic.configs = t
                    .configs
                    .iter()
                    .map(|(k, v)| {
                        let mut c = create_topics_request::CreatableTopicConfig::default();
                        c.name = text(k);
                        c.value = Some(text(v));
                        c
                    })
                    .collect();
                topic
            })
            .collect();
        let response = self.controller().await?.call(request).await?;
        for t in response.topics {
            check_with_message(t.error_code, t.error_message.as_deref(), || {
                format!("creating topic {:?}", t.name.as_str())
            })?;
        }
        Ok(())
    }

    /// Creates one topic.
    pub async fn create_topic(&self, topic: NewTopic) -> Result<()> {
        self.create_topics(std::slice::from_ref(&topic)).await
    }

    /// Deletes topics by name.
    pub async fn delete_topics(&self, topics: &[&str]) -> Result<()> {
        let mut request = DeleteTopicsRequest::default();
        request.timeout_ms = self.timeout_ms();
        request.topic_names = topics.iter().map(|t| name(t)).collect();
        request.topics = topics
            .iter()
            .map(|t| delete_topics_request::DeleteTopicState::default().with_name(Some(name(t))))
            .collect();
        let response = self.controller().await?.call(request).await?;
        for t in response.responses {
            let topic = t.name.as_ref().map_or("", |n| n.as_str()).to_string();
            check_with_message(t.error_code, t.error_message.as_deref(), || format!("deleting topic {topic:?}"))?;
            self.cluster.invalidate(&topic);
        }
        Ok(())
    }

    /// Every topic with its partitions, sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let mut topics = self.cluster.refresh_all().await?;
        topics.retain(|t| !t.name.starts_with("__"));
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }

    /// One topic's partitions and leaders.
    pub async fn describe_topic(&self, topic: &str) -> Result<TopicInfo> {
        self.cluster.invalidate(topic);
        self.cluster.topic(topic, false).await
    }

    /// Raises a topic's partition count to `total`.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<()> {
        let mut request = CreatePartitionsRequest::default();
        request.timeout_ms = self.timeout_ms();
        let mut t = create_partitions_request::CreatePartitionsTopic::default();
        t.name = name(topic);
        t.count = total;
        t.assignments = None;
        request.topics = vec![t];
        let response = self.controller().await?.call(request).await?;
        for r in response.results {
            check_with_message(r.error_code, r.error_message.as_deref(), || format!("adding partitions to {topic:?}"))?;
        }
        self.cluster.invalidate(topic);
        Ok(())
    }

    /// Every config of a topic.
    pub async fn describe_configs(&self, topic: &str) -> Result<BTreeMap<String, ConfigEntry>> {
        let mut resource = describe_configs_request::DescribeConfigsResource::default();
        resource.resource_type = TOPIC_RESOURCE;
        resource.resource_name = text(topic);
        resource.configuration_keys = None;
        let request = DescribeConfigsRequest::default().with_resources(vec![resource]);
        let response = self.cluster.any().await?.call(request).await?;
        let result =
            response.results.into_iter().next().ok_or_else(|| Error::corrupt("empty DescribeConfigs answer"))?;
        check_with_message(result.error_code, result.error_message.as_deref(), || {
            format!("describing configs of {topic:?}")
        })?;
        Ok(result
            .configs
            .into_iter()
            .map(|c| {
                let entry = ConfigEntry {
                    value: c.value.map(|v| v.to_string()),
                    // Sources: 1 set on the topic; everything else is a default of some level.
                    is_default: c.config_source != 1,
                    read_only: c.read_only,
                };
                (c.name.to_string(), entry)
            })
            .collect())
    }

    /// Sets and removes topic configs (IncrementalAlterConfigs).
    pub async fn alter_configs(&self, topic: &str, set: &[(&str, &str)], delete: &[&str]) -> Result<()> {
        use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
        let mut configs: Vec<AlterableConfig> = set
            .iter()
            .map(|(k, v)| {
                let mut c = AlterableConfig::default();
                c.name = text(k);
                c.config_operation = 0;
                c.value = Some(text(v));
                c
            })
            .collect();
        configs.extend(delete.iter().map(|k| {
            let mut c = AlterableConfig::default();
            c.name = text(k);
            c.config_operation = 1;
            c
        }));
        let mut resource = AlterConfigsResource::default();
        resource.resource_type = TOPIC_RESOURCE;
        resource.resource_name = text(topic);
        resource.configs = configs;
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![resource]);
        let response = self.cluster.any().await?.call(request).await?;
        for r in response.responses {
            check_with_message(r.error_code, r.error_message.as_deref(), || format!("altering configs of {topic:?}"))?;
        }
        Ok(())
    }

    /// Offsets of partitions: earliest, latest, or by timestamp (`None` when no record qualifies).
    pub async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<HashMap<TopicPartition, Option<i64>>> {
        let timestamp = match spec {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        };
        let mut out = HashMap::new();
        for tp in partitions {
            let mut p = list_offsets_request::ListOffsetsPartition::default();
            p.partition_index = tp.partition;
            p.timestamp = timestamp;
            let mut t = list_offsets_request::ListOffsetsTopic::default();
            t.name = name(&tp.topic);
            t.partitions = vec![p];
            let mut request = ListOffsetsRequest::default().with_topics(vec![t]);
            request.replica_id = BrokerId(-1);
            let response = self.cluster.leader(&tp.topic, tp.partition).await?.call(request).await?;
            for topic in response.topics {
                for p in topic.partitions {
                    check(p.error_code, || format!("listing offsets of {}-{}", tp.topic, tp.partition))?;
                    out.insert(tp.clone(), (p.offset >= 0).then_some(p.offset));
                }
            }
        }
        Ok(out)
    }

    /// Deletes records before `offset` in a partition; returns the new log start offset.
    pub async fn delete_records(&self, partition: &TopicPartition, offset: i64) -> Result<i64> {
        let mut p = delete_records_request::DeleteRecordsPartition::default();
        p.partition_index = partition.partition;
        p.offset = offset;
        let mut t = delete_records_request::DeleteRecordsTopic::default();
        t.name = name(&partition.topic);
        t.partitions = vec![p];
        let mut request = DeleteRecordsRequest::default().with_topics(vec![t]);
        request.timeout_ms = self.timeout_ms();
        let response = self.cluster.leader(&partition.topic, partition.partition).await?.call(request).await?;
        let result = response
            .topics
            .into_iter()
            .flat_map(|t| t.partitions)
            .next()
            .ok_or_else(|| Error::corrupt("empty DeleteRecords answer"))?;
        check(result.error_code, || format!("deleting records of {}-{}", partition.topic, partition.partition))?;
        Ok(result.low_watermark)
    }

    /// Group ids with their protocol type.
    pub async fn list_groups(&self) -> Result<Vec<(String, String)>> {
        let response = self.cluster.any().await?.call(ListGroupsRequest::default()).await?;
        check(response.error_code, || "listing groups".into())?;
        let mut groups: Vec<_> =
            response.groups.into_iter().map(|g| (g.group_id.to_string(), g.protocol_type.to_string())).collect();
        groups.sort();
        Ok(groups)
    }

    /// A group's state and members.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(text(group))]);
        let response = self.cluster.coordinator(group).await?.call(request).await?;
        let g = response.groups.into_iter().next().ok_or_else(|| Error::corrupt("empty DescribeGroups answer"))?;
        check(g.error_code, || format!("describing group {group:?}"))?;
        Ok(GroupDescription {
            group_id: g.group_id.to_string(),
            state: g.group_state.to_string(),
            protocol_type: g.protocol_type.to_string(),
            protocol: g.protocol_data.to_string(),
            members: g
                .members
                .into_iter()
                .map(|m| GroupMember {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                    client_id: m.client_id.to_string(),
                    client_host: m.client_host.to_string(),
                    assignment: decode_assignment(&m.member_assignment),
                })
                .collect(),
        })
    }

    /// Deletes an empty group and its committed offsets.
    pub async fn delete_group(&self, group: &str) -> Result<()> {
        let request = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(text(group))]);
        let response = self.cluster.coordinator(group).await?.call(request).await?;
        for r in response.results {
            check(r.error_code, || format!("deleting group {group:?}"))?;
        }
        Ok(())
    }

    /// A group's committed offsets with the partitions' ends and the lag.
    pub async fn group_offsets(&self, group: &str) -> Result<Vec<GroupOffset>> {
        let mut request = OffsetFetchRequest::default();
        request.group_id = GroupId(text(group));
        request.topics = None;
        let response = self.cluster.coordinator(group).await?.call(request).await?;
        check(response.error_code, || format!("fetching offsets of group {group:?}"))?;
        let mut committed = Vec::new();
        for t in response.topics {
            for p in t.partitions {
                check(p.error_code, || format!("fetching offsets of group {group:?}"))?;
                if p.committed_offset >= 0 {
                    committed.push((TopicPartition::new(t.name.to_string(), p.partition_index), p.committed_offset));
                }
            }
        }
        let partitions: Vec<TopicPartition> = committed.iter().map(|(tp, _)| tp.clone()).collect();
        let ends = self.list_offsets(&partitions, OffsetSpec::Latest).await?;
        let mut out: Vec<GroupOffset> = committed
            .into_iter()
            .map(|(partition, committed)| {
                let end = ends.get(&partition).copied().flatten().unwrap_or(committed);
                GroupOffset { lag: (end - committed).max(0), partition, committed, end }
            })
            .collect();
        out.sort_by(|a, b| a.partition.cmp(&b.partition));
        Ok(out)
    }

    /// Commits offsets for a group that has no active members (e.g. to reset them).
    pub async fn set_group_offsets(&self, group: &str, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        use offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, offset) in offsets {
            let mut p = OffsetCommitRequestPartition::default();
            p.partition_index = tp.partition;
            p.committed_offset = *offset;
            by_topic.entry(&tp.topic).or_default().push(p);
        }
        let mut request = OffsetCommitRequest::default();
        request.group_id = GroupId(text(group));
        request.generation_id_or_member_epoch = -1;
        request.topics = by_topic
            .into_iter()
            .map(|(t, partitions)| {
                let mut topic = OffsetCommitRequestTopic::default();
                topic.name = name(t);
                topic.partitions = partitions;
                topic
            })
            .collect();
        let response = self.cluster.coordinator(group).await?.call(request).await?;
        for t in response.topics {
            for p in t.partitions {
                check(p.error_code, || {
                    format!("committing offsets of group {group:?} (it must have no active members)")
                })?;
            }
        }
        Ok(())
    }

    /// Cluster id, controller and brokers.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let response = self.cluster.any().await?.call(DescribeClusterRequest::default()).await?;
        check_with_message(response.error_code, response.error_message.as_deref(), || "describing the cluster".into())?;
        let mut brokers: Vec<(i32, String)> =
            response.brokers.iter().map(|b| (b.broker_id.0, format!("{}:{}", b.host.as_str(), b.port))).collect();
        brokers.sort();
        Ok(ClusterDescription {
            cluster_id: response.cluster_id.to_string(),
            controller: response.controller_id.0,
            brokers,
        })
    }

    async fn controller(&self) -> Result<super::Connection> {
        match self.cluster.node(self.cluster.controller()).await {
            Ok(c) => Ok(c),
            Err(e) if e.kind() == ErrorKind::NotLeader => self.cluster.any().await,
            Err(e) => Err(e),
        }
    }

    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.cluster.config().request_timeout.as_millis()).unwrap_or(i32::MAX)
    }
}

/// Decodes a consumer-protocol assignment (empty if it is not one).
fn decode_assignment(bytes: &bytes::Bytes) -> Vec<TopicPartition> {
    use kafka_protocol::protocol::Decodable;
    let mut buf = bytes.clone();
    if buf.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    match ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)) {
        Ok(a) => a
            .assigned_partitions
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic.to_string();
                t.partitions.into_iter().map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

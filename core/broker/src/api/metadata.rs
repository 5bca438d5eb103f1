//! Cluster and topic metadata: Metadata, DescribeCluster, FindCoordinator.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::topics::Topic;
use crate::Broker;
use klog_protocol::error::ErrorKind;

/// "Authorized operations not requested" marker.
const NO_AUTHORIZED_OPERATIONS: i32 = i32::MIN;
/// FindCoordinator key type of consumer groups.
const GROUP_KEY_TYPE: i8 = 0;

impl Broker {
    fn node(&self) -> BrokerId {
        BrokerId(self.config.node_id)
    }

    /// Metadata: brokers, the controller, and the requested (or all) topics,
    /// auto-creating unknown ones when allowed.
    pub(crate) async fn metadata(&self, req: MetadataRequest, version: i16) -> MetadataResponse {
        let mut response = MetadataResponse::default();
        for (&node_id, b) in &self.metadata_image().brokers {
            let mut broker = MetadataResponseBroker::default();
            broker.node_id = BrokerId(node_id);
            broker.host = StrBytes::from_string(b.host.clone());
            broker.port = i32::from(b.port);
            response.brokers.push(broker);
        }
        response.cluster_id = Some(StrBytes::from_string(self.cluster_id.clone()));
        response.controller_id = self.node();
        response.cluster_authorized_operations = NO_AUTHORIZED_OPERATIONS;
        // v0 asks for all topics with an empty list; later versions with null.
        let requested = match req.topics {
            Some(topics) if !(version == 0 && topics.is_empty()) => Some(topics),
            _ => None,
        };
        let Some(requested) = requested else {
            response.topics = self.topics.all().iter().map(|t| self.topic_metadata(t)).collect();
            return response;
        };
        let auto_create = self.config.auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
        for wanted in requested {
            let topic = match (&wanted.name, wanted.topic_id.is_nil()) {
                (Some(name), _) => self.topics.get(name.as_str()),
                (None, false) => self.topics.get_by_id(wanted.topic_id),
                (None, true) => None,
            };
            let entry = match (topic, wanted.name) {
                (Some(topic), _) => self.topic_metadata(&topic),
                (None, Some(name)) if auto_create => match self.auto_create(name.as_str()).await {
                    Ok(topic) => self.topic_metadata(&topic),
                    Err(code) => error_topic(Some(name), code),
                },
                (None, Some(name)) => error_topic(Some(name), ResponseError::UnknownTopicOrPartition.code()),
                (None, None) => {
                    let mut entry = error_topic(None, ResponseError::UnknownTopicId.code());
                    entry.topic_id = wanted.topic_id;
                    entry
                }
            };
            response.topics.push(entry);
        }
        response
    }

    /// Creates a topic with broker defaults; returns the Kafka error code on failure.
    async fn auto_create(&self, name: &str) -> Result<std::sync::Arc<Topic>, i16> {
        if crate::topics::is_internal(name) {
            // Only the broker creates internal topics (with their own configs).
            return Err(ResponseError::UnknownTopicOrPartition.code());
        }
        let (owned, partitions) = (name.to_string(), self.config.num_partitions);
        match self.change_topics(move |topics| topics.create(&owned, partitions, Default::default())).await {
            Ok(topic) => {
                tracing::info!(topic = name, partitions = self.config.num_partitions, "auto-created topic");
                Ok(topic)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                self.topics.get(name).ok_or(ResponseError::UnknownTopicOrPartition.code())
            }
            Err(e) if e.kind() == ErrorKind::Invalid => Err(ResponseError::InvalidTopicException.code()),
            Err(e) => {
                tracing::error!(topic = name, error = %e, "auto-creating topic failed");
                Err(ResponseError::UnknownServerError.code())
            }
        }
    }

    /// A topic's partitions: replicas and leader from the metadata image, the
    /// epoch and in-sync replicas from the replica layer.
    fn topic_metadata(&self, topic: &Topic) -> MetadataResponseTopic {
        let image = self.metadata_image();
        let placement = image.topics.get(&topic.name).filter(|t| t.id == topic.id);
        let mut entry = MetadataResponseTopic::default();
        entry.name = Some(TopicName(StrBytes::from_string(topic.name.clone())));
        entry.topic_id = topic.id;
        entry.is_internal = crate::topics::is_internal(&topic.name);
        entry.topic_authorized_operations = NO_AUTHORIZED_OPERATIONS;
        entry.partitions = (0..)
            .zip(&topic.partitions)
            .map(|(index, replica)| {
                let mut p = MetadataResponsePartition::default();
                p.partition_index = index;
                let placed = placement.and_then(|t| t.partitions.get(&index));
                p.leader_id = placed.map_or(self.node(), |pi| BrokerId(pi.leader));
                p.leader_epoch = replica.leader_epoch();
                p.replica_nodes =
                    placed.map_or(vec![self.node()], |pi| pi.replicas.iter().copied().map(BrokerId).collect());
                p.isr_nodes = replica.isr().into_iter().map(BrokerId).collect();
                p
            })
            .collect();
        entry
    }

    /// DescribeCluster: the registered brokers; this node is the controller.
    pub(crate) fn describe_cluster(&self, _req: DescribeClusterRequest) -> DescribeClusterResponse {
        let mut response = DescribeClusterResponse::default();
        response.cluster_id = StrBytes::from_string(self.cluster_id.clone());
        response.controller_id = self.node();
        response.cluster_authorized_operations = NO_AUTHORIZED_OPERATIONS;
        for (&node_id, b) in &self.metadata_image().brokers {
            let mut broker = DescribeClusterBroker::default();
            broker.broker_id = BrokerId(node_id);
            broker.host = StrBytes::from_string(b.host.clone());
            broker.port = i32::from(b.port);
            response.brokers.push(broker);
        }
        response
    }

    /// FindCoordinator (one key before v4, a batch from v4): the leader of the
    /// group's `__consumer_offsets` partition; transactions are not supported.
    pub(crate) fn find_coordinator(&self, req: FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
        let mut response = FindCoordinatorResponse::default();
        let locate = |key: &str| {
            if req.key_type == GROUP_KEY_TYPE {
                self.group_coordinator(key)
            } else {
                Err(ResponseError::CoordinatorNotAvailable.code())
            }
        };
        if version >= 4 {
            response.coordinators = req
                .coordinator_keys
                .iter()
                .map(|key| {
                    let mut c = Coordinator::default();
                    c.key = key.clone();
                    match locate(key.as_str()) {
                        Ok((node, host, port)) => (c.node_id, c.host, c.port) = (node, host, port),
                        Err(code) => (c.error_code, c.node_id, c.port) = (code, BrokerId(-1), -1),
                    }
                    c
                })
                .collect();
        } else {
            match locate(req.key.as_str()) {
                Ok((node, host, port)) => (response.node_id, response.host, response.port) = (node, host, port),
                Err(code) => (response.error_code, response.node_id, response.port) = (code, BrokerId(-1), -1),
            }
        }
        response
    }

    /// The broker leading the `__consumer_offsets` partition of `group_id`, as the
    /// metadata records it: (node, host, port), or COORDINATOR_NOT_AVAILABLE.
    fn group_coordinator(&self, group_id: &str) -> Result<(BrokerId, StrBytes, i32), i16> {
        let partition = self.groups.partition_of(group_id);
        let image = self.metadata_image();
        let unavailable = ResponseError::CoordinatorNotAvailable.code();
        let leader = image
            .topics
            .get(crate::OFFSETS_TOPIC)
            .and_then(|t| t.partitions.get(&partition))
            .map(|p| p.leader)
            .ok_or(unavailable)?;
        let broker = image.brokers.get(&leader).ok_or(unavailable)?;
        Ok((BrokerId(leader), StrBytes::from_string(broker.host.clone()), i32::from(broker.port)))
    }
}

fn error_topic(name: Option<TopicName>, code: i16) -> MetadataResponseTopic {
    let mut entry = MetadataResponseTopic::default();
    entry.name = name;
    entry.error_code = code;
    entry.topic_authorized_operations = NO_AUTHORIZED_OPERATIONS;
    entry
}

//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::configs::DYNAMIC_TOPIC_CONFIG;
use crate::topics::{is_internal, validate_topic_name, TopicRegistry};
use crate::Broker;
use klog_protocol::error::{Error, ErrorKind};

/// A failed admin operation: Kafka code plus a message for the client.
type Refusal = (i16, String);

fn refusal(code: ResponseError, message: impl Into<String>) -> Refusal {
    (code.code(), message.into())
}

/// Clients cannot change an internal topic (Kafka answers INVALID_REQUEST for its
/// own internal metadata topic): the broker owns its existence and partition count.
fn internal_refusal(name: &str, what: &str) -> Refusal {
    refusal(ResponseError::InvalidRequest, format!("{name} is an internal topic and cannot be {what} by clients"))
}

fn storage_refusal(err: Error) -> Refusal {
    let code = match err.kind() {
        ErrorKind::NotFound => ResponseError::UnknownTopicOrPartition,
        ErrorKind::AlreadyExists => ResponseError::TopicAlreadyExists,
        ErrorKind::Invalid => ResponseError::InvalidRequest,
        _ => ResponseError::KafkaStorageError,
    };
    (code.code(), err.to_string())
}

impl Broker {
    /// Runs a topic change (it creates or removes files, fsyncs and commits metadata)
    /// on a blocking thread: requests of other clients are never stalled behind it.
    pub(crate) async fn change_topics<T: Send + 'static>(
        &self,
        change: impl FnOnce(&TopicRegistry) -> klog_protocol::Result<T> + Send + 'static,
    ) -> klog_protocol::Result<T> {
        let topics = self.topics.clone();
        tokio::task::spawn_blocking(move || change(&topics))
            .await
            .unwrap_or_else(|e| Err(Error::internal(format!("topic change did not finish: {e}"))))
    }

    /// CreateTopics (single node: replication factor 1, optional manual assignment to this node).
    pub(crate) async fn create_topics(&self, req: CreateTopicsRequest, version: i16) -> CreateTopicsResponse {
        let mut response = CreateTopicsResponse::default();
        for t in req.topics {
            let mut result = CreatableTopicResult::default();
            result.name = t.name.clone();
            result.num_partitions = -1;
            result.replication_factor = -1;
            let name = t.name.as_str();
            let partitions = if !t.assignments.is_empty() {
                t.assignments.len() as i32
            } else if t.num_partitions == -1 {
                self.config.num_partitions
            } else {
                t.num_partitions
            };
            let overrides: BTreeMap<String, String> = t
                .configs
                .iter()
                .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
                .collect();
            let mut outcome =
                self.check_new_topic(name, partitions, t.replication_factor, &t.assignments, &overrides).map(|()| None);
            if outcome.is_ok() && !req.validate_only {
                let (owned, kept) = (name.to_string(), overrides.clone());
                let created = self.change_topics(move |topics| topics.create(&owned, partitions, kept)).await;
                outcome = created.map(Some).map_err(storage_refusal);
            }
            match outcome {
                Ok(created) => {
                    result.num_partitions = partitions;
                    result.replication_factor = 1;
                    if let Some(topic) = &created {
                        result.topic_id = topic.id;
                        tracing::info!(topic = name, partitions, "created topic");
                    }
                    if version >= 5 {
                        let config = created
                            .map(|t| t.config.clone())
                            .unwrap_or_else(|| self.topics.defaults().with_overrides(&overrides).unwrap_or_default());
                        result.configs = Some(
                            config
                                .to_map()
                                .into_iter()
                                .map(|(key, value)| {
                                    let mut c = CreatableTopicConfigs::default();
                                    c.config_source = if overrides.contains_key(&key) {
                                        DYNAMIC_TOPIC_CONFIG
                                    } else {
                                        super::configs::DEFAULT_CONFIG
                                    };
                                    c.name = StrBytes::from_string(key);
                                    c.value = Some(StrBytes::from_string(value));
                                    c
                                })
                                .collect(),
                        );
                    }
                }
                Err((code, message)) => {
                    result.error_code = code;
                    result.error_message = Some(StrBytes::from_string(message));
                }
            }
            response.topics.push(result);
        }
        response
    }

    fn check_new_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignments: &[kafka_protocol::messages::create_topics_request::CreatableReplicaAssignment],
        overrides: &BTreeMap<String, String>,
    ) -> Result<(), Refusal> {
        validate_topic_name(name).map_err(|e| refusal(ResponseError::InvalidTopicException, e.message()))?;
        if is_internal(name) {
            return Err(internal_refusal(name, "created"));
        }
        if self.topics.get(name).is_some() {
            return Err(refusal(ResponseError::TopicAlreadyExists, format!("topic {name:?} already exists")));
        }
        if partitions < 1 {
            return Err(refusal(ResponseError::InvalidPartitions, "number of partitions must be at least 1"));
        }
        if !matches!(replication_factor, -1 | 1) && assignments.is_empty() {
            return Err(refusal(
                ResponseError::InvalidReplicationFactor,
                format!("replication factor {replication_factor} is larger than the 1 available broker"),
            ));
        }
        let node = self.config.node_id;
        if assignments.iter().any(|a| a.broker_ids.iter().any(|b| b.0 != node) || a.broker_ids.len() != 1) {
            return Err(refusal(ResponseError::InvalidReplicaAssignment, format!("replicas must be exactly [{node}]")));
        }
        self.topics
            .defaults()
            .with_overrides(overrides)
            .map(|_| ())
            .map_err(|e| refusal(ResponseError::InvalidConfig, e.to_string()))
    }

    /// DeleteTopics by name (v1-5) or by name or id (v6).
    pub(crate) async fn delete_topics(&self, req: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
        let mut response = DeleteTopicsResponse::default();
        let targets: Vec<(Option<TopicName>, uuid::Uuid)> = if version >= 6 {
            req.topics.into_iter().map(|t| (t.name, t.topic_id)).collect()
        } else {
            req.topic_names.into_iter().map(|n| (Some(n), uuid::Uuid::nil())).collect()
        };
        for (name, id) in targets {
            let mut result = DeletableTopicResult::default();
            let topic = match &name {
                Some(n) => self.topics.get(n.as_str()),
                None => self.topics.get_by_id(id),
            };
            result.name = name.clone();
            result.topic_id = id;
            match topic {
                None => {
                    result.error_code = if name.is_some() {
                        ResponseError::UnknownTopicOrPartition.code()
                    } else {
                        ResponseError::UnknownTopicId.code()
                    };
                }
                Some(topic) if is_internal(&topic.name) => {
                    let (code, message) = internal_refusal(&topic.name, "deleted");
                    result.error_code = code;
                    result.error_message = Some(StrBytes::from_string(message));
                }
                Some(topic) => {
                    result.name = Some(TopicName(StrBytes::from_string(topic.name.clone())));
                    result.topic_id = topic.id;
                    let owned = topic.name.clone();
                    if let Err(e) = self.change_topics(move |topics| topics.delete(&owned)).await {
                        let (code, message) = storage_refusal(e);
                        result.error_code = code;
                        result.error_message = Some(StrBytes::from_string(message));
                    } else {
                        tracing::info!(topic = %topic.name, "deleted topic");
                    }
                }
            }
            response.responses.push(result);
        }
        response
    }

    /// CreatePartitions: raise partition counts.
    pub(crate) async fn create_partitions(&self, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
        let mut response = CreatePartitionsResponse::default();
        for t in req.topics {
            let mut result = CreatePartitionsTopicResult::default();
            result.name = t.name.clone();
            let outcome = match self.topics.get(t.name.as_str()) {
                None => Err(refusal(ResponseError::UnknownTopicOrPartition, "unknown topic")),
                Some(_) if is_internal(t.name.as_str()) => Err(internal_refusal(t.name.as_str(), "repartitioned")),
                Some(_) => {
                    let (owned, count, validate_only) = (t.name.to_string(), t.count, req.validate_only);
                    let added = self.change_topics(move |topics| topics.add_partitions(&owned, count, validate_only));
                    added.await.map_err(|e| match e.kind() {
                        ErrorKind::Invalid => refusal(ResponseError::InvalidPartitions, e.message()),
                        _ => storage_refusal(e),
                    })
                }
            };
            if let Err((code, message)) = outcome {
                result.error_code = code;
                result.error_message = Some(StrBytes::from_string(message));
            }
            response.results.push(result);
        }
        response
    }
}

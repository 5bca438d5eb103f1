//! Topic and broker configs: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    incremental_alter_configs_response, AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::Broker;
use klog_protocol::error::ErrorKind;

/// Config resource type of topics.
const TOPIC: i8 = 2;
/// Config resource type of brokers.
const BROKER: i8 = 4;
/// Config source: set on the topic.
pub(super) const DYNAMIC_TOPIC_CONFIG: i8 = 1;
/// Config source: the broker's static configuration.
const STATIC_BROKER_CONFIG: i8 = 4;
/// Config source: the built-in default.
pub(super) const DEFAULT_CONFIG: i8 = 5;

/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

/// Kafka's config type codes, for DescribeConfigs v3+.
fn config_type(key: &str) -> i8 {
    const STRING: i8 = 2;
    const INT: i8 = 3;
    const LONG: i8 = 5;
    const LIST: i8 = 7;
    match key {
        "cleanup.policy" => LIST,
        "message.timestamp.type" => STRING,
        "max.message.bytes" | "index.interval.bytes" | "segment.index.bytes" | "segment.bytes" => INT,
        _ => LONG,
    }
}

/// A refused change: Kafka code and message.
type Refusal = (i16, String);

impl Broker {
    /// DescribeConfigs for topics (every key, with its source) and this broker.
    pub(crate) fn describe_configs(&self, req: DescribeConfigsRequest, version: i16) -> DescribeConfigsResponse {
        let mut response = DescribeConfigsResponse::default();
        for resource in req.resources {
            let mut result = DescribeConfigsResult::default();
            result.resource_type = resource.resource_type;
            result.resource_name = resource.resource_name.clone();
            let entries: Result<Vec<(String, String, i8, bool)>, Refusal> = match resource.resource_type {
                TOPIC => match self.topics.get(resource.resource_name.as_str()) {
                    Some(topic) => Ok(topic
                        .config
                        .to_map()
                        .into_iter()
                        .map(|(k, v)| {
                            let source =
                                if topic.overrides.contains_key(&k) { DYNAMIC_TOPIC_CONFIG } else { DEFAULT_CONFIG };
                            (k, v, source, false)
                        })
                        .collect()),
                    None => Err((ResponseError::UnknownTopicOrPartition.code(), "unknown topic".into())),
                },
                BROKER if self.is_this_broker(resource.resource_name.as_str()) => Ok(self.broker_configs()),
                BROKER => Err((ResponseError::InvalidRequest.code(), "unknown broker id".into())),
                other => Err((ResponseError::InvalidRequest.code(), format!("unsupported resource type {other}"))),
            };
            match entries {
                Ok(entries) => {
                    let wanted = resource.configuration_keys.as_ref();
                    result.configs = entries
                        .into_iter()
                        .filter(|(k, ..)| wanted.is_none_or(|keys| keys.iter().any(|w| w.as_str() == k)))
                        .map(|(key, value, source, read_only)| {
                            let mut c = DescribeConfigsResourceResult::default();
                            c.config_source = source;
                            c.read_only = read_only;
                            if version >= 3 {
                                c.config_type = config_type(&key);
                            }
                            if req.include_synonyms {
                                let mut s = DescribeConfigsSynonym::default();
                                s.name = StrBytes::from_string(key.clone());
                                s.value = Some(StrBytes::from_string(value.clone()));
                                s.source = source;
                                c.synonyms.push(s);
                            }
                            c.name = StrBytes::from_string(key);
                            c.value = Some(StrBytes::from_string(value));
                            c
                        })
                        .collect();
                }
                Err((code, message)) => {
                    result.error_code = code;
                    result.error_message = Some(StrBytes::from_string(message));
                }
            }
            response.results.push(result);
        }
        response
    }

    fn is_this_broker(&self, name: &str) -> bool {
        name.is_empty() || name.parse::<i32>().ok() == Some(self.config.node_id)
    }

    /// Read-only broker settings shown by DescribeConfigs.
    fn broker_configs(&self) -> Vec<(String, String, i8, bool)> {
        let c = &self.config;
        let mut entries = vec![
            ("node.id".to_string(), c.node_id.to_string()),
            ("broker.id".to_string(), c.node_id.to_string()),
            ("log.dirs".to_string(), c.data_dir.display().to_string()),
            ("num.partitions".to_string(), c.num_partitions.to_string()),
            ("auto.create.topics.enable".to_string(), c.auto_create_topics.to_string()),
            ("default.replication.factor".to_string(), "1".to_string()),
        ];
        entries.extend(c.log.to_map().into_iter().map(|(k, v)| (format!("log.{k}"), v)));
        entries.into_iter().map(|(k, v)| (k, v, STATIC_BROKER_CONFIG, true)).collect()
    }

    /// AlterConfigs: replaces a topic's whole set of overrides.
    pub(crate) fn alter_configs(&self, req: AlterConfigsRequest) -> AlterConfigsResponse {
        let mut response = AlterConfigsResponse::default();
        for resource in req.resources {
            let overrides = resource
                .configs
                .iter()
                .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
                .collect();
            let outcome = self.set_topic_overrides(
                resource.resource_type,
                resource.resource_name.as_str(),
                |_| Ok(overrides),
                req.validate_only,
            );
            let mut r = AlterConfigsResourceResponse::default();
            r.resource_type = resource.resource_type;
            r.resource_name = resource.resource_name;
            if let Err((code, message)) = outcome {
                r.error_code = code;
                r.error_message = Some(StrBytes::from_string(message));
            }
            response.responses.push(r);
        }
        response
    }

    /// IncrementalAlterConfigs: SET and DELETE single keys of a topic.
    pub(crate) fn incremental_alter_configs(
        &self,
        req: IncrementalAlterConfigsRequest,
    ) -> IncrementalAlterConfigsResponse {
        let mut response = IncrementalAlterConfigsResponse::default();
        for resource in req.resources {
            let outcome = self.set_topic_overrides(
                resource.resource_type,
                resource.resource_name.as_str(),
                |current| {
                    let mut next = current.clone();
                    for change in &resource.configs {
                        let key = change.name.to_string();
                        match (change.config_operation, &change.value) {
                            (OP_SET, Some(value)) => {
                                next.insert(key, value.to_string());
                            }
                            (OP_DELETE, _) => {
                                next.remove(&key);
                            }
                            (op, _) => {
                                return Err((
                                    ResponseError::InvalidConfig.code(),
                                    format!(
                                        "operation {op} on {key:?} is not supported (only SET with a value and DELETE)"
                                    ),
                                ))
                            }
                        }
                    }
                    Ok(next)
                },
                req.validate_only,
            );
            let mut r = incremental_alter_configs_response::AlterConfigsResourceResponse::default();
            r.resource_type = resource.resource_type;
            r.resource_name = resource.resource_name;
            if let Err((code, message)) = outcome {
                r.error_code = code;
                r.error_message = Some(StrBytes::from_string(message));
            }
            response.responses.push(r);
        }
        response
    }

    /// Computes new overrides from the current ones and applies them to a topic.
    fn set_topic_overrides(
        &self,
        resource_type: i8,
        name: &str,
        change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Refusal>,
        validate_only: bool,
    ) -> Result<(), Refusal> {
        if resource_type != TOPIC {
            return Err((
                ResponseError::InvalidRequest.code(),
                "only topic configs can be altered; broker settings are static".into(),
            ));
        }
        let topic = self
            .topics
            .get(name)
            .ok_or_else(|| (ResponseError::UnknownTopicOrPartition.code(), format!("unknown topic {name:?}")))?;
        let overrides = change(&topic.overrides)?;
        self.topics.set_overrides(name, overrides, validate_only).map_err(|e| {
            let code = match e.kind() {
                ErrorKind::Invalid => ResponseError::InvalidConfig,
                ErrorKind::NotFound => ResponseError::UnknownTopicOrPartition,
                _ => ResponseError::KafkaStorageError,
            };
            (code.code(), e.message().to_string())
        })
    }
}

//! The API keys and version ranges this broker implements, and ApiVersions.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, RequestKind};
use kafka_protocol::ResponseError;

/// An ACL operation (Kafka's `AclOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Read records or group state.
    Read,
    /// Write records.
    Write,
    /// Create topics.
    Create,
    /// Delete topics, records or groups.
    Delete,
    /// Change partitions.
    Alter,
    /// Read metadata.
    Describe,
    /// Broker-to-broker actions (replication).
    ClusterAction,
    /// Read configs.
    DescribeConfigs,
    /// Change configs.
    AlterConfigs,
    /// Produce idempotently.
    IdempotentWrite,
}

/// The kind of resource an ACL protects (Kafka's `ResourceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A topic named in the request.
    Topic,
    /// A consumer group named in the request.
    Group,
    /// The cluster itself.
    Cluster,
    /// A transactional id named in the request.
    TransactionalId,
}

/// Whether a request gets a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Always.
    Always,
    /// Not for Produce with `acks=0`.
    UnlessAcksZero,
}

/// One API the broker implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSpec {
    /// The API.
    pub key: ApiKey,
    /// Oldest version handled.
    pub min: i16,
    /// Newest version handled.
    pub max: i16,
    /// The ACL a principal needs on the resources the request names (`None`: any client).
    pub acl: Option<(Operation, Resource)>,
    /// Whether it is answered.
    pub answer: Answer,
}

const fn api(key: ApiKey, min: i16, max: i16, acl: Option<(Operation, Resource)>) -> ApiSpec {
    ApiSpec { key, min, max, acl, answer: Answer::Always }
}

use Operation as Op;
use Resource as Res;

/// Every API the broker implements with the versions it handles. Advertised as is
/// in ApiVersions: adding a row here is a promise that the handler supports it.
/// The ACL column follows Kafka's "Operations and Resources on Protocols" table
/// (the main check; some APIs also check topics or the cluster for parts of a request).
pub const SUPPORTED: &[ApiSpec] = &[
    // Produce v0-2 and Fetch v2-3 are translated by the frame codec.
    ApiSpec { answer: Answer::UnlessAcksZero, ..api(ApiKey::Produce, 0, 11, Some((Op::Write, Res::Topic))) },
    api(ApiKey::Fetch, 2, 12, Some((Op::Read, Res::Topic))),
    api(ApiKey::ListOffsets, 1, 6, Some((Op::Describe, Res::Topic))),
    api(ApiKey::Metadata, 0, 12, Some((Op::Describe, Res::Topic))),
    api(ApiKey::OffsetCommit, 2, 8, Some((Op::Read, Res::Group))),
    api(ApiKey::OffsetFetch, 1, 8, Some((Op::Describe, Res::Group))),
    api(ApiKey::FindCoordinator, 0, 4, Some((Op::Describe, Res::Group))),
    api(ApiKey::JoinGroup, 0, 7, Some((Op::Read, Res::Group))),
    api(ApiKey::Heartbeat, 0, 4, Some((Op::Read, Res::Group))),
    api(ApiKey::LeaveGroup, 0, 5, Some((Op::Read, Res::Group))),
    api(ApiKey::SyncGroup, 0, 5, Some((Op::Read, Res::Group))),
    api(ApiKey::DescribeGroups, 0, 5, Some((Op::Describe, Res::Group))),
    api(ApiKey::ListGroups, 0, 4, Some((Op::Describe, Res::Cluster))),
    api(ApiKey::ApiVersions, 0, 4, None),
    api(ApiKey::CreateTopics, 2, 7, Some((Op::Create, Res::Topic))),
    api(ApiKey::DeleteTopics, 1, 6, Some((Op::Delete, Res::Topic))),
    api(ApiKey::DeleteRecords, 0, 2, Some((Op::Delete, Res::Topic))),
    api(ApiKey::InitProducerId, 0, 4, Some((Op::IdempotentWrite, Res::Cluster))),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4, Some((Op::Describe, Res::Topic))),
    api(ApiKey::DescribeConfigs, 1, 4, Some((Op::DescribeConfigs, Res::Topic))),
    api(ApiKey::AlterConfigs, 0, 2, Some((Op::AlterConfigs, Res::Topic))),
    api(ApiKey::CreatePartitions, 0, 3, Some((Op::Alter, Res::Topic))),
    api(ApiKey::DeleteGroups, 0, 2, Some((Op::Delete, Res::Group))),
    api(ApiKey::IncrementalAlterConfigs, 0, 1, Some((Op::AlterConfigs, Res::Topic))),
    api(ApiKey::OffsetDelete, 0, 0, Some((Op::Delete, Res::Group))),
    api(ApiKey::DescribeCluster, 0, 1, Some((Op::Describe, Res::Cluster))),
];

/// The row of `key`, if the broker implements it.
pub fn spec(key: ApiKey) -> Option<&'static ApiSpec> {
    SUPPORTED.iter().find(|a| a.key == key)
}

/// Whether `version` of `key` is implemented.
pub fn is_supported(key: ApiKey, version: i16) -> bool {
    spec(key).is_some_and(|a| (a.min..=a.max).contains(&version))
}

/// The ApiVersions response; `error` set when the client asked for a version we lack
/// (then the body must be encoded as v0 so any client can read it).
pub fn api_versions(error: Option<ResponseError>) -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.error_code = error.map_or(0, |e| e.code());
    response.api_keys = SUPPORTED
        .iter()
        .map(|a| {
            let mut v = ApiVersion::default();
            v.api_key = a.key as i16;
            v.min_version = a.min;
            v.max_version = a.max;
            v
        })
        .collect();
    response
}

/// The API key of a decoded request.
pub fn api_key_of(request: &RequestKind) -> Option<ApiKey> {
    macro_rules! keys {
        ($($name:ident),*) => {
            match request { $(RequestKind::$name(_) => Some(ApiKey::$name),)* _ => None }
        };
    }
    keys!(
        Produce,
        Fetch,
        ListOffsets,
        Metadata,
        OffsetCommit,
        OffsetFetch,
        FindCoordinator,
        JoinGroup,
        Heartbeat,
        LeaveGroup,
        SyncGroup,
        DescribeGroups,
        ListGroups,
        ApiVersions,
        CreateTopics,
        DeleteTopics,
        DeleteRecords,
        InitProducerId,
        OffsetForLeaderEpoch,
        DescribeConfigs,
        AlterConfigs,
        CreatePartitions,
        DeleteGroups,
        IncrementalAlterConfigs,
        OffsetDelete,
        DescribeCluster
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_ranges_lie_within_the_codec() {
        for &ApiSpec { key, min, max, .. } in SUPPORTED {
            let codec = key.valid_versions();
            let legacy_min = match key {
                ApiKey::Produce => 0,
                ApiKey::Fetch => 2,
                _ => codec.min,
            };
            assert!(min <= max && min >= legacy_min && max <= codec.max, "{key:?} {min}..{max} vs {codec}");
        }
    }
}

//! A connection to one broker: typed calls at negotiated versions over any
//! [`Transport`].

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Request, StrBytes};
use klog_protocol::codes;
use klog_protocol::error::{Error, ErrorKind, Result};

use crate::transport::Transport;

/// A request type the client sends, with the versions it implements.
pub trait ApiCall: Request + Into<RequestKind> + Send + 'static {
    /// Oldest version this client can speak.
    const MIN_VERSION: i16;
    /// Newest version this client can speak.
    const MAX_VERSION: i16;
    /// Extracts this API's response.
    fn from_response(response: ResponseKind) -> Option<Self::Response>;
}

macro_rules! api_calls {
    ($($request:ident => $variant:ident [$min:expr, $max:expr]),* $(,)?) => {$(
        impl ApiCall for $request {
            const MIN_VERSION: i16 = $min;
            const MAX_VERSION: i16 = $max;
            fn from_response(response: ResponseKind) -> Option<Self::Response> {
                match response {
                    ResponseKind::$variant(r) => Some(r),
                    _ => None,
                }
            }
        }
    )*};
}

api_calls! {
    ProduceRequest => Produce [3, 9],
    FetchRequest => Fetch [4, 12],
    ListOffsetsRequest => ListOffsets [1, 6],
    MetadataRequest => Metadata [1, 12],
    OffsetCommitRequest => OffsetCommit [2, 8],
    OffsetFetchRequest => OffsetFetch [1, 7],
    FindCoordinatorRequest => FindCoordinator [1, 3],
    JoinGroupRequest => JoinGroup [1, 7],
    HeartbeatRequest => Heartbeat [0, 4],
    LeaveGroupRequest => LeaveGroup [0, 4],
    SyncGroupRequest => SyncGroup [0, 5],
    DescribeGroupsRequest => DescribeGroups [0, 5],
    ListGroupsRequest => ListGroups [0, 4],
    ApiVersionsRequest => ApiVersions [0, 3],
    CreateTopicsRequest => CreateTopics [2, 7],
    DeleteTopicsRequest => DeleteTopics [1, 6],
    DeleteRecordsRequest => DeleteRecords [0, 2],
    InitProducerIdRequest => InitProducerId [0, 4],
    DescribeConfigsRequest => DescribeConfigs [1, 4],
    AlterConfigsRequest => AlterConfigs [0, 2],
    CreatePartitionsRequest => CreatePartitions [0, 3],
    DeleteGroupsRequest => DeleteGroups [0, 2],
    IncrementalAlterConfigsRequest => IncrementalAlterConfigs [0, 1],
    OffsetDeleteRequest => OffsetDelete [0, 0],
    DescribeClusterRequest => DescribeCluster [0, 1],
}

/// A transport to one broker and the API versions negotiated on it.
#[derive(Clone)]
pub struct Connection {
    transport: Arc<dyn Transport>,
    versions: Arc<HashMap<i16, (i16, i16)>>,
}

impl Connection {
    /// Negotiates API versions over `transport` (ApiVersions v3, else v0 as KIP-511 says).
    pub async fn open(transport: Arc<dyn Transport>) -> Result<Connection> {
        let mut request = ApiVersionsRequest::default();
        request.client_software_name = StrBytes::from_static_str("klog");
        request.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
        let mut response = api_versions(&*transport, request.clone(), 3).await?;
        if response.error_code == kafka_protocol::ResponseError::UnsupportedVersion.code() {
            response = api_versions(&*transport, request, 0).await?;
        }
        codes::check(response.error_code, || format!("ApiVersions with {}", transport.address()))?;
        let versions = response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        Ok(Connection { transport, versions: Arc::new(versions) })
    }

    /// The `host:port` this connection goes to.
    pub fn address(&self) -> &str {
        self.transport.address()
    }

    /// Sends `request` at the newest version both sides implement and waits for the answer.
    pub async fn call<R: ApiCall>(&self, request: R) -> Result<R::Response> {
        let version = self.version_for::<R>()?;
        let response = self.transport.call(version, request.into()).await?;
        R::from_response(response).ok_or_else(|| Error::internal("the broker answered a different API"))
    }

    /// Sends a Produce with `acks=0`: no response is awaited.
    pub async fn send_without_response(&self, request: ProduceRequest) -> Result<()> {
        let version = self.version_for::<ProduceRequest>()?;
        self.transport.send(version, request.into()).await
    }

    /// Whether the connection can still carry requests.
    pub fn is_open(&self) -> bool {
        self.transport.is_open()
    }

    /// Whether a call keeps its place in line once polled (see [`Transport::ordered_once_polled`]).
    pub fn ordered_once_polled(&self) -> bool {
        self.transport.ordered_once_polled()
    }

    fn version_for<R: ApiCall>(&self) -> Result<i16> {
        let address = self.transport.address();
        let (min, max) = self.versions.get(&R::KEY).copied().ok_or_else(|| {
            Error::new(ErrorKind::Invalid, format!("broker {address} does not implement API {}", R::KEY))
        })?;
        let version = max.min(R::MAX_VERSION);
        if version < min.max(R::MIN_VERSION) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("no common version of API {} with {address} (broker {min}-{max})", R::KEY),
            ));
        }
        Ok(version)
    }
}

async fn api_versions(
    transport: &dyn Transport,
    request: ApiVersionsRequest,
    version: i16,
) -> Result<ApiVersionsResponse> {
    match transport.call(version, request.into()).await? {
        ResponseKind::ApiVersions(r) => Ok(r),
        _ => Err(Error::internal("the broker answered a different API")),
    }
}

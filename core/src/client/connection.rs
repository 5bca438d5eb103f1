//! A connection to one broker: typed calls over either a pipelined TCP
//! connection (many requests in flight, matched by correlation id, API versions
//! negotiated once) or directly into an in-process [`Broker`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::kafka_errors;
use crate::broker::{Broker, RequestContext};
use crate::error::{Error, ErrorKind, Result};

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

/// The broker end of a connection.
#[derive(Clone)]
pub enum Connection {
    /// A Kafka broker over TCP.
    Tcp(Arc<TcpConnection>),
    /// A broker in this process: no socket, no codec.
    Local(Arc<Broker>, Arc<RequestContext>),
}

impl Connection {
    /// Sends `request` at the newest version both sides implement and waits for the answer.
    pub async fn call<R: ApiCall>(&self, request: R) -> Result<R::Response> {
        match self {
            Connection::Tcp(tcp) => tcp.call(request).await,
            Connection::Local(broker, context) => {
                check_open(broker)?;
                let version = local_version::<R>()?;
                let response = broker.handle(context, version, request.into()).await;
                R::from_response(response).ok_or_else(|| Error::internal("the broker answered a different API"))
            }
        }
    }

    /// Sends a Produce with `acks=0`: no response is awaited.
    pub async fn send_without_response(&self, request: ProduceRequest) -> Result<()> {
        match self {
            Connection::Tcp(tcp) => tcp.send_only(request).await,
            Connection::Local(broker, context) => {
                check_open(broker)?;
                let version = local_version::<ProduceRequest>()?;
                broker.handle(context, version, request.into()).await;
                Ok(())
            }
        }
    }

    /// Whether the connection can still carry requests.
    pub fn is_open(&self) -> bool {
        match self {
            Connection::Tcp(tcp) => !tcp.closed.load(Ordering::Acquire) && !tcp.requests.is_closed(),
            Connection::Local(broker, _) => !broker.is_closed(),
        }
    }
}

/// Fails with `Closed` once the in-process broker was shut down.
fn check_open(broker: &Broker) -> Result<()> {
    if broker.is_closed() {
        return Err(Error::closed("the embedded broker is closed"));
    }
    Ok(())
}

/// The version used in process: the newest both the client and the broker implement.
fn local_version<R: ApiCall>() -> Result<i16> {
    let key = ApiKey::try_from(R::KEY).map_err(|_| Error::internal("unknown API key"))?;
    crate::broker::versions::SUPPORTED
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|&(_, _, max)| max.min(R::MAX_VERSION))
        .ok_or_else(|| Error::new(ErrorKind::Invalid, format!("{key:?} is not implemented by the broker")))
}

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<Bytes>>>>;

/// A TCP connection with requests pipelined over it.
pub struct TcpConnection {
    address: String,
    requests: mpsc::Sender<BytesMut>,
    pending: Pending,
    /// Set by the reader when the socket ends: every later call fails at once.
    closed: Arc<AtomicBool>,
    next_correlation: AtomicI32,
    versions: HashMap<i16, (i16, i16)>,
    client_id: String,
    timeout: Duration,
}

impl TcpConnection {
    /// Connects to `address` (`host:port`) and negotiates API versions.
    pub async fn connect(address: &str, client_id: &str, timeout: Duration) -> Result<Arc<TcpConnection>> {
        let unreachable = |e: std::io::Error| {
            Error::new(ErrorKind::Unavailable, format!("cannot connect to {address}")).with_source(e)
        };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| Error::new(ErrorKind::Timeout, format!("connecting to {address} timed out")))?
            .map_err(unreachable)?;
        let _ = stream.set_nodelay(true);
        let (read_half, mut write_half) = stream.into_split();
        let pending: Pending = Arc::default();
        let (requests, mut outgoing) = mpsc::channel::<BytesMut>(1024);
        tokio::spawn(async move {
            while let Some(frame) = outgoing.recv().await {
                if write_half.write_all(&frame).await.is_err() {
                    break;
                }
                while let Ok(more) = outgoing.try_recv() {
                    if write_half.write_all(&more).await.is_err() {
                        return;
                    }
                }
                if write_half.flush().await.is_err() {
                    break;
                }
            }
        });
        let reader_pending = pending.clone();
        let closed = Arc::new(AtomicBool::new(false));
        let reader_closed = closed.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::with_capacity(256 * 1024, read_half);
            while let Ok(len) = reader.read_i32().await {
                let Some(frame) = read_frame_body(&mut reader, len).await else { break };
                let correlation_id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
                if let Some(waiter) = reader_pending.lock().remove(&correlation_id) {
                    let _ = waiter.send(frame);
                }
            }
            // Dropping the senders fails every request still waiting.
            reader_closed.store(true, Ordering::Release);
            reader_pending.lock().clear();
        });
        let mut connection = TcpConnection {
            address: address.to_string(),
            requests,
            pending,
            closed,
            next_correlation: AtomicI32::new(1),
            versions: HashMap::new(),
            client_id: client_id.to_string(),
            timeout,
        };
        connection.versions = connection.negotiate().await?;
        Ok(Arc::new(connection))
    }

    /// The `host:port` this connection goes to.
    pub fn address(&self) -> &str {
        &self.address
    }

    async fn negotiate(&self) -> Result<HashMap<i16, (i16, i16)>> {
        let mut request = ApiVersionsRequest::default();
        request.client_software_name = StrBytes::from_static_str("klog");
        request.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
        let mut response = self.call_at(request.clone(), 3).await?;
        if response.error_code == kafka_protocol::ResponseError::UnsupportedVersion.code() {
            response = self.call_at(request, 0).await?;
        }
        kafka_errors::check(response.error_code, || format!("ApiVersions with {}", self.address))?;
        Ok(response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect())
    }

    fn version_for<R: ApiCall>(&self) -> Result<i16> {
        let (min, max) = self.versions.get(&R::KEY).copied().ok_or_else(|| {
            Error::new(ErrorKind::Invalid, format!("broker {} does not implement API {}", self.address, R::KEY))
        })?;
        let version = max.min(R::MAX_VERSION);
        if version < min.max(R::MIN_VERSION) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("no common version of API {} with {} (broker {min}-{max})", R::KEY, self.address),
            ));
        }
        Ok(version)
    }

    async fn call<R: ApiCall>(&self, request: R) -> Result<R::Response> {
        let version = self.version_for::<R>()?;
        self.call_at(request, version).await
    }

    fn frame<R: Request>(&self, request: &R, version: i16, correlation_id: i32) -> Result<BytesMut> {
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(StrBytes::from_string(self.client_id.clone()));
        let mut frame = BytesMut::with_capacity(64);
        frame.put_i32(0);
        let encode_error = |e: String| Error::internal(format!("cannot encode API {} v{version}: {e}", R::KEY));
        header.encode(&mut frame, R::header_version(version)).map_err(|e| encode_error(e.to_string()))?;
        request.encode(&mut frame, version).map_err(|e| encode_error(e.to_string()))?;
        let len = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        Ok(frame)
    }

    async fn call_at<R: Request>(&self, request: R, version: i16) -> Result<R::Response> {
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed);
        let frame = self.frame(&request, version, correlation_id)?;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(correlation_id, tx);
        let closed = || Error::new(ErrorKind::Unavailable, format!("connection to {} closed", self.address));
        // The reader marks the connection closed before failing the waiters it knows.
        if self.closed.load(Ordering::Acquire) || self.requests.send(frame).await.is_err() {
            self.pending.lock().remove(&correlation_id);
            return Err(closed());
        }
        let mut body = match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(body)) => body,
            Ok(Err(_)) => return Err(closed()),
            Err(_) => {
                self.pending.lock().remove(&correlation_id);
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("no answer from {} in {:?}", self.address, self.timeout),
                ));
            }
        };
        ResponseHeader::decode(&mut body, R::Response::header_version(version))
            .map_err(|e| Error::corrupt(format!("undecodable response header from {}: {e}", self.address)))?;
        R::Response::decode(&mut body, version)
            .map_err(|e| Error::corrupt(format!("undecodable response from {}: {e}", self.address)))
    }

    async fn send_only<R: ApiCall>(&self, request: R) -> Result<()> {
        let version = self.version_for::<R>()?;
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed);
        let frame = self.frame(&request, version, correlation_id)?;
        self.requests
            .send(frame)
            .await
            .map_err(|_| Error::new(ErrorKind::Unavailable, format!("connection to {} closed", self.address)))
    }
}

/// Reads a response frame of `len` bytes (at least a correlation id) without zero-filling it first.
async fn read_frame_body(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, len: i32) -> Option<Bytes> {
    let len = usize::try_from(len).ok().filter(|&l| l >= 4)?;
    let mut frame = BytesMut::with_capacity(len);
    let mut body = reader.take(len as u64);
    while frame.len() < len {
        if body.read_buf(&mut frame).await.ok()? == 0 {
            return None;
        }
    }
    Some(frame.freeze())
}

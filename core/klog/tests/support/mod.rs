//! Test support: an in-process broker on a loopback port and a raw Kafka connection.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use klog::broker::group::GroupConfig;
use klog::broker::{Broker, BrokerConfig, Endpoint};
use klog::net::{Admission, Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A broker serving on 127.0.0.1 with a temporary data directory.
pub struct TestBroker {
    pub addr: SocketAddr,
    pub broker: Arc<Broker>,
    pub dir: tempfile::TempDir,
    /// The server's live connection counts.
    pub admission: Arc<Admission>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestBroker {
    pub async fn start() -> TestBroker {
        Self::start_with(ServerConfig::default(), |_| {}).await
    }

    pub async fn start_with(server_config: ServerConfig, tweak: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        Self::start_in(tempfile::tempdir().unwrap(), server_config, tweak).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        server_config: ServerConfig,
        tweak: impl FnOnce(&mut BrokerConfig),
    ) -> TestBroker {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = BrokerConfig::new(dir.path());
        config.advertised = Endpoint { host: "127.0.0.1".into(), port: addr.port() };
        config.group = GroupConfig { initial_rebalance_delay_ms: 0, ..Default::default() };
        tweak(&mut config);
        let broker = Broker::open(config).unwrap();
        let server = Server::from_listener(listener, broker.clone(), server_config);
        let admission = server.admission();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        TestBroker { addr, broker, dir, admission, stop: Some(tx), task: Some(task) }
    }

    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    /// Stops serving, shuts the broker down and waits until nothing holds it.
    async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.broker.shutdown().unwrap();
        for _ in 0..100 {
            if Arc::strong_count(&self.broker) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(Arc::strong_count(&self.broker), 1, "broker still referenced after stop");
        self.dir
    }

    /// Stops the broker and opens a new one on the same data directory (new port).
    pub async fn restart(self) -> TestBroker {
        self.restart_after(|| {}).await
    }

    /// Like `restart`, running `while_stopped` between stop and start.
    pub async fn restart_after(self, while_stopped: impl FnOnce()) -> TestBroker {
        let dir = self.stop_keeping_data().await;
        while_stopped();
        Self::start_in(dir, ServerConfig::default(), |_| {}).await
    }

    pub async fn connect(&self) -> Conn {
        Conn::connect(self.addr).await
    }
}

/// A raw Kafka protocol connection.
pub struct Conn {
    pub stream: TcpStream,
    next_correlation: i32,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Conn {
        Conn::from_stream(TcpStream::connect(addr).await.unwrap())
    }

    pub fn from_stream(stream: TcpStream) -> Conn {
        Conn { stream, next_correlation: 1 }
    }

    pub fn encode<R: Request>(&mut self, request: &R, version: i16) -> (i32, BytesMut) {
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let api_key = ApiKey::try_from(R::KEY).unwrap();
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(StrBytes::from_static_str("klog-test"));
        let mut body = BytesMut::new();
        header.encode(&mut body, api_key.request_header_version(version)).unwrap();
        request.encode(&mut body, version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        (correlation_id, frame)
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads one response frame; `None` when the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    pub async fn read_response<R: Request>(&mut self, version: i16, correlation_id: i32) -> R::Response {
        let mut frame = self.read_frame().await.expect("connection closed");
        let api_key = ApiKey::try_from(R::KEY).unwrap();
        let header = ResponseHeader::decode(&mut frame, api_key.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, correlation_id);
        let response = R::Response::decode(&mut frame, version).unwrap();
        assert_eq!(frame.remaining(), 0, "trailing bytes in response");
        response
    }

    pub async fn call<R: Request>(&mut self, request: R, version: i16) -> R::Response {
        let (correlation_id, frame) = self.encode(&request, version);
        self.send_raw(&frame).await;
        self.read_response::<R>(version, correlation_id).await
    }
}

/// One RecordBatch v2 with `values` as records (keys `k0`, `k1`, ...).
pub fn batch(values: &[&[u8]], compression: Compression) -> Bytes {
    batch_with(values, compression, -1, -1, -1, 1_700_000_000_000)
}

pub fn batch_with(
    values: &[&[u8]],
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    sequence: i32,
    timestamp: i64,
) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if sequence < 0 { -1 } else { sequence + i as i32 },
            timestamp: timestamp + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::copy_from_slice(v)),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression }).unwrap();
    buf.freeze()
}

//! Kafka frames over a byte stream (TCP, or a simulated network): many requests
//! in flight, matched by correlation id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use klog_protocol::{api, BoxFuture, Error, ErrorKind, Result};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::transport::Transport;

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<Bytes>>>>;

/// A pipelined connection over a byte stream.
pub struct TcpTransport {
    address: String,
    requests: mpsc::Sender<BytesMut>,
    pending: Pending,
    /// Set by the reader when the stream ends, or by a call that timed out: every
    /// later call fails at once.
    closed: Arc<AtomicBool>,
    /// The task reading responses, stopped when the connection is given up.
    reader: tokio::task::AbortHandle,
    next_correlation: AtomicI32,
    client_id: String,
    timeout: Duration,
}

impl TcpTransport {
    /// Connects to `address` (`host:port`).
    pub async fn connect(address: &str, client_id: &str, timeout: Duration) -> Result<Arc<TcpTransport>> {
        let unreachable = |e: std::io::Error| {
            Error::new(ErrorKind::Unavailable, format!("cannot connect to {address}")).with_source(e)
        };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| Error::new(ErrorKind::Timeout, format!("connecting to {address} timed out")))?
            .map_err(unreachable)?;
        let _ = stream.set_nodelay(true);
        let (read_half, write_half) = stream.into_split();
        Ok(Self::over(read_half, write_half, address, client_id, timeout))
    }

    /// Runs the protocol over an already connected stream's two halves.
    pub fn over<R, W>(read: R, write: W, address: &str, client_id: &str, timeout: Duration) -> Arc<TcpTransport>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let pending: Pending = Arc::default();
        let (requests, outgoing) = mpsc::channel::<BytesMut>(1024);
        tokio::spawn(write_frames(write, outgoing));
        let closed = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_frames(read, pending.clone(), closed.clone())).abort_handle();
        Arc::new(TcpTransport {
            address: address.to_string(),
            requests,
            pending,
            closed,
            reader,
            next_correlation: AtomicI32::new(1),
            client_id: client_id.to_string(),
            timeout,
        })
    }

    fn frame(&self, api_key: ApiKey, version: i16, request: &RequestKind, correlation_id: i32) -> Result<BytesMut> {
        let mut header = RequestHeader::default();
        header.request_api_key = api_key as i16;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(StrBytes::from_string(self.client_id.clone()));
        let mut frame = BytesMut::with_capacity(64);
        frame.put_i32(0);
        let encode_error = |e: String| Error::internal(format!("cannot encode {api_key:?} v{version}: {e}"));
        header.encode(&mut frame, api_key.request_header_version(version)).map_err(|e| encode_error(e.to_string()))?;
        request.encode(&mut frame, version).map_err(|e| encode_error(e.to_string()))?;
        let len = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        Ok(frame)
    }

    fn closed_error(&self) -> Error {
        Error::new(ErrorKind::Unavailable, format!("connection to {} closed", self.address))
    }

    async fn call_at(&self, version: i16, request: RequestKind) -> Result<ResponseKind> {
        let api_key = api::api_key_of(&request).ok_or_else(|| Error::internal("request of an unknown API"))?;
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed);
        let frame = self.frame(api_key, version, &request, correlation_id)?;
        drop(request);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(correlation_id, tx);
        // The reader marks the connection closed before failing the waiters it knows.
        if self.closed.load(Ordering::Acquire) || self.requests.send(frame).await.is_err() {
            self.pending.lock().remove(&correlation_id);
            return Err(self.closed_error());
        }
        let mut body = match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(body)) => body,
            Ok(Err(_)) => return Err(self.closed_error()),
            Err(_) => {
                self.give_up();
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("no answer from {} in {:?}", self.address, self.timeout),
                ));
            }
        };
        ResponseHeader::decode(&mut body, api_key.response_header_version(version))
            .map_err(|e| Error::corrupt(format!("undecodable response header from {}: {e}", self.address)))?;
        ResponseKind::decode(api_key, &mut body, version)
            .map_err(|e| Error::corrupt(format!("undecodable {api_key:?} response from {}: {e}", self.address)))
    }

    /// Closes a connection that left a request unanswered for the whole timeout, as
    /// Kafka clients do: a peer that went silent (a half-open connection after a
    /// partition) would otherwise hold every later request until it times out too.
    /// Every call still waiting on it fails at once; the client reconnects.
    fn give_up(&self) {
        self.closed.store(true, Ordering::Release);
        self.reader.abort();
        self.pending.lock().clear();
    }

    async fn send_only(&self, version: i16, request: RequestKind) -> Result<()> {
        let api_key = api::api_key_of(&request).ok_or_else(|| Error::internal("request of an unknown API"))?;
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed);
        let frame = self.frame(api_key, version, &request, correlation_id)?;
        self.requests.send(frame).await.map_err(|_| self.closed_error())
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        // The writer stops once its queue closes; the reader could wait forever on a silent peer.
        self.reader.abort();
    }
}

impl Transport for TcpTransport {
    fn address(&self) -> &str {
        &self.address
    }

    fn call(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<ResponseKind>> {
        Box::pin(self.call_at(version, request))
    }

    fn send(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.send_only(version, request))
    }

    fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && !self.requests.is_closed()
    }

    fn ordered_once_polled(&self) -> bool {
        true
    }
}

/// Writes queued frames, batching what is queued into one flush.
async fn write_frames<W: AsyncWrite + Unpin>(mut write: W, mut outgoing: mpsc::Receiver<BytesMut>) {
    while let Some(frame) = outgoing.recv().await {
        if write.write_all(&frame).await.is_err() {
            break;
        }
        while let Ok(more) = outgoing.try_recv() {
            if write.write_all(&more).await.is_err() {
                return;
            }
        }
        if write.flush().await.is_err() {
            break;
        }
    }
}

/// Hands each response frame to the call waiting for its correlation id.
async fn read_frames<R: AsyncRead + Unpin>(read: R, pending: Pending, closed: Arc<AtomicBool>) {
    let mut reader = BufReader::with_capacity(256 * 1024, read);
    while let Ok(len) = reader.read_i32().await {
        let Some(frame) = read_frame_body(&mut reader, len).await else { break };
        let correlation_id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        if let Some(waiter) = pending.lock().remove(&correlation_id) {
            let _ = waiter.send(frame);
        }
    }
    // Dropping the senders fails every request still waiting.
    closed.store(true, Ordering::Release);
    pending.lock().clear();
}

/// Reads a response frame of `len` bytes (at least a correlation id) without zero-filling it first.
async fn read_frame_body<R: AsyncRead + Unpin>(reader: &mut BufReader<R>, len: i32) -> Option<Bytes> {
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

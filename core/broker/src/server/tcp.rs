//! A thin server around a [`Service`] (the broker): frames, decode, dispatch,
//! encode. It knows framing, not Kafka semantics. It serves any [`Listener`]:
//! tokio's TCP listener in production, a simulated network's in tests.
//!
//! Requests of one connection are handled one at a time, in order (as Kafka does),
//! while a separate writer task sends finished responses, so reading, handling and
//! writing overlap. Fetch records go from the log files to the socket without a
//! copy in user space on a real socket (see [`crate::writer`]). Client input never panics the broker: bad frames close the
//! connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
use tokio::task::JoinSet;

use klog_protocol::frame::{decode_request, encode_unsupported_api_versions, DecodedRequest};
use klog_protocol::wire::{encode_response_chunks, Chunk};
use klog_protocol::{RequestContext, Service};

use super::admission::{Admission, Limits, Refusal};
use super::stream::{Connection, Listener};
use crate::writer::write_chunks;

/// How much of a frame body is read per step (the buffer grows by at most this).
const READ_CHUNK: usize = 64 * 1024;

/// Network limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `socket.request.max.bytes`: larger frames close the connection.
    pub max_request_bytes: usize,
    /// `connections.max.idle.ms`: connections with no request for this long are closed.
    pub idle_timeout: Duration,
    /// How long shutdown waits for connections to finish their current request.
    pub shutdown_grace: Duration,
    /// Connection and request-byte limits (the byte budget is raised to
    /// `max_request_bytes` if set below it).
    pub limits: Limits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_request_bytes: 100 * 1024 * 1024,
            idle_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(5),
            limits: Limits::default(),
        }
    }
}

/// A bound listener serving one service (over TCP unless told otherwise).
pub struct Server<L = TcpListener> {
    listener: L,
    service: Arc<dyn Service>,
    config: ServerConfig,
    admission: Arc<Admission>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, service: Arc<dyn Service>, config: ServerConfig) -> std::io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr).await?, service, config))
    }
}

impl<L: Listener> Server<L> {
    /// Serves on an already bound listener (bind first to learn the port to advertise).
    pub fn from_listener(listener: L, service: Arc<dyn Service>, config: ServerConfig) -> Server<L> {
        // A frame must fit the budget whole, or it could never be read.
        let budget = config.limits.queued_max_request_bytes.max(config.max_request_bytes);
        let admission = Admission::new(Limits { queued_max_request_bytes: budget, ..config.limits });
        Server { listener, service, config, admission }
    }

    /// The live connection and request-byte counts (for metrics and tests).
    pub fn admission(&self) -> Arc<Admission> {
        self.admission.clone()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` completes, then lets open connections
    /// finish their current request (up to the grace period) and returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            // `biased`: a fixed order (simulated runs replay exactly); finished
            // connections are reaped before the next accept.
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let slot = match self.admission.admit(peer.ip()) {
                            Ok(slot) => slot,
                            Err(refusal) => {
                                refused(&self.admission, peer, refusal);
                                continue;
                            }
                        };
                        let service = self.service.clone();
                        let config = self.config.clone();
                        let admission = self.admission.clone();
                        let stop = stop_rx.clone();
                        connections.spawn(async move {
                            let _slot = slot;
                            if let Err(e) = serve_connection(stream, peer, service, config, admission, stop).await {
                                tracing::debug!(%peer, error = %e, "connection closed");
                            }
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        let _ = stop_tx.send(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(self.config.shutdown_grace, drain).await.is_err() {
            connections.abort_all();
        }
        Ok(())
    }
}

/// Logs a turned-away connection: the first and then every thousandth, so a
/// flood of them cannot flood the log too.
fn refused(admission: &Admission, peer: SocketAddr, refusal: Refusal) {
    let count = admission.refused_connections();
    if count % 1000 == 1 {
        let open = admission.open_connections();
        tracing::warn!(%peer, ?refusal, open, refused_so_far = count, "connection refused");
    }
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Codec(#[from] klog_protocol::frame::CodecError),
    #[error("frame of {0} bytes exceeds socket.request.max.bytes")]
    TooLarge(usize),
    #[error("idle timeout")]
    Idle,
}

async fn serve_connection<C: Connection>(
    stream: C,
    peer: SocketAddr,
    service: Arc<dyn Service>,
    config: ServerConfig,
    admission: Arc<Admission>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ConnectionError> {
    let (read_half, mut write_half) = stream.into_halves();
    let mut reader = BufReader::with_capacity(READ_CHUNK, read_half);
    let (tx, mut rx) = mpsc::channel::<Vec<Chunk>>(64);
    let writer = tokio::spawn(async move {
        while let Some(mut chunks) = rx.recv().await {
            // Responses already queued go out together (fewer system calls).
            while let Ok(more) = rx.try_recv() {
                chunks.extend(more);
            }
            write_chunks(&mut write_half, chunks).await?;
        }
        write_half.shutdown().await
    });
    let result: Result<(), ConnectionError> = async {
        loop {
            // `biased`: branches in a fixed order, so a simulated run replays exactly.
            let frame = tokio::select! {
                biased;
                frame = read_frame(&mut reader, &config, &admission) => frame?,
                _ = stop.changed() => return Ok(()),
            };
            // The request's bytes stay counted until it is answered.
            let Some((frame, _held)) = frame else { return Ok(()) };
            let out = match decode_request(frame)? {
                DecodedRequest::UnsupportedApiVersions { correlation_id } => {
                    let mut out = BytesMut::new();
                    encode_unsupported_api_versions(correlation_id, &mut out)?;
                    vec![Chunk::Bytes(out.freeze())]
                }
                DecodedRequest::Request { header, api_key, version, body } => {
                    let client_id = header.client_id.as_ref().map(|c| c.to_string()).unwrap_or_default();
                    let context = RequestContext::anonymous("PLAINTEXT", client_id, format!("/{}", peer.ip()));
                    // A peer that hangs up meanwhile will never read the answer: stop
                    // waiting for it (a parked long poll would pin this connection).
                    let response = tokio::select! {
                        biased;
                        response = service.call_wire(&context, version, body) => response,
                        () = peer_hung_up(&mut reader) => return Ok(()),
                    };
                    let Some(response) = response else { continue };
                    encode_response_chunks(header.correlation_id, api_key, header.request_api_version, &response)?
                }
            };
            if tx.send(out).await.is_err() {
                return Ok(()); // the writer failed; its error is reported below
            }
        }
    }
    .await;
    drop(tx);
    let written = writer.await.unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
    result?;
    written.map_err(ConnectionError::from)
}

/// Reads one length-prefixed frame, holding its bytes in the broker's request
/// byte budget as they arrive (a frame that claims much and sends little holds
/// little); `None` on a clean end of stream.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    config: &ServerConfig,
    admission: &Admission,
) -> Result<Option<(Bytes, Option<OwnedSemaphorePermit>)>, ConnectionError> {
    let mut len_buf = [0u8; 4];
    match tokio::time::timeout(config.idle_timeout, reader.read_exact(&mut len_buf)).await {
        Err(_) => return Err(ConnectionError::Idle),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok(_)) => {}
    }
    let len = i32::from_be_bytes(len_buf);
    let len = usize::try_from(len).map_err(|_| ConnectionError::TooLarge(0))?;
    if len > config.max_request_bytes {
        return Err(ConnectionError::TooLarge(len));
    }
    // The buffer grows with the bytes that arrive, not with the length claimed.
    // Waiting for bytes, or for room in the budget, longer than the idle timeout
    // closes the connection (which also frees what it held, so connections
    // holding parts of frames cannot wait on each other for ever).
    let step_limit = READ_CHUNK.min(admission.request_byte_budget());
    let mut frame = BytesMut::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    while frame.len() < len {
        let want = (len - frame.len()).min(step_limit);
        let room = tokio::time::timeout(config.idle_timeout, admission.hold_request_bytes(want));
        let mut step = room.await.map_err(|_| ConnectionError::Idle)?;
        frame.reserve(want);
        let mut body = (&mut *reader).take(want as u64);
        let n = match tokio::time::timeout(config.idle_timeout, body.read_buf(&mut frame)).await {
            Err(_) => return Err(ConnectionError::Idle),
            Ok(Ok(0)) => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
            Ok(read) => read?,
        };
        // Keep what arrived; the rest of the step goes back to the budget.
        let arrived = step.split(n).expect("at most `want` bytes arrive");
        match &mut held {
            Some(held) => held.merge(arrived),
            None => held = Some(arrived),
        }
    }
    Ok(Some((frame.freeze(), held)))
}

/// Resolves once the peer has closed the connection (or it failed). Bytes of
/// further requests already waiting are left in the buffer and keep it pending:
/// they are read after the current request, when a hang-up shows as usual.
async fn peer_hung_up<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) {
    match reader.fill_buf().await {
        Ok([]) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

//! How requests reach a broker. A [`Connector`] opens a [`Transport`] to an
//! address; the client above never knows which kind it holds.
//!
//! - [`TcpConnector`]: Kafka frames over TCP, pipelined (the default).
//! - [`InProcessConnector`]: straight into a [`Service`] in this process (the
//!   embedded broker): no socket, no codec, the same semantics.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use klog_protocol::{BoxFuture, Error, RequestContext, Result, Service};

/// One open way to a broker, carrying typed requests.
pub trait Transport: Send + Sync + 'static {
    /// The `host:port` (or name) this transport goes to.
    fn address(&self) -> &str;

    /// Sends `request` encoded at `version` and waits for the response.
    fn call(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<ResponseKind>>;

    /// Sends a request that takes no response (Produce with `acks=0`).
    fn send(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<()>>;

    /// Whether the transport can still carry requests.
    fn is_open(&self) -> bool;

    /// Whether a call keeps its place in line once polled the first time (a
    /// pipelined socket queues the frame then). Otherwise calls are ordered only
    /// by completing one before starting the next.
    fn ordered_once_polled(&self) -> bool;
}

/// Opens transports to addresses.
pub trait Connector: Send + Sync + 'static {
    /// Opens a new transport to `address` for client `client_id`.
    fn connect<'a>(
        &'a self,
        address: &'a str,
        client_id: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Arc<dyn Transport>>>;

    /// Whether the clients may keep a reference to this connector after they are
    /// closed without keeping anything else alive (false for an in-process broker).
    fn is_remote(&self) -> bool {
        true
    }
}

/// Kafka over TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect<'a>(
        &'a self,
        address: &'a str,
        client_id: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Arc<dyn Transport>>> {
        Box::pin(async move {
            let tcp = crate::tcp::TcpTransport::connect(address, client_id, timeout).await?;
            Ok(tcp as Arc<dyn Transport>)
        })
    }
}

/// Calls a [`Service`] in this process: every address leads to it.
#[derive(Clone)]
pub struct InProcessConnector {
    service: Arc<dyn Service>,
}

impl InProcessConnector {
    /// A connector to `service`.
    pub fn new(service: Arc<dyn Service>) -> InProcessConnector {
        InProcessConnector { service }
    }
}

impl Connector for InProcessConnector {
    fn connect<'a>(
        &'a self,
        _address: &'a str,
        client_id: &'a str,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<Arc<dyn Transport>>> {
        let transport = InProcess {
            service: self.service.clone(),
            context: RequestContext::anonymous("in-process", client_id, ""),
        };
        Box::pin(async move {
            check_open(&*transport.service)?;
            Ok(Arc::new(transport) as Arc<dyn Transport>)
        })
    }

    fn is_remote(&self) -> bool {
        false
    }
}

/// A transport into a service in this process.
struct InProcess {
    service: Arc<dyn Service>,
    context: RequestContext,
}

/// Fails with `Closed` once the in-process service was shut down.
fn check_open(service: &dyn Service) -> Result<()> {
    if service.is_closed() {
        return Err(Error::closed("the embedded broker is closed"));
    }
    Ok(())
}

impl Transport for InProcess {
    fn address(&self) -> &str {
        "in-process"
    }

    fn call(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<ResponseKind>> {
        Box::pin(async move {
            check_open(&*self.service)?;
            self.service
                .call(&self.context, version, request)
                .await
                .ok_or_else(|| Error::internal("the broker sent no response to a request that takes one"))
        })
    }

    fn send(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            check_open(&*self.service)?;
            self.service.call(&self.context, version, request).await;
            Ok(())
        })
    }

    fn is_open(&self) -> bool {
        !self.service.is_closed()
    }

    fn ordered_once_polled(&self) -> bool {
        false
    }
}

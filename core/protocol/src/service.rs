//! The seam between transports and the broker: a typed request in, maybe a typed
//! response out. Transports (TCP, in process, simulated) know framing, not Kafka.

use std::future::Future;
use std::pin::Pin;

use kafka_protocol::messages::{RequestKind, ResponseKind};

use crate::wire::WireResponse;
use crate::RequestContext;

/// A boxed, sendable future (what a `dyn Service` returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that answers Kafka requests: the broker.
pub trait Service: Send + Sync + 'static {
    /// Handles `request`, decoded at `version`. `None` means the request takes no
    /// response (Produce with `acks=0`): the transport sends nothing back.
    fn call<'a>(
        &'a self,
        context: &'a RequestContext,
        version: i16,
        request: RequestKind,
    ) -> BoxFuture<'a, Option<ResponseKind>>;

    /// Like [`Service::call`], for a transport that writes frames: the response may
    /// leave Fetch records in log files ([`WireResponse::deferred`]) for the
    /// transport to send without copying. By default, the response of `call`.
    fn call_wire<'a>(
        &'a self,
        context: &'a RequestContext,
        version: i16,
        request: RequestKind,
    ) -> BoxFuture<'a, Option<WireResponse>> {
        Box::pin(async move { self.call(context, version, request).await.map(WireResponse::from) })
    }

    /// Whether the service was shut down: in-process callers then fail with `Closed`.
    fn is_closed(&self) -> bool {
        false
    }
}

//! A [`Connector`] that wraps any other (TCP, in process, simulated) and loses or
//! delays requests and responses as its [`Faults`] decide, the way a real network
//! fails: a lost response was processed by the broker, and its caller sees a
//! timeout or a closed connection.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{RequestKind, ResponseKind};
use klog_client::{Connector, Transport};
use klog_protocol::{api, BoxFuture, Error, ErrorKind, Result};

use crate::faults::{Faults, Loss};

/// Opens transports through `inner` and subjects them to `faults`.
pub struct FaultyConnector {
    inner: Arc<dyn Connector>,
    faults: Arc<Faults>,
}

impl FaultyConnector {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Connector>, faults: Arc<Faults>) -> FaultyConnector {
        FaultyConnector { inner, faults }
    }
}

impl Connector for FaultyConnector {
    fn connect<'a>(
        &'a self,
        address: &'a str,
        client_id: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Arc<dyn Transport>>> {
        Box::pin(async move {
            let inner = self.inner.connect(address, client_id, timeout).await?;
            let transport = FaultyTransport {
                inner,
                faults: self.faults.clone(),
                broken: AtomicBool::new(false),
                pipe: tokio::sync::Mutex::new(()),
            };
            Ok(Arc::new(transport) as Arc<dyn Transport>)
        })
    }

    fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }
}

/// One connection through the faulty network.
struct FaultyTransport {
    inner: Arc<dyn Transport>,
    faults: Arc<Faults>,
    /// The connection was reset: every later call fails.
    broken: AtomicBool,
    /// Requests enter the inner transport one at a time, in the order they were
    /// first polled (a fair lock), so a delayed request holds back the ones after it
    /// as on a real stream.
    pipe: tokio::sync::Mutex<()>,
}

impl FaultyTransport {
    fn reset(&self) -> Error {
        self.broken.store(true, Ordering::Release);
        Error::new(ErrorKind::Unavailable, format!("connection to {} reset", self.inner.address()))
    }

    async fn call_at(&self, version: i16, request: RequestKind) -> Result<ResponseKind> {
        let fate = self.faults.fate(api::api_key_of(&request));
        let response = {
            let pipe = self.pipe.lock().await;
            if !fate.request_delay.is_zero() {
                tokio::time::sleep(fate.request_delay).await;
            }
            if fate.lose_request || self.broken.load(Ordering::Acquire) {
                return Err(self.reset());
            }
            let call = self.inner.call(version, request);
            enter(call, pipe).await?
        };
        if !fate.response_delay.is_zero() {
            tokio::time::sleep(fate.response_delay).await;
        }
        if !self.is_open() {
            // The connection closed while the answer was on its way.
            return Err(self.reset());
        }
        match fate.lose_response {
            None => Ok(response),
            Some(Loss::Reset) => Err(self.reset()),
            Some(Loss::Timeout) => {
                tokio::time::sleep(self.faults.lost_wait()).await;
                let message = format!("no answer from {} (response lost)", self.inner.address());
                Err(Error::new(ErrorKind::Timeout, message))
            }
        }
    }

    async fn send_only(&self, version: i16, request: RequestKind) -> Result<()> {
        let fate = self.faults.fate(api::api_key_of(&request));
        let pipe = self.pipe.lock().await;
        if !fate.request_delay.is_zero() {
            tokio::time::sleep(fate.request_delay).await;
        }
        if fate.lose_request || self.broken.load(Ordering::Acquire) {
            return Err(self.reset());
        }
        enter(self.inner.send(version, request), pipe).await
    }
}

/// Polls `call` once while holding the pipe, so it takes its place in the inner
/// transport's line, then lets the next request in.
async fn enter<F: Future, G>(call: F, pipe: G) -> F::Output {
    let mut pipe = Some(pipe);
    let mut call = std::pin::pin!(call);
    std::future::poll_fn(|cx| {
        let result = call.as_mut().poll(cx);
        pipe.take();
        result
    })
    .await
}

impl Transport for FaultyTransport {
    fn address(&self) -> &str {
        self.inner.address()
    }

    fn call(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<ResponseKind>> {
        Box::pin(self.call_at(version, request))
    }

    fn send(&self, version: i16, request: RequestKind) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.send_only(version, request))
    }

    fn is_open(&self) -> bool {
        !self.broken.load(Ordering::Acquire) && self.inner.is_open()
    }

    fn ordered_once_polled(&self) -> bool {
        // The pipe keeps the order requests were first polled in, delayed or not.
        self.inner.ordered_once_polled()
    }
}

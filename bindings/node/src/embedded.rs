//! `open(dir)`: a broker inside the Node process, optionally listening on TCP.

use std::net::SocketAddr;

use klog::client::ClientConfig;
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;

use crate::bridge::{promise, promise_of};

/// An embedded broker (native handle; the `klog` package wraps it).
#[napi]
pub struct Embedded {
    inner: klog::Handle<klog::Embedded>,
}

impl Embedded {
    /// Client settings that reach this broker in process.
    pub fn client_config(&self) -> klog::Result<ClientConfig> {
        Ok(self.inner.get()?.client_config())
    }
}

/// Opens (or creates) the broker directory `dir`.
#[napi]
pub fn open_embedded(env: &Env, dir: String) -> napi::Result<PromiseRaw<'_, Embedded>> {
    promise(env, async move { klog::Embedded::open(&dir) }, |_, embedded| {
        Ok(Embedded { inner: klog::Handle::new(embedded, "embedded broker") })
    })
}

#[napi]
impl Embedded {
    /// Serves the broker on TCP at `addr` ("host:port", port 0 picks one); resolves to "host:port" bound.
    #[napi]
    pub fn listen<'env>(&self, env: &'env Env, addr: String) -> napi::Result<PromiseRaw<'env, String>> {
        let inner = self.inner.get();
        promise_of(env, async move {
            let addr: SocketAddr =
                addr.parse().map_err(|e| klog::Error::invalid(format!("bad listen address {addr:?}: {e}")))?;
            Ok(inner?.listen(addr).await?.to_string())
        })
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Stops listening, flushes every log and releases the directory. Idempotent;
    /// clients of this broker then reject with `KLOG_CLOSED`.
    #[napi]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.take();
        promise_of(env, async move {
            match inner {
                Some(embedded) => embedded.close().await,
                None => Ok(()),
            }
        })
    }
}

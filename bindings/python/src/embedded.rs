//! `klog.open(path)`: a broker inside the Python process.

use std::net::SocketAddr;

use klog::client::ClientConfig;
use pyo3::prelude::*;

use crate::error::to_py;
use crate::runtime::{block_on, handle, into_py, run};

/// An embedded broker (native handle; use `klog.open`).
#[pyclass(module = "klog._native", frozen)]
pub struct Embedded {
    inner: klog::Handle<klog::Embedded>,
    path: String,
}

impl Embedded {
    pub fn client_config(&self) -> PyResult<ClientConfig> {
        Ok(self.inner.get().map_err(to_py)?.client_config())
    }
}

#[pymethods]
impl Embedded {
    /// Opens (or creates) the broker directory `path`.
    #[new]
    fn new(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let handle = handle()?;
        let display = path.display().to_string();
        let embedded = py
            .detach(|| {
                let _guard = handle.enter();
                klog::Embedded::open(&path)
            })
            .map_err(to_py)?;
        Ok(Embedded { inner: klog::Handle::new(embedded, "embedded broker"), path: display })
    }

    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Serves the broker on TCP at `addr` ("host:port", port 0 picks one); returns "host:port" bound.
    #[pyo3(signature = (addr, aio = false))]
    fn listen<'py>(&self, py: Python<'py>, addr: &str, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let addr: SocketAddr =
            addr.parse().map_err(|e| to_py(klog::Error::invalid(format!("bad listen address {addr:?}: {e}"))))?;
        let inner = self.inner.get().map_err(to_py)?;
        run(py, aio, async move { inner.listen(addr).await }, |py, bound| into_py(py, bound.to_string()))
    }

    /// Stops listening, flushes every log and releases the directory. Idempotent;
    /// clients of this broker then fail with `ClosedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(inner) = self.inner.take() else { return Ok(()) };
        block_on(py, async move { inner.close().await })
    }

    fn __repr__(&self) -> String {
        format!("<klog._native.Embedded path={:?}{}>", self.path, if self.inner.is_closed() { " closed" } else { "" })
    }
}

//! `klog._native`: the extension module behind the `klog` Python package.
//!
//! One tokio runtime per process (see [`runtime`]); every object wraps a core
//! object in a closable handle; every potentially waiting method either blocks
//! with the GIL released (interruptible by Ctrl-C) or, with `aio=True`, returns
//! an asyncio future completed from the runtime.

mod admin;
mod arrow;
mod common;
mod consumer;
mod embedded;
mod error;
mod producer;
mod runtime;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(m)?;
    m.add_class::<embedded::Embedded>()?;
    m.add_class::<admin::Admin>()?;
    m.add_class::<producer::Producer>()?;
    m.add_class::<producer::RecordMetadata>()?;
    m.add_class::<consumer::Consumer>()?;
    m.add_class::<consumer::Record>()?;
    m.add_class::<runtime::TaskCanceller>()?;
    m.add_function(wrap_pyfunction!(runtime::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::after_fork_in_child, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! Pieces shared by the wrapped objects: a closable handle and client settings.

use std::sync::Arc;

use klog::client::ClientConfig;
use pyo3::prelude::*;

use crate::embedded::Embedded;
use crate::error::to_py;
use crate::runtime::{check_pid, current_pid};

/// A core object shared with running tasks; `close()` empties it so later calls
/// fail with `ClosedError` (the core's [`klog::Handle`], refusing a process that
/// inherited it through fork).
pub struct Slot<T> {
    inner: klog::Handle<T>,
    pid: u32,
}

impl<T> Slot<T> {
    pub fn new(value: T, what: &'static str) -> Self {
        Slot { inner: klog::Handle::new(value, what), pid: current_pid() }
    }

    /// The object, or `ClosedError`.
    pub fn get(&self) -> PyResult<Arc<T>> {
        check_pid(self.pid)?;
        self.inner.get().map_err(to_py)
    }

    /// Takes the object out (None if already closed, or inherited through fork:
    /// closing an inherited object does nothing, see `Drop`).
    pub fn take(&self) -> Option<Arc<T>> {
        if self.pid != current_pid() {
            return None;
        }
        self.inner.take()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if self.pid != current_pid() {
            // Inherited through fork: dropping would touch the parent's runtime
            // (tasks, locks) from a process where its threads do not exist. Leak it.
            self.inner.leak();
        }
    }
}

/// Where a client connects: `bootstrap.servers` or an embedded broker.
pub enum Target {
    Servers(String),
    Embedded(ClientConfig),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Target {
    type Error = PyErr;

    fn extract(ob: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(embedded) = ob.cast::<Embedded>() {
            return Ok(Target::Embedded(embedded.get().client_config()?));
        }
        let servers: String = ob.extract()?;
        Ok(Target::Servers(servers))
    }
}

/// Builds the client settings and returns the options left for the producer or consumer.
pub fn client_config(
    target: Target,
    options: Vec<(String, String)>,
) -> PyResult<(ClientConfig, Vec<(String, String)>)> {
    let mut config = match target {
        Target::Servers(servers) => {
            if servers.trim().is_empty() {
                return Err(to_py(klog::Error::invalid("bootstrap_servers is empty")));
            }
            ClientConfig::new(&servers)
        }
        Target::Embedded(config) => config,
    };
    let mut rest = Vec::new();
    for (key, value) in options {
        if key == "bootstrap.servers" {
            continue;
        }
        match config.set(&key, &value) {
            Ok(_) => {}
            Err(e) if klog::client::UnknownOption::is(&e) => rest.push((key, value)),
            Err(e) => return Err(to_py(e)),
        }
    }
    Ok((config, rest))
}

/// A topic partition as Python passes it: `(topic, partition)` (a `klog.TopicPartition` is one).
pub type Tp = (String, i32);

pub fn tp_in(tp: Tp) -> klog::client::TopicPartition {
    klog::client::TopicPartition::new(tp.0, tp.1)
}

pub fn tp_out(tp: klog::client::TopicPartition) -> Tp {
    (tp.topic, tp.partition)
}

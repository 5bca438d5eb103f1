//! Pieces shared by the wrapped objects: where a client connects and its options.

use klog::binding::{self, Options};
use klog::client::ClientConfig;
use pyo3::prelude::*;

use crate::embedded::Embedded;

/// The option naming the brokers, which the `bootstrap_servers` argument sets.
const BOOTSTRAP: &str = "bootstrap.servers";

/// Where a client connects, as Python passes it: `"host:port,..."` or an `Embedded`.
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

impl Target {
    /// The core's target and the Kafka-named options in order, the servers given
    /// as `bootstrap.servers` (ahead of `options`, whose own is ignored).
    pub fn with(self, options: impl IntoIterator<Item = (String, String)>) -> (binding::Target, Options) {
        let (target, servers) = match self {
            Target::Servers(servers) => (binding::Target::Bootstrap, Some((BOOTSTRAP.to_string(), servers))),
            Target::Embedded(client) => (binding::Target::InProcess(client), None),
        };
        let options = options.into_iter().filter(|(key, _)| key != BOOTSTRAP);
        (target, servers.into_iter().chain(options).collect())
    }
}

/// A topic partition as Python passes it: `(topic, partition)` (a `klog.TopicPartition` is one).
pub type Tp = (String, i32);

pub fn tp_in(tp: Tp) -> klog::client::TopicPartition {
    klog::client::TopicPartition::new(tp.0, tp.1)
}

pub fn tp_out(tp: klog::client::TopicPartition) -> Tp {
    (tp.topic, tp.partition)
}

//! The Python exception hierarchy, defined once here and re-exported by `klog`:
//!
//! ```text
//! KlogError(Exception)            .kind .kafka_code .retriable .message
//! ├── InvalidError(ValueError)     ├── NotFoundError(LookupError)
//! ├── AlreadyExistsError           ├── UnavailableError
//! ├── NotLeaderError               ├── TimeoutError(builtins.TimeoutError)
//! ├── FencedError                  ├── ClosedError
//! ├── CorruptError                 ├── IoError(OSError)
//! └── InternalError
//! ```

use klog::ErrorKind;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// (Python name, kind name, extra builtin base, ErrorKind).
const KINDS: &[(&str, &str, Option<&str>, ErrorKind)] = &[
    ("InvalidError", "invalid", Some("ValueError"), ErrorKind::Invalid),
    ("NotFoundError", "not_found", Some("LookupError"), ErrorKind::NotFound),
    ("AlreadyExistsError", "already_exists", None, ErrorKind::AlreadyExists),
    ("UnavailableError", "unavailable", None, ErrorKind::Unavailable),
    ("NotLeaderError", "not_leader", None, ErrorKind::NotLeader),
    ("TimeoutError", "timeout", Some("TimeoutError"), ErrorKind::Timeout),
    ("FencedError", "fenced", None, ErrorKind::Fenced),
    ("ClosedError", "closed", None, ErrorKind::Closed),
    ("CorruptError", "corrupt", None, ErrorKind::Corrupt),
    ("IoError", "io", Some("OSError"), ErrorKind::Io),
    ("InternalError", "internal", None, ErrorKind::Internal),
];

struct Classes {
    base: Py<PyType>,
    kinds: Vec<(ErrorKind, Py<PyType>)>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

const BASE_DOC: &str = "Base class of every klog error.\n\n\
Attributes: ``kind`` (e.g. ``\"not_found\"``), ``message``, ``kafka_code`` (the Kafka \
error code a broker answered with, or None) and ``retriable`` (whether retrying the \
same operation later may succeed).";

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let type_ = builtins.getattr("type")?;
        let ns = PyDict::new(py);
        ns.set_item("__module__", "klog")?;
        ns.set_item("__doc__", BASE_DOC)?;
        ns.set_item("kind", "internal")?;
        ns.set_item("kafka_code", py.None())?;
        ns.set_item("retriable", false)?;
        ns.set_item("message", "")?;
        let base = type_.call1(("KlogError", PyTuple::new(py, [py.get_type::<PyException>()])?, ns))?;
        let mut kinds = Vec::new();
        for (name, kind_name, extra, kind) in KINDS {
            let mut bases = vec![base.clone()];
            if let Some(extra) = extra {
                bases.push(builtins.getattr(*extra)?);
            }
            let ns = PyDict::new(py);
            ns.set_item("__module__", "klog")?;
            ns.set_item("__doc__", format!("klog error of kind ``{kind_name}``: {}", doc_of(*kind)))?;
            ns.set_item("kind", *kind_name)?;
            ns.set_item("retriable", kind.is_retriable())?;
            let class = type_.call1((*name, PyTuple::new(py, bases)?, ns))?;
            kinds.push((*kind, class.cast_into::<PyType>()?.unbind()));
        }
        Ok(Classes { base: base.cast_into::<PyType>()?.unbind(), kinds })
    })
}

fn doc_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "the request or data is malformed or violates a limit; do not retry unchanged.",
        ErrorKind::NotFound => "the topic, partition, group or offset does not exist.",
        ErrorKind::AlreadyExists => "it already exists (e.g. creating a topic twice).",
        ErrorKind::Unavailable => "temporarily unable to serve; retry with backoff.",
        ErrorKind::NotLeader => "this node does not lead the partition; retry after a metadata refresh.",
        ErrorKind::Timeout => "the operation did not finish in time.",
        ErrorKind::Fenced => "a newer producer or group member took over; re-initialize.",
        ErrorKind::Closed => "the object (or the runtime) was closed.",
        ErrorKind::Corrupt => "stored data failed a checksum or structure check.",
        ErrorKind::Io => "disk or operating-system I/O failed.",
        _ => "a bug or an unexpected state; please report it.",
    }
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let classes = classes(py)?;
    m.add("KlogError", classes.base.bind(py))?;
    for ((name, ..), (_, class)) in KINDS.iter().zip(&classes.kinds) {
        m.add(*name, class.bind(py))?;
    }
    Ok(())
}

/// The Python exception for a klog error.
pub fn to_py(err: klog::Error) -> PyErr {
    Python::attach(|py| match make(py, &err) {
        Ok(e) => e,
        Err(e) => e,
    })
}

fn make(py: Python<'_>, err: &klog::Error) -> PyResult<PyErr> {
    let classes = classes(py)?;
    let class = classes
        .kinds
        .iter()
        .find(|(k, _)| *k == err.kind())
        .map(|(_, c)| c.bind(py))
        .unwrap_or_else(|| classes.base.bind(py));
    let text = err.to_string();
    let value = class.call1((text,))?;
    value.setattr("message", err.message())?;
    if let Some(code) = err.kafka_code() {
        value.setattr("kafka_code", code)?;
    }
    Ok(PyErr::from_value(value))
}

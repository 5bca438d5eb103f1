//! The public error type: one `Error` with a small set of kinds that tell the
//! caller what to do next. Kafka error codes are mapped at the protocol edge.

use std::fmt;

/// What went wrong, phrased as what the caller can do about it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request or data is malformed or violates a limit. Do not retry unchanged.
    Invalid,
    /// The topic, partition, group or offset does not exist. Retry only after creating it.
    NotFound,
    /// Already exists (e.g. creating a topic twice). Do not retry.
    AlreadyExists,
    /// Temporarily unable to serve (shutting down, overloaded). Retry with backoff.
    Unavailable,
    /// This node does not lead the partition. Refresh metadata, then retry.
    NotLeader,
    /// The operation did not finish in time. Retrying is safe for idempotent operations.
    Timeout,
    /// A newer producer or group member took over. Do not retry; re-initialize.
    Fenced,
    /// The handle was closed. Do not retry on it.
    Closed,
    /// Stored data failed a checksum or structure check. Not retriable.
    Corrupt,
    /// Disk or operating-system I/O failed. The affected partition may refuse writes until reopened.
    Io,
    /// A bug or an unexpected state. Not retriable; please report it.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retriable(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::NotLeader | ErrorKind::Timeout)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::NotLeader => "not leader",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Fenced => "fenced",
            ErrorKind::Closed => "closed",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Io => "i/o error",
            ErrorKind::Internal => "internal error",
        };
        f.write_str(name)
    }
}

/// klog's error: a kind, a message for humans, and an optional source.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    kafka_code: Option<i16>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result with klog's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), kafka_code: None, source: None }
    }

    /// Attaches the Kafka error code a broker answered with.
    pub fn with_kafka_code(mut self, code: i16) -> Self {
        self.kafka_code = Some(code);
        self
    }

    /// The Kafka error code behind this error, when a broker sent one.
    pub fn kafka_code(&self) -> Option<i16> {
        self.kafka_code
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message (without the kind).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for an [`ErrorKind::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// Shorthand for an [`ErrorKind::Corrupt`] error.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }

    /// Shorthand for an [`ErrorKind::Closed`] error.
    pub fn closed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Closed, message)
    }

    /// Shorthand for an [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Error::new(kind, "i/o failed").with_source(err)
    }
}

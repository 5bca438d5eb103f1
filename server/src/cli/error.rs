//! The CLI's error: one line for the user and the exit code that goes with it.

use std::fmt;

/// Exit code: the operation failed.
pub const FAILED: u8 = 1;
/// Exit code: bad usage (what clap uses too).
pub const USAGE: u8 = 2;
/// Exit code: the cluster or data directory could not be reached.
pub const CONNECT: u8 = 3;

/// What failed, why, and the exit code to leave with.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub what: String,
    pub why: String,
}

impl CliError {
    /// The operation `what` failed because of `why` (exit 1).
    pub fn failed(what: impl Into<String>, why: impl fmt::Display) -> CliError {
        CliError { code: FAILED, what: what.into(), why: why.to_string() }
    }

    /// A usage error found after parsing (exit 2).
    pub fn usage(what: impl Into<String>, why: impl fmt::Display) -> CliError {
        CliError { code: USAGE, what: what.into(), why: why.to_string() }
    }

    /// Cannot reach the cluster (exit 3).
    pub fn connect(what: impl Into<String>, why: impl fmt::Display) -> CliError {
        CliError { code: CONNECT, what: what.into(), why: why.to_string() }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Errors that already start with the context ("cannot connect to X: ...") say it once.
        if self.why.starts_with(&self.what) {
            f.write_str(&self.why)
        } else {
            write!(f, "{}: {}", self.what, self.why)
        }
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Why a klog error happened, without repeating the context the CLI already gives.
pub fn why(e: &klog::Error) -> String {
    use std::error::Error as _;
    let mut out = e.message().to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Whether a klog error means the cluster could not be reached at all.
pub fn is_unreachable(e: &klog::Error) -> bool {
    matches!(e.kind(), klog::ErrorKind::Unavailable | klog::ErrorKind::Timeout | klog::ErrorKind::Io)
}

/// Adds "what failed" to klog errors: `admin.list_topics().await.ctx("listing topics")?`.
pub trait Context<T> {
    fn ctx(self, what: impl Into<String>) -> CliResult<T>;
}

impl<T> Context<T> for klog::Result<T> {
    fn ctx(self, what: impl Into<String>) -> CliResult<T> {
        self.map_err(|e| {
            let code = if is_unreachable(&e) && e.kafka_code().is_none() { CONNECT } else { FAILED };
            CliError { code, what: what.into(), why: why(&e) }
        })
    }
}

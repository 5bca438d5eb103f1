//! Kafka-named options: the connection options every client shares
//! ([`ClientConfig::set`]), the value parsers the producer and consumer use for
//! theirs, and the typed error for a key no client knows ([`UnknownOption`]).

use std::time::Duration;

use klog_protocol::error::{Error, Result};

use crate::ClientConfig;

/// The source of the error for an option name a client does not know, so callers
/// (bindings that offer one config for several clients) can tell it from a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key:?} (known: {known})")]
pub struct UnknownOption {
    /// The name given.
    pub key: String,
    /// The names that client knows, comma-separated.
    pub known: String,
}

impl UnknownOption {
    /// An `Invalid` error for `key`, unknown to `client` (`"producer"`, ...), which knows `known`.
    pub fn error(client: &str, key: &str, known: &[&str]) -> Error {
        let known = known.join(", ");
        Error::invalid(format!("unknown {client} option")).with_source(UnknownOption { key: key.to_string(), known })
    }

    /// Whether `error` says an option name is unknown (rather than its value bad).
    pub fn is(error: &Error) -> bool {
        std::error::Error::source(error).is_some_and(|s| s.is::<UnknownOption>())
    }
}

/// The connection options [`ClientConfig::set`] knows.
pub const CONNECTION_OPTIONS: &[&str] = &["bootstrap.servers", "client.id", "request.timeout.ms", "retry.backoff.ms"];

impl ClientConfig {
    /// Sets one connection option by its Kafka name (see [`CONNECTION_OPTIONS`]);
    /// other names fail with an [`UnknownOption`] error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let value = value.trim();
        match key.trim() {
            "bootstrap.servers" => {
                let servers: Vec<String> =
                    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
                if servers.is_empty() {
                    return Err(bad(key, value, "a comma-separated host:port list"));
                }
                self.bootstrap = servers;
            }
            "client.id" => self.client_id = value.to_string(),
            "request.timeout.ms" => self.request_timeout = millis(key, value, 1)?,
            "retry.backoff.ms" => self.retry_backoff = millis(key, value, 0)?,
            other => return Err(UnknownOption::error("connection", other, CONNECTION_OPTIONS)),
        }
        Ok(self)
    }
}

/// The error for a malformed value of option `key`.
pub(crate) fn bad(key: &str, value: &str, expected: &str) -> Error {
    Error::invalid(format!("invalid value {value:?} for option {key}: expected {expected}"))
}

/// An integer option within `min..=max`.
pub(crate) fn number(key: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| bad(key, value, &format!("an integer from {min} to {max}")))
}

/// A duration option in milliseconds, at least `min`.
pub(crate) fn millis(key: &str, value: &str, min: u64) -> Result<Duration> {
    number(key, value, min, i32::MAX as u64).map(Duration::from_millis)
}

/// A boolean option: `true` or `false`, in any case (as Kafka's clients).
pub(crate) fn boolean(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(key, value, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_told_apart_from_bad_values() {
        let mut config = ClientConfig::new("localhost:9092");
        config.set("client.id", "me").unwrap().set("request.timeout.ms", "250").unwrap();
        assert_eq!((config.client_id.as_str(), config.request_timeout), ("me", Duration::from_millis(250)));
        let unknown = config.set("linger.ms", "5").unwrap_err();
        assert!(UnknownOption::is(&unknown), "{unknown}");
        assert!(unknown.to_string().contains("\"linger.ms\""), "{unknown}");
        let bad = config.set("request.timeout.ms", "soon").unwrap_err();
        assert!(!UnknownOption::is(&bad) && bad.kind() == klog_protocol::ErrorKind::Invalid);
        assert!(config.set("bootstrap.servers", " , ").is_err());
    }
}

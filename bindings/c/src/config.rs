//! `klog_config`: Kafka-named options (`bootstrap.servers`, `acks`, `linger.ms`,
//! `group.id`, `auto.offset.reset`, ...) shared by producers, consumers and admin
//! clients. `klog_config_set` checks each option at once against the core's
//! producer and consumer settings; a client applies the options it knows, in the
//! order they were set, and ignores the other client's (so one config can serve both).

use std::ffi::c_char;

use klog::client::{ClientConfig, ConsumerConfig, ProducerConfig, UnknownOption};

use crate::error::{Failure, Result};
use crate::ffi::{arg_mut, arg_str, free_handle, guard, into_handle};
use crate::status::klog_status;

/// One option and which clients accept it.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: String,
    producer: bool,
    consumer: bool,
}

/// Client options with Kafka's names. Create with `klog_config_new`, free with `klog_config_free`.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Default)]
pub struct klog_config {
    entries: Vec<Entry>,
}

/// Where a client connects.
pub(crate) enum Target {
    /// `bootstrap.servers` from the config.
    Remote,
    /// A broker in this process (the config's `bootstrap.servers` is ignored).
    InProcess(ClientConfig),
}

const BOOTSTRAP: &str = "bootstrap.servers";

impl klog_config {
    /// Checks `key=value` against both clients and keeps it for those that know the key.
    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        // Whether a client knows the key; a bad value for a known key is an error.
        let knows = |set: klog::Result<()>| match set {
            Ok(()) => Ok(true),
            Err(e) if UnknownOption::is(&e) => Ok(false),
            Err(e) => Err(Failure::from(e)),
        };
        let scratch = || ClientConfig::new("");
        let producer = knows(ProducerConfig::new(scratch()).set(key, value).map(|_| ()))?;
        let consumer = knows(ConsumerConfig::new(scratch(), None).set(key, value).map(|_| ()))?;
        if !producer && !consumer {
            return Err(Failure::invalid(format!("unknown config key {key:?}")));
        }
        self.entries.push(Entry { key: key.to_string(), value: value.to_string(), producer, consumer });
        Ok(())
    }

    /// The connection settings for `target` (`bootstrap.servers` must be set for `Remote`).
    fn client(&self, target: Target) -> Result<ClientConfig> {
        match target {
            Target::InProcess(client) => Ok(client),
            Target::Remote if self.entries.iter().any(|e| e.key == BOOTSTRAP) => Ok(ClientConfig::new("")),
            Target::Remote => Err(Failure::invalid("bootstrap.servers is not set in the config")),
        }
    }

    /// The options for one kind of client, keeping an in-process target's bootstrap.
    fn options(&self, target: &Target, producer: bool) -> impl Iterator<Item = &Entry> {
        let in_process = matches!(target, Target::InProcess(_));
        self.entries
            .iter()
            .filter(move |e| if producer { e.producer } else { e.consumer })
            .filter(move |e| !(in_process && e.key == BOOTSTRAP))
    }

    /// Producer settings: Kafka's defaults, then the producer options in order.
    pub(crate) fn producer(&self, target: Target) -> Result<ProducerConfig> {
        let keep: Vec<&Entry> = self.options(&target, true).collect();
        let mut config = ProducerConfig::new(self.client(target)?);
        for e in keep {
            config.set(&e.key, &e.value)?;
        }
        Ok(config)
    }

    /// Consumer settings: Kafka's defaults, then the consumer options in order.
    pub(crate) fn consumer(&self, target: Target) -> Result<ConsumerConfig> {
        let keep: Vec<&Entry> = self.options(&target, false).collect();
        let mut config = ConsumerConfig::new(self.client(target)?, None);
        for e in keep {
            config.set(&e.key, &e.value)?;
        }
        Ok(config)
    }

    /// Admin settings: the connection options (`bootstrap.servers`, `client.id`,
    /// `request.timeout.ms`, `retry.backoff.ms`).
    pub(crate) fn admin(&self, target: Target) -> Result<ClientConfig> {
        Ok(self.consumer(target)?.client)
    }
}

/// Creates an empty config (every option at Kafka's default).
///
/// Ownership: on `KLOG_OK`, `*out` is a new config the caller frees with
/// `klog_config_free`. Clients copy the config when created, so it may be freed
/// (or changed) right after. Thread safety: any thread.
///
/// # Safety
/// `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_config_new(out: *mut *mut klog_config) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a writable pointer.
        let out = unsafe { arg_mut(out, "out") }?;
        *out = into_handle(klog_config::default());
        Ok(())
    })
}

/// Sets option `key` (a Kafka name such as `"bootstrap.servers"`, `"acks"`,
/// `"linger.ms"`, `"group.id"`, `"auto.offset.reset"`, `"enable.auto.commit"`) to
/// `value`. Fails with `KLOG_INVALID` (and changes nothing) when no client knows
/// the key or the value is malformed; setting a key again replaces its value.
///
/// Ownership: `key` and `value` are copied. Thread safety: not concurrently with
/// other calls on the same config.
///
/// # Safety
/// `config` must be NULL or a live config; `key` and `value` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn klog_config_set(
    config: *mut klog_config,
    key: *const c_char,
    value: *const c_char,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live, exclusively used config.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the caller passes NULL or NUL-terminated strings.
        let (key, value) = unsafe { (arg_str(key, "key")?, arg_str(value, "value")?) };
        config.set(key, value)
    })
}

/// Frees a config. NULL does nothing.
///
/// Ownership: takes `config`, which must not be used afterwards. Clients created
/// from it are unaffected.
///
/// # Safety
/// `config` must be NULL or a config from `klog_config_new` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn klog_config_free(config: *mut klog_config) {
    // SAFETY: forwarded from the caller.
    unsafe { free_handle(config) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_go_to_the_clients_that_know_them() {
        let mut config = klog_config::default();
        config.set("bootstrap.servers", "h:1").unwrap();
        config.set("acks", "1").unwrap();
        config.set("group.id", "g").unwrap();
        assert!(config.set("no.such.option", "1").unwrap_err().message.contains("unknown config key"));
        assert!(config.set("linger.ms", "soon").unwrap_err().message.contains("linger.ms"));
        // A value only one client would take is refused (the producer wants servers).
        assert_eq!(config.set("bootstrap.servers", " ").unwrap_err().status, klog_status::KLOG_INVALID);
        assert_eq!(config.entries.len(), 3);
        let producer = config.producer(Target::Remote).unwrap();
        assert_eq!(producer.acks, klog::client::Acks::Leader);
        let consumer = config.consumer(Target::Remote).unwrap();
        assert_eq!(consumer.group_id.as_deref(), Some("g"));
        assert!(klog_config::default().producer(Target::Remote).is_err());
    }
}

//! `klog_config`: Kafka-named options (`bootstrap.servers`, `acks`, `linger.ms`,
//! `group.id`, `auto.offset.reset`, ...) shared by producers, consumers and admin
//! clients. `klog_config_set` checks each option at once against the core's
//! producer and consumer settings; a client applies the options it knows, in the
//! order they were set, and ignores the other client's (so one config can serve both).

use std::ffi::c_char;

pub(crate) use klog::binding::Target;
use klog::binding::{Options, Unknown};
use klog::client::{ClientConfig, ConsumerConfig, ProducerConfig};

use crate::error::Result;
use crate::ffi::{arg_mut, arg_str, free_handle, guard, into_handle};
use crate::status::klog_status;

/// Client options with Kafka's names. Create with `klog_config_new`, free with `klog_config_free`.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Default)]
pub struct klog_config {
    options: Options,
}

impl klog_config {
    /// Producer settings: Kafka's defaults, then the producer options in order.
    pub(crate) fn producer(&self, target: Target) -> Result<ProducerConfig> {
        Ok(self.options.producer(target, Unknown::Skip)?)
    }

    /// Consumer settings: Kafka's defaults, then the consumer options in order.
    pub(crate) fn consumer(&self, target: Target) -> Result<ConsumerConfig> {
        Ok(self.options.consumer(target, Unknown::Skip)?)
    }

    /// Admin settings: the connection options (`bootstrap.servers`, `client.id`,
    /// `request.timeout.ms`, `retry.backoff.ms`).
    pub(crate) fn admin(&self, target: Target) -> Result<ClientConfig> {
        Ok(self.options.admin(target, Unknown::Skip)?)
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
        Ok(config.options.set(key, value)?)
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
    fn one_config_serves_every_client() {
        let mut config = klog_config::default();
        config.options.set("bootstrap.servers", "h:1").unwrap();
        config.options.set("acks", "1").unwrap();
        config.options.set("group.id", "g").unwrap();
        assert_eq!(config.producer(Target::Bootstrap).unwrap().acks, klog::client::Acks::Leader);
        assert_eq!(config.consumer(Target::Bootstrap).unwrap().group_id.as_deref(), Some("g"));
        assert_eq!(config.admin(Target::Bootstrap).unwrap().bootstrap, ["h:1"]);
        let err = klog_config::default().producer(Target::Bootstrap).unwrap_err();
        assert_eq!(err.status, klog_status::KLOG_INVALID);
    }
}

//! Client settings from the options the JavaScript layer passes: Kafka option
//! names (`linger.ms`, `group.id`, ...) as `[name, value]` pairs, plus either
//! `bootstrap.servers` or an embedded broker.

use klog::client::{ClientConfig, ConsumerConfig, ProducerConfig};

use crate::embedded::Embedded;

/// Options as `[name, value]` pairs, in the order given.
pub type Options = Vec<(String, String)>;

const BOOTSTRAP: &str = "bootstrap.servers";

/// How to reach the cluster: the embedded broker, or `bootstrap.servers` (left
/// in the options, where the producer and consumer settings read it).
fn client(embedded: Option<&Embedded>, options: &Options) -> klog::Result<ClientConfig> {
    if let Some(embedded) = embedded {
        return embedded.client_config();
    }
    match options.iter().find(|(k, _)| k == BOOTSTRAP) {
        Some((_, servers)) if !servers.trim().is_empty() => Ok(ClientConfig::new(servers)),
        _ => Err(klog::Error::invalid("bootstrapServers (or an embedded broker) is required")),
    }
}

/// The options to apply on top of the client settings (without the bootstrap
/// when the embedded broker is the target).
fn settable<'a>(embedded: Option<&Embedded>, options: &'a Options) -> impl Iterator<Item = &'a (String, String)> {
    let in_process = embedded.is_some();
    options.iter().filter(move |(k, _)| !in_process || k != BOOTSTRAP)
}

/// Producer settings: Kafka's defaults, then `options` in order.
pub fn producer(embedded: Option<&Embedded>, options: &Options) -> klog::Result<ProducerConfig> {
    let mut config = ProducerConfig::new(client(embedded, options)?);
    for (key, value) in settable(embedded, options) {
        config.set(key, value)?;
    }
    Ok(config)
}

/// Consumer settings: Kafka's defaults, then `options` in order (`group.id` among them).
pub fn consumer(embedded: Option<&Embedded>, options: &Options) -> klog::Result<ConsumerConfig> {
    let mut config = ConsumerConfig::new(client(embedded, options)?, None);
    for (key, value) in settable(embedded, options) {
        config.set(key, value)?;
    }
    Ok(config)
}

/// Admin settings: the connection options only.
pub fn admin(embedded: Option<&Embedded>, options: &Options) -> klog::Result<ClientConfig> {
    let mut config = client(embedded, options)?;
    for (key, value) in settable(embedded, options) {
        config.set(key, value)?;
    }
    Ok(config)
}

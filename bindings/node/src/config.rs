//! Client settings from the options the JavaScript layer passes: Kafka option
//! names (`linger.ms`, `group.id`, ...) as `[name, value]` pairs, parsed by the
//! core's [`klog::binding::Options`], plus either `bootstrap.servers` or an
//! embedded broker.

use klog::binding::{self, Target, Unknown};
use klog::client::{ClientConfig, ConsumerConfig, ProducerConfig};

use crate::embedded::Embedded;

/// Options as `[name, value]` pairs, in the order given.
pub type Options = Vec<(String, String)>;

/// The core's target and options: the embedded broker, or `bootstrap.servers`.
fn core(embedded: Option<&Embedded>, options: &Options) -> klog::Result<(Target, binding::Options)> {
    let target = match embedded {
        Some(embedded) => Target::InProcess(embedded.client_config()?),
        None => Target::Bootstrap,
    };
    Ok((target, options.iter().cloned().collect()))
}

/// Producer settings: Kafka's defaults, then `options` in order.
pub fn producer(embedded: Option<&Embedded>, options: &Options) -> klog::Result<ProducerConfig> {
    let (target, options) = core(embedded, options)?;
    options.producer(target, Unknown::Refuse)
}

/// Consumer settings: Kafka's defaults, then `options` in order (`group.id` among them).
pub fn consumer(embedded: Option<&Embedded>, options: &Options) -> klog::Result<ConsumerConfig> {
    let (target, options) = core(embedded, options)?;
    options.consumer(target, Unknown::Refuse)
}

/// Admin settings: the connection options only.
pub fn admin(embedded: Option<&Embedded>, options: &Options) -> klog::Result<ClientConfig> {
    let (target, options) = core(embedded, options)?;
    options.admin(target, Unknown::Refuse)
}

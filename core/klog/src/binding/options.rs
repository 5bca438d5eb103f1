//! Kafka-named client options as a binding collects them: `key=value` pairs in
//! the order given, parsed by the core's own setters ([`ProducerConfig::set`],
//! [`ConsumerConfig::set`], [`ClientConfig::set`]). Which client a key belongs to
//! is decided by the typed [`UnknownOption`] error, never by an error's text.

use crate::client::{ClientConfig, ConsumerConfig, ProducerConfig, UnknownOption};
use crate::{Error, Result};

/// The option naming the brokers to connect to.
const BOOTSTRAP: &str = "bootstrap.servers";

/// Where a binding's client connects.
#[derive(Clone)]
pub enum Target {
    /// The brokers in the options' `bootstrap.servers` (which must be set).
    Bootstrap,
    /// A broker in this process (`Embedded::client_config`); the options'
    /// `bootstrap.servers`, if any, is ignored.
    InProcess(ClientConfig),
}

/// What a client does with an option it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// Fails with the [`UnknownOption`] error (options given for one client).
    Refuse,
    /// Leaves it to the other clients (one set of options serving several).
    Skip,
}

/// Client options with Kafka's names, in the order given; a key given again
/// replaces the earlier value.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pairs: Vec<(String, String)>,
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Options {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Options { pairs: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

impl Options {
    /// Adds `key=value`, checked only when a client is configured from it.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((key.into(), value.into()));
    }

    /// Adds `key=value` after checking it at once against the producer's and the
    /// consumer's settings: fails (adding nothing) when neither knows the key or
    /// one that knows it refuses the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let producer = known(ProducerConfig::new(ClientConfig::new("")).set(key, value).map(drop))?;
        let consumer = known(ConsumerConfig::new(ClientConfig::new(""), None).set(key, value).map(drop))?;
        if !producer && !consumer {
            return Err(Error::invalid(format!("unknown config key {key:?}")));
        }
        self.push(key, value);
        Ok(())
    }

    /// Producer settings: Kafka's defaults, then the options in order.
    pub fn producer(&self, target: Target, unknown: Unknown) -> Result<ProducerConfig> {
        let mut config = ProducerConfig::new(self.client(&target)?);
        self.apply(&target, unknown, |k, v| config.set(k, v).map(drop))?;
        Ok(config)
    }

    /// Consumer settings: Kafka's defaults, then the options in order.
    pub fn consumer(&self, target: Target, unknown: Unknown) -> Result<ConsumerConfig> {
        let mut config = ConsumerConfig::new(self.client(&target)?, None);
        self.apply(&target, unknown, |k, v| config.set(k, v).map(drop))?;
        Ok(config)
    }

    /// Admin settings: the connection options (`bootstrap.servers`, `client.id`,
    /// `request.timeout.ms`, `retry.backoff.ms`).
    pub fn admin(&self, target: Target, unknown: Unknown) -> Result<ClientConfig> {
        let mut config = self.client(&target)?;
        self.apply(&target, unknown, |k, v| config.set(k, v).map(drop))?;
        Ok(config)
    }

    /// The connection to start from: the in-process one, or one whose brokers
    /// the options' `bootstrap.servers` sets.
    fn client(&self, target: &Target) -> Result<ClientConfig> {
        match target {
            Target::InProcess(client) => Ok(client.clone()),
            Target::Bootstrap if self.pairs.iter().any(|(k, _)| k.trim() == BOOTSTRAP) => Ok(ClientConfig::new("")),
            Target::Bootstrap => Err(Error::invalid("bootstrap.servers is not set (nor an embedded broker given)")),
        }
    }

    /// Sets each option with `set`, in order, as `target` and `unknown` say.
    fn apply(&self, target: &Target, unknown: Unknown, mut set: impl FnMut(&str, &str) -> Result<()>) -> Result<()> {
        let in_process = matches!(target, Target::InProcess(_));
        for (key, value) in &self.pairs {
            if in_process && key.trim() == BOOTSTRAP {
                continue;
            }
            if let Err(e) = set(key, value) {
                if unknown == Unknown::Refuse || !UnknownOption::is(&e) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Whether a client knows the key it was just given (a bad value is an error).
fn known(set: Result<()>) -> Result<bool> {
    match set {
        Ok(()) => Ok(true),
        Err(e) if UnknownOption::is(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Acks;
    use crate::ErrorKind;

    #[test]
    fn checked_options_go_to_the_clients_that_know_them() {
        let mut options = Options::default();
        options.set("bootstrap.servers", "h:1").unwrap();
        options.set("acks", "1").unwrap();
        options.set("group.id", "g").unwrap();
        assert!(options.set("no.such.option", "1").unwrap_err().message().contains("unknown config key"));
        assert!(options.set("linger.ms", "soon").unwrap_err().message().contains("linger.ms"));
        assert_eq!(options.set("bootstrap.servers", " ").unwrap_err().kind(), ErrorKind::Invalid);
        let producer = options.producer(Target::Bootstrap, Unknown::Skip).unwrap();
        assert_eq!(
            (producer.acks, producer.client.bootstrap.as_slice()),
            (Acks::Leader, ["h:1".to_string()].as_slice())
        );
        let consumer = options.consumer(Target::Bootstrap, Unknown::Skip).unwrap();
        assert_eq!(consumer.group_id.as_deref(), Some("g"));
        assert_eq!(options.admin(Target::Bootstrap, Unknown::Skip).unwrap().bootstrap, ["h:1"]);
    }

    #[test]
    fn options_for_one_client_refuse_the_other_clients_keys() {
        let options: Options = [("bootstrap.servers", "h:1"), ("group.id", "g")].into_iter().collect();
        let refused = options.producer(Target::Bootstrap, Unknown::Refuse).unwrap_err();
        assert!(UnknownOption::is(&refused), "{refused}");
        assert_eq!(options.consumer(Target::Bootstrap, Unknown::Refuse).unwrap().group_id.as_deref(), Some("g"));
        assert!(options.admin(Target::Bootstrap, Unknown::Refuse).is_err());
    }

    #[test]
    fn the_target_decides_where_clients_connect() {
        let none = Options::default();
        let missing = none.producer(Target::Bootstrap, Unknown::Refuse).unwrap_err();
        assert!(missing.message().contains("bootstrap.servers is not set"), "{missing}");
        let options: Options = [("bootstrap.servers", "h:1"), ("client.id", "me")].into_iter().collect();
        let in_process = ClientConfig::new("in-process");
        let admin = options.admin(Target::InProcess(in_process), Unknown::Refuse).unwrap();
        assert_eq!(
            (admin.bootstrap.as_slice(), admin.client_id.as_str()),
            (["in-process".to_string()].as_slice(), "me")
        );
        let later: Options = [("bootstrap.servers", "a:1"), ("bootstrap.servers", "b:2")].into_iter().collect();
        assert_eq!(later.admin(Target::Bootstrap, Unknown::Refuse).unwrap().bootstrap, ["b:2"]);
    }
}

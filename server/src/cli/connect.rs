//! Reaching the cluster: a remote bootstrap list or an embedded broker on a data
//! directory, plus the `-X key=value` client options.

use std::path::PathBuf;
use std::time::Duration;

use klog::client::{Admin, ClientConfig, Consumer, ConsumerConfig, Producer, ProducerConfig};
use klog::Embedded;

use super::error::{why, CliError, CliResult, Context};

/// Options every command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Brokers to bootstrap from, `host:port[,host:port...]` [env: KLOG_BOOTSTRAP] [default: 127.0.0.1:9092].
    #[arg(short = 'b', long, value_name = "SERVERS", global = true, conflicts_with = "data_dir")]
    pub bootstrap: Option<String>,
    /// Open an embedded broker on this directory instead of connecting to a cluster.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Client option with its Kafka name, e.g. `-X linger.ms=50` (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value, global = true)]
    pub options: Vec<(String, String)>,
}

/// Parses `key=value`.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Where to connect without `--bootstrap`, `KLOG_BOOTSTRAP` or `--data-dir`.
const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";

/// Options understood by every client (applied to the connection settings).
const CLIENT_OPTIONS: &[&str] = &["client.id", "request.timeout.ms", "retry.backoff.ms", "bootstrap.servers"];

/// A live connection: the client settings, the embedded broker if any, an admin client.
pub struct Session {
    pub client: ClientConfig,
    pub admin: Admin,
    options: Vec<(String, String)>,
    embedded: Option<Embedded>,
    target: String,
}

impl Session {
    /// Opens the embedded broker or connects to the bootstrap servers (exit 3 on failure).
    pub async fn open(args: &ConnectArgs) -> CliResult<Session> {
        let (mut client, embedded, target) = match &args.data_dir {
            Some(dir) => {
                let embedded = Embedded::open(dir)
                    .map_err(|e| CliError::connect(format!("cannot open data directory {}", dir.display()), why(&e)))?;
                (embedded.client_config(), Some(embedded), dir.display().to_string())
            }
            None => {
                let servers = args
                    .bootstrap
                    .clone()
                    .or_else(|| std::env::var("KLOG_BOOTSTRAP").ok().filter(|s| !s.trim().is_empty()))
                    .unwrap_or_else(|| DEFAULT_BOOTSTRAP.to_string());
                (ClientConfig::new(&servers), None, servers)
            }
        };
        client.client_id = "klog-cli".into();
        let mut options = Vec::new();
        for (key, value) in &args.options {
            if CLIENT_OPTIONS.contains(&key.as_str()) {
                apply_client_option(&mut client, key, value)?;
            } else {
                options.push((key.clone(), value.clone()));
            }
        }
        let admin = match Admin::connect(client.clone()).await {
            Ok(a) => a,
            Err(e) => {
                if let Some(embedded) = embedded {
                    let _ = embedded.close().await;
                }
                return Err(CliError::connect(format!("cannot connect to {target}"), why(&e)));
            }
        };
        Ok(Session { client, admin, options, embedded, target })
    }

    /// A producer with the `-X` options applied (and `extra`, which win).
    pub async fn producer(&self, extra: &[(&str, String)]) -> CliResult<Producer> {
        let mut config = ProducerConfig::new(self.client.clone());
        for (k, v) in self
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
        {
            config.set(k, v).map_err(|e| CliError::usage(format!("producer option {k}={v}"), why(&e)))?;
        }
        Producer::connect(config).await.ctx(format!("connecting a producer to {}", self.target))
    }

    /// A consumer in `group` with the `-X` options applied (and `extra`, which win).
    pub async fn consumer(&self, group: Option<&str>, extra: &[(&str, String)]) -> CliResult<Consumer> {
        let mut config = ConsumerConfig::new(self.client.clone(), group);
        for (k, v) in self
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
        {
            config.set(k, v).map_err(|e| CliError::usage(format!("consumer option {k}={v}"), why(&e)))?;
        }
        Consumer::connect(config).await.ctx(format!("connecting a consumer to {}", self.target))
    }

    /// Closes the embedded broker (flushing its logs), if there is one.
    pub async fn close(self) -> CliResult {
        drop(self.admin);
        if let Some(embedded) = self.embedded {
            embedded.close().await.ctx("closing the data directory")?;
        }
        Ok(())
    }
}

fn apply_client_option(client: &mut ClientConfig, key: &str, value: &str) -> CliResult {
    let millis = || {
        value.parse::<u64>().map(Duration::from_millis).map_err(|_| {
            CliError::usage(format!("client option {key}"), format!("expected milliseconds, got {value:?}"))
        })
    };
    match key {
        "client.id" => client.client_id = value.to_string(),
        "request.timeout.ms" => client.request_timeout = millis()?,
        "retry.backoff.ms" => client.retry_backoff = millis()?,
        "bootstrap.servers" => {
            return Err(CliError::usage("client option bootstrap.servers", "use --bootstrap instead"));
        }
        _ => unreachable!("only client options are applied here"),
    }
    Ok(())
}

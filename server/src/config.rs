//! klog-server settings: defaults, overridden by a TOML file, overridden by
//! environment variables (`KLOG_*`), overridden by command-line flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use klog::net::Limits;
use serde::Deserialize;

/// Command line (each flag also reads its `KLOG_*` environment variable).
#[derive(Debug, Parser)]
#[command(
    name = "klog-server",
    version,
    about = "A Kafka-compatible broker. Every setting has a default: `klog-server` alone serves ./klog-data on 127.0.0.1:9092."
)]
pub struct Args {
    /// TOML config file; flags and environment variables override its keys.
    #[arg(long, env = "KLOG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./klog-data].
    #[arg(long, env = "KLOG_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Listener, `PLAINTEXT://HOST:PORT` or `HOST:PORT` (port 0 picks a free one) [default: PLAINTEXT://127.0.0.1:9092].
    #[arg(long, env = "KLOG_LISTENERS")]
    pub listeners: Option<String>,
    /// Address given to clients, `PLAINTEXT://HOST:PORT` [default: the listener's].
    #[arg(long, env = "KLOG_ADVERTISED_LISTENERS")]
    pub advertised_listeners: Option<String>,
    /// Node id [default: 1].
    #[arg(long, env = "KLOG_NODE_ID")]
    pub node_id: Option<i32>,
    /// Partitions of auto-created topics [default: 1].
    #[arg(long, env = "KLOG_NUM_PARTITIONS")]
    pub num_partitions: Option<i32>,
    /// Create topics on first use in Metadata [default: true].
    #[arg(long, env = "KLOG_AUTO_CREATE_TOPICS")]
    pub auto_create_topics: Option<bool>,
    /// Delay before the first rebalance of a new group, to let members gather [default: 3000].
    #[arg(long, env = "KLOG_GROUP_INITIAL_REBALANCE_DELAY_MS")]
    pub group_initial_rebalance_delay_ms: Option<u64>,
    /// Partitions of `__consumer_offsets` when it is created (fixed afterwards) [default: 50].
    #[arg(long, env = "KLOG_OFFSETS_TOPIC_NUM_PARTITIONS")]
    pub offsets_topic_num_partitions: Option<i32>,
    /// Largest request frame accepted, in bytes [default: 104857600].
    #[arg(long, env = "KLOG_SOCKET_REQUEST_MAX_BYTES")]
    pub socket_request_max_bytes: Option<usize>,
    /// Close connections idle for this long [default: 600000].
    #[arg(long, env = "KLOG_CONNECTIONS_MAX_IDLE_MS")]
    pub connections_max_idle_ms: Option<u64>,
    /// Most open connections [default: half the process's file descriptor limit].
    #[arg(long, env = "KLOG_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most open connections from one IP address [default: max-connections].
    #[arg(long, env = "KLOG_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Most bytes of requests held in memory across connections [default: 268435456].
    #[arg(long, env = "KLOG_QUEUED_MAX_REQUEST_BYTES")]
    pub queued_max_request_bytes: Option<usize>,
    /// Most record bytes in one fetch response [default: 57671680].
    #[arg(long, env = "KLOG_FETCH_MAX_BYTES")]
    pub fetch_max_bytes: Option<usize>,
    /// Default topic config, Kafka names, e.g. `--topic-default retention.ms=3600000` (repeatable;
    /// the env variable takes a comma-separated list).
    #[arg(long = "topic-default", env = "KLOG_TOPIC_DEFAULTS", value_delimiter = ',')]
    pub topic_defaults: Vec<String>,
    /// Log filter (tracing syntax, e.g. `info,klog=debug`) [default: info].
    #[arg(long, env = "KLOG_LOG")]
    pub log: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "KLOG_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// The TOML file: the same keys as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listeners: Option<String>,
    advertised_listeners: Option<String>,
    node_id: Option<i32>,
    num_partitions: Option<i32>,
    auto_create_topics: Option<bool>,
    group_initial_rebalance_delay_ms: Option<u64>,
    offsets_topic_num_partitions: Option<i32>,
    socket_request_max_bytes: Option<usize>,
    connections_max_idle_ms: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    queued_max_request_bytes: Option<usize>,
    fetch_max_bytes: Option<usize>,
    #[serde(default)]
    topic_defaults: BTreeMap<String, toml::Value>,
    log: Option<String>,
    log_format: Option<String>,
}

/// Fully resolved settings.
#[derive(Debug)]
pub struct Settings {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Address to bind.
    pub listen: SocketAddr,
    /// Advertised host and port (port 0 = the bound port).
    pub advertised: Option<(String, u16)>,
    /// Node id.
    pub node_id: i32,
    /// Partitions of auto-created topics.
    pub num_partitions: i32,
    /// Auto topic creation.
    pub auto_create_topics: bool,
    /// First-rebalance delay of new groups.
    pub group_initial_rebalance_delay_ms: u64,
    /// Partitions of a new `__consumer_offsets`.
    pub offsets_topic_num_partitions: i32,
    /// Largest request frame.
    pub socket_request_max_bytes: usize,
    /// Idle connection timeout.
    pub idle_timeout: Duration,
    /// Connection and request-byte limits.
    pub limits: Limits,
    /// Most record bytes per fetch response.
    pub fetch_max_bytes: usize,
    /// Topic config defaults with Kafka names.
    pub topic_defaults: BTreeMap<String, String>,
    /// Log filter.
    pub log: String,
    /// Emit JSON logs.
    pub log_json: bool,
}

impl Settings {
    /// Resolves flags and environment over the file over the defaults.
    pub fn resolve(args: Args) -> Result<Settings> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str::<FileConfig>(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listeners = args.listeners.or(file.listeners).unwrap_or_else(|| "PLAINTEXT://127.0.0.1:9092".into());
        let (host, port) = parse_listener(&listeners)?;
        let listen: SocketAddr = format!("{host}:{port}")
            .parse()
            .or_else(|_| resolve_host(&host, port))
            .with_context(|| format!("listener {listeners:?} is not a valid address"))?;
        let advertised =
            args.advertised_listeners.or(file.advertised_listeners).map(|a| parse_listener(&a)).transpose()?;
        let mut topic_defaults: BTreeMap<String, String> = file
            .topic_defaults
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect();
        for pair in args.topic_defaults {
            let (k, v) = pair.split_once('=').with_context(|| format!("--topic-default {pair:?} is not KEY=VALUE"))?;
            topic_defaults.insert(k.trim().to_string(), v.trim().to_string());
        }
        let log_format = args.log_format.or(file.log_format).unwrap_or_else(|| "text".into());
        let log_json = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => bail!("log format {other:?} is neither text nor json"),
        };
        let offsets_topic_num_partitions = args
            .offsets_topic_num_partitions
            .or(file.offsets_topic_num_partitions)
            .unwrap_or(klog::broker::group::DEFAULT_OFFSETS_PARTITIONS);
        if offsets_topic_num_partitions < 1 {
            bail!("offsets-topic-num-partitions must be at least 1, got {offsets_topic_num_partitions}");
        }
        let defaults = Limits::default();
        let max_connections = args.max_connections.or(file.max_connections).unwrap_or(defaults.max_connections);
        let limits = Limits {
            max_connections,
            max_connections_per_ip: args
                .max_connections_per_ip
                .or(file.max_connections_per_ip)
                .unwrap_or(max_connections),
            queued_max_request_bytes: args
                .queued_max_request_bytes
                .or(file.queued_max_request_bytes)
                .unwrap_or(defaults.queued_max_request_bytes),
        };
        let socket_request_max_bytes =
            args.socket_request_max_bytes.or(file.socket_request_max_bytes).unwrap_or(100 * 1024 * 1024);
        if limits.queued_max_request_bytes < socket_request_max_bytes {
            bail!(
                "queued-max-request-bytes ({}) must be at least socket-request-max-bytes ({socket_request_max_bytes})",
                limits.queued_max_request_bytes
            );
        }
        Ok(Settings {
            data_dir: args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("klog-data")),
            listen,
            advertised,
            node_id: args.node_id.or(file.node_id).unwrap_or(1),
            num_partitions: args.num_partitions.or(file.num_partitions).unwrap_or(1),
            auto_create_topics: args.auto_create_topics.or(file.auto_create_topics).unwrap_or(true),
            group_initial_rebalance_delay_ms: args
                .group_initial_rebalance_delay_ms
                .or(file.group_initial_rebalance_delay_ms)
                .unwrap_or(3000),
            offsets_topic_num_partitions,
            socket_request_max_bytes,
            idle_timeout: Duration::from_millis(
                args.connections_max_idle_ms.or(file.connections_max_idle_ms).unwrap_or(600_000),
            ),
            limits,
            fetch_max_bytes: args
                .fetch_max_bytes
                .or(file.fetch_max_bytes)
                .unwrap_or(klog::broker::DEFAULT_FETCH_MAX_BYTES),
            topic_defaults,
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            log_json,
        })
    }
}

/// Splits `PLAINTEXT://host:port` (or `host:port`) into host and port.
fn parse_listener(listener: &str) -> Result<(String, u16)> {
    if listener.contains(',') {
        bail!("only one listener is supported, got {listener:?}");
    }
    let address = match listener.split_once("://") {
        Some(("PLAINTEXT", rest)) => rest,
        Some((protocol, _)) => bail!("listener protocol {protocol:?} is not supported (only PLAINTEXT)"),
        None => listener,
    };
    let (host, port) = address.rsplit_once(':').with_context(|| format!("listener {listener:?} has no port"))?;
    let port = port.parse().with_context(|| format!("listener {listener:?} has an invalid port"))?;
    Ok((host.trim_matches(|c| c == '[' || c == ']').to_string(), port))
}

fn resolve_host(host: &str, port: u16) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs()?.next().with_context(|| format!("host {host:?} does not resolve"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_parse_with_and_without_protocol() {
        assert_eq!(parse_listener("PLAINTEXT://127.0.0.1:9092").unwrap(), ("127.0.0.1".into(), 9092));
        assert_eq!(parse_listener("localhost:0").unwrap(), ("localhost".into(), 0));
        assert_eq!(parse_listener("PLAINTEXT://[::1]:19092").unwrap(), ("::1".into(), 19092));
        assert!(parse_listener("SSL://h:1").is_err());
        assert!(parse_listener("a:1,b:2").is_err());
        assert!(parse_listener("nohost").is_err());
    }

    #[test]
    fn flags_override_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klog.toml");
        std::fs::write(&path, "node_id = 7\nnum_partitions = 3\n[topic_defaults]\n\"retention.ms\" = 1000\n").unwrap();
        let args = Args::parse_from(["klog-server", "--config", path.to_str().unwrap(), "--num-partitions", "5"]);
        let s = Settings::resolve(args).unwrap();
        assert_eq!(s.node_id, 7);
        assert_eq!(s.num_partitions, 5);
        assert_eq!(s.topic_defaults.get("retention.ms").map(String::as_str), Some("1000"));
        assert_eq!(s.listen, "127.0.0.1:9092".parse().unwrap());
    }
}

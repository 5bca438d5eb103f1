//! `klog-server`: the standalone klog broker.

mod config;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use klog::broker::group::GroupConfig;
use klog::broker::{Broker, BrokerConfig, Endpoint};
use klog::log::LogConfig;
use klog::net::{Server, ServerConfig};
use tokio::net::TcpSocket;

use config::{Args, Settings};

fn main() -> ExitCode {
    raise_descriptor_limit();
    let settings = match Settings::resolve(Args::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("klog-server: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("klog-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(settings));
    // Do not wait for stray blocking work (a maintenance pass, say): the logs are closed.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("klog-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long connections may take to finish the request they are handling at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

async fn run(settings: Settings) -> Result<()> {
    // Reserve the address first (fail fast, learn the port to advertise) but listen only
    // once the broker can answer: until then connecting is refused, not left hanging.
    let socket = reserve(settings.listen).with_context(|| format!("cannot listen on {}", settings.listen))?;
    let bound = socket.local_addr()?;
    let broker = open_broker(&settings, &bound)?;
    let listener = socket.listen(1024).with_context(|| format!("cannot listen on {bound}"))?;
    let server_config = ServerConfig {
        max_request_bytes: settings.socket_request_max_bytes,
        idle_timeout: settings.idle_timeout,
        shutdown_grace: SHUTDOWN_GRACE,
        limits: settings.limits,
    };
    let server = Server::from_listener(listener, broker.clone(), server_config);
    tracing::info!(listen = %bound, advertised = ?broker.advertised(), "serving");
    // The one line on stdout: scripts wait for it to know the broker is ready.
    println!("klog-server listening on {bound}");
    let draining = broker.clone();
    server
        .serve(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            // Idle connections close at once; waiting requests are answered now.
            draining.begin_shutdown();
        })
        .await?;
    let started = Instant::now();
    broker.shutdown().context("flushing logs at shutdown")?;
    tracing::info!(close_ms = started.elapsed().as_millis() as u64, "stopped cleanly");
    Ok(())
}

/// A TCP socket bound to `addr` (port 0 picks one) and not yet listening.
fn reserve(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// Opens the broker, advertising `bound` unless the settings name another address.
fn open_broker(settings: &Settings, bound: &SocketAddr) -> Result<Arc<Broker>> {
    let advertised = match &settings.advertised {
        Some((host, port)) => Endpoint { host: host.clone(), port: if *port == 0 { bound.port() } else { *port } },
        None => Endpoint { host: advertised_host(bound), port: bound.port() },
    };
    let mut config = BrokerConfig::new(&settings.data_dir);
    config.node_id = settings.node_id;
    config.advertised = advertised;
    config.num_partitions = settings.num_partitions;
    config.auto_create_topics = settings.auto_create_topics;
    config.fetch_max_bytes = settings.fetch_max_bytes;
    config.log = LogConfig::default().with_overrides(&settings.topic_defaults).context("invalid topic default")?;
    config.group = GroupConfig {
        initial_rebalance_delay_ms: settings.group_initial_rebalance_delay_ms,
        offsets_topic_partitions: settings.offsets_topic_num_partitions,
        ..Default::default()
    };
    let started = Instant::now();
    let broker = Broker::open(config).context("cannot open the broker")?;
    tracing::info!(open_ms = started.elapsed().as_millis() as u64, "broker opened");
    Ok(broker)
}

/// Raises the soft limit on open files to the hard one: a broker holds a file
/// per log segment and per connection (the connection limits default to a share
/// of this limit, so it is raised before they are worked out).
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write only the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The host to advertise when only a listener is configured.
fn advertised_host(bound: &std::net::SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        bound.ip().to_string()
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if settings.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

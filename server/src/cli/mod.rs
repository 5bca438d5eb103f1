//! The `klog` command line: argument parsing, dispatch, exit codes.

mod cluster;
mod connect;
mod consume;
mod error;
mod groups;
mod output;
mod produce;
mod topics;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use connect::{ConnectArgs, Session};
use error::CliResult;

/// Command line of `klog`.
#[derive(Debug, Parser)]
#[command(
    name = "klog",
    version,
    about = "Topics, produce, consume, consumer groups: a client for klog and any Kafka cluster.",
    long_about = "Topics, produce, consume, consumer groups: a client for klog and any Kafka cluster.\n\n\
        Connects to --bootstrap (env KLOG_BOOTSTRAP, default 127.0.0.1:9092), or with --data-dir \
        opens an embedded broker on a directory (no server needed).\n\n\
        Exit codes: 0 ok, 1 the operation failed, 2 usage error, 3 cannot connect."
)]
pub struct Cli {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list, describe, alter and delete topics.
    #[command(subcommand)]
    Topics(topics::TopicsCommand),
    /// Send records read from stdin (one per line) or a file.
    Produce(produce::ProduceArgs),
    /// Print records of a topic.
    Consume(consume::ConsumeArgs),
    /// Consumer groups: list, describe (with lag), delete, reset offsets.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// The cluster: id, controller and brokers.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Runs `klog` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("klog: cannot start the runtime: {e}");
            return ExitCode::from(error::FAILED);
        }
    };
    let result = runtime.block_on(run(cli));
    // Background tasks (connections, fetchers) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klog: {e}");
            ExitCode::from(e.code)
        }
    }
}

/// Logs (warnings and errors of the client library) go to stderr; `KLOG_LOG` sets the filter.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KLOG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn run(cli: Cli) -> CliResult {
    // Check what can be checked before connecting, so usage errors exit 2 even offline.
    match &cli.command {
        Command::Consume(args) => args.validate()?,
        Command::Groups(groups::GroupsCommand::ResetOffsets(args)) => args.validate()?,
        _ => {}
    }
    let session = Session::open(&cli.connect).await?;
    let result = match cli.command {
        Command::Topics(cmd) => topics::run(&session, cmd).await,
        Command::Produce(args) => produce::run(&session, args).await,
        Command::Consume(args) => consume::run(&session, args).await,
        Command::Groups(cmd) => groups::run(&session, cmd).await,
        Command::Cluster(cmd) => cluster::run(&session, cmd).await,
    };
    let closed = session.close().await;
    result.and(closed)
}

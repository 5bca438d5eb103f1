//! `klog`: a command-line client for klog and any Kafka cluster (topics, produce,
//! consume, consumer groups, cluster), remote or on an embedded data directory.

#[path = "../cli/mod.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

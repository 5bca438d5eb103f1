//! The TCP scenarios (turmoil) over a bounded set of seeds, and replay
//! determinism. `KLOG_SIM_SEEDS=5000` runs more seeds, `KLOG_SIM_SEED=n` replays one.
//!
//! Each seed runs in a process of its own (this test binary, started again for
//! that seed): a run depends on what ran before it in a process, so only a fresh
//! process gives the history that `KLOG_SIM_SEED=n` replays.

use std::process::Command;

use klog_sim::net::seeds::run_tcp_seeds;
use klog_sim::net::TcpScenario;
use klog_sim::seeds::seeds;

/// Seeds per scenario in a plain `cargo test`.
const BOUNDED: u64 = 8;

/// Set in the process that runs one seed.
const CHILD: &str = "KLOG_SIM_TCP_CHILD";

fn run_scenario(scenario: TcpScenario) {
    if std::env::var_os(CHILD).is_some() {
        let reports = run_tcp_seeds(scenario, &seeds(1));
        assert!(reports.iter().all(|r| r.violations.is_empty()), "tcp {scenario} failed");
        return;
    }
    let seeds = seeds(BOUNDED);
    let mut failed = Vec::new();
    let mut acked = 0;
    for &seed in &seeds {
        match run_alone(scenario, seed) {
            Ok(line) => acked += acked_in(&line),
            Err(output) => {
                eprintln!("{output}");
                failed.push(seed);
            }
        }
    }
    assert!(failed.is_empty(), "tcp {scenario} failed with seeds {failed:?} (of {} run)", seeds.len());
    assert!(acked > 0, "tcp {scenario}: no record acknowledged in {} runs: it tested nothing", seeds.len());
}

#[test]
fn partitions() {
    run_scenario(TcpScenario::Partitions);
}

#[test]
fn crashes() {
    run_scenario(TcpScenario::Crashes);
}

#[test]
fn hostile_clients() {
    run_scenario(TcpScenario::HostileClients);
}

/// Two runs of one seed print the same summary and digest of their whole trace.
#[test]
fn a_tcp_seed_replays_exactly() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    for scenario in TcpScenario::ALL {
        let seed = seeds(1)[0] + 7;
        let first = run_alone(scenario, seed).unwrap_or_else(|output| panic!("{output}"));
        let second = run_alone(scenario, seed).unwrap_or_else(|output| panic!("{output}"));
        assert_eq!(first, second, "tcp {scenario} seed {seed} did not replay exactly");
        assert!(acked_in(&first) > 0, "tcp {scenario} seed {seed}: nothing acknowledged to compare: {first}");
    }
}

/// Runs one seed of `scenario` in a new process of this test binary: the line it
/// prints with the run's summary and trace digest, or everything it printed when
/// the run failed.
fn run_alone(scenario: TcpScenario, seed: u64) -> Result<String, String> {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", scenario.test_name(), "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .env("KLOG_SIM_SEED", seed.to_string())
        .env("KLOG_SIM_VERBOSE", "1")
        .output()
        .map_err(|e| format!("cannot start a run of tcp {scenario} seed {seed}: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let prefix = format!("{scenario} seed {seed}: ");
    match stderr.lines().find(|l| l.starts_with(&prefix)) {
        Some(line) if output.status.success() => Ok(line.to_string()),
        _ => Err(stderr),
    }
}

/// The acknowledged count of a summary line ("partitions seed 3: 120 acked, ...").
fn acked_in(line: &str) -> usize {
    line.split(": ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

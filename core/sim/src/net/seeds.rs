//! Runs a TCP scenario under many seeds (chosen as [`crate::seeds::seeds`] says,
//! from `KLOG_SIM_SEED`, `KLOG_SIM_SEEDS` and `KLOG_SIM_FIRST_SEED`); every
//! failing seed is printed with the command that replays it.

use super::scenario::{run_tcp, TcpReport, TcpScenario};

/// Runs `scenario` under each seed and returns every report; a panic counts as a
/// failure.
pub fn run_tcp_seeds(scenario: TcpScenario, seeds: &[u64]) -> Vec<TcpReport> {
    crate::seeds::run_each(scenario, seeds, "tcp_scenarios", run_tcp)
}

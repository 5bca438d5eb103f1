//! Runs a TCP scenario under many seeds (chosen as [`crate::seeds::seeds`] says,
//! from `KLOG_SIM_SEED`, `KLOG_SIM_SEEDS` and `KLOG_SIM_FIRST_SEED`); every
//! failing seed is printed with the command that replays it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::scenario::{run_tcp, TcpReport, TcpScenario};

/// Runs `scenario` under each seed and returns every report; a panic counts as a
/// failure.
pub fn run_tcp_seeds(scenario: TcpScenario, seeds: &[u64]) -> Vec<TcpReport> {
    let mut reports = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        let report = catch_unwind(AssertUnwindSafe(|| run_tcp(scenario, seed))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            TcpReport {
                scenario,
                seed,
                summary: Default::default(),
                violations: vec![format!("panicked: {message}")],
                trace: Vec::new(),
                digest: 0,
            }
        });
        if std::env::var_os("KLOG_SIM_TRACE").is_some() {
            eprintln!("{}", report.trace.join("\n"));
        }
        if std::env::var_os("KLOG_SIM_VERBOSE").is_some() {
            eprintln!("tcp {scenario} seed {seed}: {} digest {:016x}", report.summary, report.digest);
        }
        if !report.violations.is_empty() {
            eprintln!("tcp {scenario} failed with seed {seed}:");
            for violation in report.violations.iter().take(20) {
                eprintln!("  {violation}");
            }
            eprintln!("  replay: KLOG_SIM_SEED={seed} cargo test -p klog-sim --test tcp_scenarios {scenario}");
        }
        reports.push(report);
    }
    reports
}

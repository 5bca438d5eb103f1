//! Which seeds a test runs, from the environment, and running them: every failing
//! seed is printed with the command that replays it.
//!
//! - `KLOG_SIM_SEED=n`: only seed `n` (replay).
//! - `KLOG_SIM_SEEDS=n`: `n` seeds per scenario instead of the bounded default.
//! - `KLOG_SIM_FIRST_SEED=n`: start there instead of at 0.
//! - `KLOG_SIM_VERBOSE=1`: a line per seed; `KLOG_SIM_TRACE=1`: every run's trace.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::scenario::{run, Report, Scenario};

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name}={value} is not a number")))
}

/// The seeds to run: the replayed one, or `KLOG_SIM_SEEDS` (default `bounded`) from
/// `KLOG_SIM_FIRST_SEED` (default 0).
pub fn seeds(bounded: u64) -> Vec<u64> {
    if let Some(seed) = env_number("KLOG_SIM_SEED") {
        return vec![seed];
    }
    let first = env_number("KLOG_SIM_FIRST_SEED").unwrap_or(0);
    let count = env_number("KLOG_SIM_SEEDS").unwrap_or(bounded);
    (first..first.saturating_add(count)).collect()
}

/// Runs `scenario` under each seed and returns every report; a panic counts as a
/// failure. Each failing seed is printed with the command that replays it.
pub fn run_seeds(scenario: Scenario, seeds: &[u64]) -> Vec<Report> {
    run_each(scenario, seeds, "scenarios", run)
}

/// Runs `scenario` under each seed with `run`, for the test file `test` (named in
/// the replay command of a failing seed).
pub fn run_each<S: Copy + std::fmt::Display>(
    scenario: S,
    seeds: &[u64],
    test: &str,
    run: impl Fn(S, u64) -> Report<S>,
) -> Vec<Report<S>> {
    let mut reports = Vec::new();
    for &seed in seeds {
        let report = catch_unwind(AssertUnwindSafe(|| run(scenario, seed))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            Report {
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
            eprintln!("{scenario} seed {seed}: {} digest {:016x}", report.summary, report.digest);
        }
        if !report.violations.is_empty() {
            eprintln!("{scenario} failed with seed {seed}:");
            for violation in report.violations.iter().take(20) {
                eprintln!("  {violation}");
            }
            eprintln!("  replay: KLOG_SIM_SEED={seed} cargo test -p klog-sim --test {test} {scenario}");
        }
        reports.push(report);
    }
    reports
}

//! The single-node scenarios over a bounded set of seeds, and replay determinism.
//! `KLOG_SIM_SEEDS=5000` runs more seeds, `KLOG_SIM_SEED=n` replays one.

use klog_sim::seeds::{run_seeds, seeds};
use klog_sim::{run, Report, Scenario};

/// Seeds per scenario in a plain `cargo test`.
const BOUNDED: u64 = 100;

fn run_scenario(scenario: Scenario) -> Vec<Report> {
    let seeds = seeds(BOUNDED);
    let reports = run_seeds(scenario, &seeds);
    let failed: Vec<u64> = reports.iter().filter(|r| !r.violations.is_empty()).map(|r| r.seed).collect();
    assert!(failed.is_empty(), "{scenario} failed with seeds {failed:?} (of {} run)", seeds.len());
    // A single run may see every record refused (a failed fsync early on); all of them may not.
    let acked: usize = reports.iter().map(|r| r.summary.acked).sum();
    assert!(acked > 0, "{scenario}: no record acknowledged in {} runs: it tested nothing", seeds.len());
    reports
}

#[test]
fn lost_responses() {
    run_scenario(Scenario::LostResponses);
}

#[test]
fn restarts() {
    run_scenario(Scenario::Restarts);
}

#[test]
fn fsync_failures() {
    run_scenario(Scenario::FsyncFailures);
}

#[test]
fn disk_full() {
    let reports = run_scenario(Scenario::DiskFull);
    // The disk filled (appends were refused) and the broker took appends again.
    assert!(reports.iter().any(|r| r.summary.failed > 0 && r.summary.acked > 0), "the disk never filled mid-run");
}

#[test]
fn short_writes() {
    run_scenario(Scenario::ShortWrites);
}

#[test]
fn descriptor_exhaustion() {
    let reports = run_scenario(Scenario::DescriptorExhaustion);
    // Appends were refused for want of descriptors, and taken again.
    assert!(reports.iter().any(|r| r.summary.failed > 0 && r.summary.acked > 0), "descriptors never ran out mid-run");
    let refused = |r: &Report| r.trace.iter().any(|e| e.contains("reopening without descriptors: Err"));
    assert!(reports.iter().any(refused), "no restart was tried without descriptors");
}

#[test]
fn a_seed_replays_exactly() {
    for scenario in Scenario::ALL {
        let seed = seeds(1)[0] + 7;
        let first = run(scenario, seed);
        let second = run(scenario, seed);
        if first.trace != second.trace {
            let diverged = first.trace.iter().zip(&second.trace).position(|(a, b)| a != b);
            panic!(
                "{scenario} seed {seed} diverged at event {diverged:?}: {:?} vs {:?}",
                diverged.map(|i| &first.trace[i]),
                diverged.map(|i| &second.trace[i])
            );
        }
        assert_eq!(first.digest, second.digest);
        assert!(first.trace.len() > 10, "{scenario}: too short a trace to compare");
    }
}

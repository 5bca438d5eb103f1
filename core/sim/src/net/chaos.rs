//! The faults of a TCP simulation run, injected between turmoil's steps at random
//! moments drawn from the run's seed: partitions and held links between a client
//! and its broker, broker hosts crashed and started again. Each fault is undone
//! after a while, and all of them once the clients are done.

use std::time::Duration;

use crate::rng::SimRng;

use super::events::Events;

/// Which faults a run injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Links cut (data in flight lost, connections left half open) or held
    /// (data delayed until released).
    Links,
    /// Broker hosts crash and come back on the same data directory.
    Crashes,
}

/// A fault in force, and how to undo it.
#[derive(Debug, Clone)]
enum Undo {
    Repair(String, String),
    Release(String, String),
    Bounce(String),
}

/// Injects and undoes faults on the pairs of a run (client host, broker host).
pub struct Chaos {
    kind: FaultKind,
    rng: SimRng,
    events: Events,
    pairs: Vec<(String, String)>,
    next_fault: Duration,
    in_force: Vec<(Duration, Undo)>,
}

impl Chaos {
    /// Faults of `kind` on `pairs`, the first after a random pause.
    pub fn new(kind: FaultKind, rng: SimRng, events: Events, pairs: Vec<(String, String)>) -> Chaos {
        let next_fault = rng.millis(0..300);
        Chaos { kind, rng, events, pairs, next_fault, in_force: Vec::new() }
    }

    /// Undoes the faults whose time is up and injects the next one when it is due.
    pub fn step(&mut self, sim: &mut turmoil::Sim<'_>) {
        let now = sim.elapsed();
        let (due, later): (Vec<_>, Vec<_>) = self.in_force.drain(..).partition(|(at, _)| *at <= now);
        self.in_force = later;
        for (_, undo) in due {
            self.undo(sim, undo);
        }
        if now >= self.next_fault {
            self.inject(sim, now);
            self.next_fault = now + self.rng.millis(50..1000);
        }
    }

    /// Undoes every fault in force; no new ones follow.
    pub fn heal(&mut self, sim: &mut turmoil::Sim<'_>) {
        for (_, undo) in std::mem::take(&mut self.in_force) {
            self.undo(sim, undo);
        }
        self.next_fault = Duration::MAX;
    }

    fn inject(&mut self, sim: &mut turmoil::Sim<'_>, now: Duration) {
        let (client, broker) = self.pairs[self.rng.range(0..self.pairs.len() as u64) as usize].clone();
        let undo = match self.kind {
            FaultKind::Links if self.rng.chance(0.5) => {
                sim.partition(client.as_str(), broker.as_str());
                Undo::Repair(client, broker)
            }
            FaultKind::Links => {
                sim.hold(client.as_str(), broker.as_str());
                Undo::Release(client, broker)
            }
            FaultKind::Crashes => {
                if !sim.is_host_running(broker.as_str()) {
                    return;
                }
                sim.crash(broker.as_str());
                Undo::Bounce(broker)
            }
        };
        let until = now + self.rng.millis(50..2500);
        self.events.record_at(now, format_args!("{undo:?} at {}ms", until.as_millis()));
        self.in_force.push((until, undo));
    }

    fn undo(&self, sim: &mut turmoil::Sim<'_>, undo: Undo) {
        match &undo {
            Undo::Repair(a, b) => sim.repair(a.as_str(), b.as_str()),
            Undo::Release(a, b) => sim.release(a.as_str(), b.as_str()),
            Undo::Bounce(host) => sim.bounce(host.as_str()),
        }
        self.events.record_at(sim.elapsed(), format_args!("done: {undo:?}"));
    }
}

//! The observable history of a TCP simulation run, stamped with turmoil's
//! simulated time. Two runs of one seed must record the same events.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

/// Events of one run, shared by the hosts and the loop that drives them.
#[derive(Clone, Default)]
pub struct Events {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Events {
    /// Appends `event` at simulated time `at`.
    pub fn record_at(&self, at: Duration, event: impl std::fmt::Display) {
        self.lines.lock().push(format!("{:>8}ms {event}", at.as_millis()));
    }

    /// Appends `event` at the simulated time of the host running now.
    pub fn record(&self, event: impl std::fmt::Display) {
        self.record_at(turmoil::sim_elapsed().unwrap_or_default(), event);
    }

    /// The events so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().clone()
    }

    /// A digest of every event: equal histories have equal digests.
    pub fn digest(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.lines.lock().hash(&mut hasher);
        hasher.finish()
    }
}

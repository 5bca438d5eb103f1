//! The observable history of a run: events stamped with simulated time. Two runs
//! of one seed must produce the same trace; its digest makes that cheap to compare.

use std::fmt::Write as _;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Events of one run, in the order they happened.
#[derive(Clone)]
pub struct Trace {
    start: Instant,
    events: Arc<Mutex<Vec<String>>>,
}

impl Trace {
    /// An empty trace whose clock starts now (simulated time).
    pub fn new() -> Trace {
        Trace { start: Instant::now(), events: Arc::default() }
    }

    /// Appends `event`, stamped with the simulated milliseconds since the start.
    pub fn record(&self, event: impl std::fmt::Display) {
        let mut line = String::new();
        let _ = write!(line, "{:>8}ms {event}", self.start.elapsed().as_millis());
        self.events.lock().push(line);
    }

    /// The events so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().clone()
    }

    /// FNV-1a over every event: equal traces have equal digests.
    pub fn digest(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for event in self.events.lock().iter() {
            for byte in event.bytes().chain([b'\n']) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    }
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

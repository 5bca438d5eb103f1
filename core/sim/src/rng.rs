//! The one source of randomness of a simulation run: a seeded ChaCha8 stream,
//! shared by everything that draws, so a seed replays the same choices.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// A seeded random stream; clones draw from the same stream.
#[derive(Clone)]
pub struct SimRng {
    inner: Arc<Mutex<ChaCha8Rng>>,
}

impl SimRng {
    /// A stream fully determined by `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng { inner: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))) }
    }

    /// True with probability `p` (0 never draws true, 1 always).
    pub fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.inner.lock().random_bool(p.min(1.0))
    }

    /// A number in `range` (its start when empty).
    pub fn range(&self, range: Range<u64>) -> u64 {
        if range.is_empty() {
            return range.start;
        }
        self.inner.lock().random_range(range)
    }

    /// A probability in `[0, max)`.
    pub fn probability(&self, max: f64) -> f64 {
        self.inner.lock().random::<f64>() * max
    }

    /// A duration of `range` milliseconds.
    pub fn millis(&self, range: Range<u64>) -> Duration {
        Duration::from_millis(self.range(range))
    }
}

//! The broker's wall clock under turmoil: the simulation's own time since the
//! epoch, so timestamps and expiries follow simulated time.

use std::sync::atomic::{AtomicI64, Ordering};

use klog_protocol::Clock;

/// Reads turmoil's simulated wall clock. Off the simulation's thread (a blocking
/// task) it answers the last time it read there, never the machine's clock.
#[derive(Debug, Default)]
pub struct SimClock {
    last_ms: AtomicI64,
}

impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        match turmoil::since_epoch() {
            Some(now) => {
                let ms = now.as_millis() as i64;
                self.last_ms.fetch_max(ms, Ordering::AcqRel);
                ms
            }
            None => self.last_ms.load(Ordering::Acquire),
        }
    }
}

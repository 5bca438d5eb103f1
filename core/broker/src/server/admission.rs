//! What the server lets in: connections up to `max.connections` in all and
//! `max.connections.per.ip` from one address, and request bytes held in memory
//! up to `queued.max.request.bytes` across all connections (a connection whose
//! next frame does not fit waits before reading it, which pushes back on its
//! sender through TCP instead of growing the broker's memory).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits, as configured.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `max.connections`: open connections in all.
    pub max_connections: usize,
    /// `max.connections.per.ip`: open connections from one address.
    pub max_connections_per_ip: usize,
    /// `queued.max.request.bytes`: bytes of requests read but not yet answered.
    pub queued_max_request_bytes: usize,
}

impl Default for Limits {
    /// Connections may take half of the file descriptors this process may open
    /// (the rest stay for log segments, so a flood of connections cannot keep the
    /// broker from rolling, creating or reopening logs), from any one address as
    /// many; 256 MiB of requests in memory.
    fn default() -> Self {
        let connections = (descriptor_limit() / 2).max(1);
        Limits {
            max_connections: connections,
            max_connections_per_ip: connections,
            queued_max_request_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The soft limit on open file descriptors (`RLIMIT_NOFILE`).
pub fn descriptor_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

/// Why a new connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max.connections` are open.
    TooManyConnections,
    /// `max.connections.per.ip` are open from this address.
    TooManyFromAddress,
}

/// The live counts behind the limits, shared by the accept loop and every connection.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    open: Mutex<OpenConnections>,
    request_bytes: Arc<Semaphore>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// An admitted connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct ConnectionSlot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    /// Counts against `limits`.
    pub fn new(limits: Limits) -> Arc<Admission> {
        let bytes = limits.queued_max_request_bytes.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Admission {
            limits: Limits { queued_max_request_bytes: bytes, ..limits },
            open: Mutex::default(),
            request_bytes: Arc::new(Semaphore::new(bytes)),
            refused: AtomicU64::new(0),
        })
    }

    /// Takes a place for a connection from `ip`, or says why there is none.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let mut open = self.open.lock();
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        let refusal = if open.total >= self.limits.max_connections {
            Some(Refusal::TooManyConnections)
        } else if from_ip >= self.limits.max_connections_per_ip {
            Some(Refusal::TooManyFromAddress)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(refusal);
        }
        open.total += 1;
        *open.per_ip.entry(ip).or_default() += 1;
        Ok(ConnectionSlot { admission: self.clone(), ip })
    }

    /// The most request bytes held at once (`queued.max.request.bytes`).
    pub fn request_byte_budget(&self) -> usize {
        self.limits.queued_max_request_bytes
    }

    /// Waits until `len` more request bytes may be held (more than the whole
    /// budget wait for all of it), and holds them until the permit drops.
    pub async fn hold_request_bytes(&self, len: usize) -> OwnedSemaphorePermit {
        let n = len.clamp(1, self.limits.queued_max_request_bytes);
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.request_bytes.clone().acquire_many_owned(n).await.expect("the request byte budget is never closed")
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.lock().total
    }

    /// Connections turned away so far.
    pub fn refused_connections(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock();
        open.total -= 1;
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> Arc<Admission> {
        Admission::new(Limits { max_connections: total, max_connections_per_ip: per_ip, queued_max_request_bytes: 100 })
    }

    #[test]
    fn places_are_counted_per_address_and_in_all_and_freed_on_drop() {
        let admission = limits(3, 2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = admission.admit(a).unwrap();
        let _a2 = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).unwrap_err(), Refusal::TooManyFromAddress);
        let _b1 = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).unwrap_err(), Refusal::TooManyConnections);
        assert_eq!((admission.open_connections(), admission.refused_connections()), (3, 2));
        drop(a1);
        assert!(admission.admit(b).is_ok(), "a freed place is taken again");
    }

    #[tokio::test]
    async fn request_bytes_beyond_the_budget_wait_for_earlier_ones_and_huge_frames_do_not_deadlock() {
        let admission = limits(10, 10);
        let first = admission.hold_request_bytes(60).await;
        let waiting = admission.hold_request_bytes(60);
        tokio::pin!(waiting);
        assert!(futures_poll_once(waiting.as_mut()).await.is_none(), "over budget: must wait");
        drop(first);
        let second = waiting.await;
        drop(second);
        let _all = admission.hold_request_bytes(1 << 30).await;
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::time::timeout(std::time::Duration::from_millis(20), f).await.ok()
    }
}

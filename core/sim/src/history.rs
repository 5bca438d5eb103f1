//! What the clients did: every record they tried to send, the order in which
//! each producer appended it to a partition, and how its delivery ended.

use std::collections::HashMap;
use std::fmt;

use klog_protocol::ErrorKind;
use parking_lot::Mutex;

/// How a record's delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not settled yet.
    Pending,
    /// `send` refused it: it was never handed to the producer.
    Refused(ErrorKind),
    /// Acknowledged at this offset.
    Acked(i64),
    /// Its delivery future reported this error.
    Failed(ErrorKind),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Pending => f.write_str("pending"),
            Outcome::Refused(kind) => write!(f, "refused ({kind})"),
            Outcome::Acked(offset) => write!(f, "acked at {offset}"),
            Outcome::Failed(kind) => write!(f, "failed ({kind})"),
        }
    }
}

/// One record the clients tried to send.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Producer that sent it.
    pub producer: usize,
    /// Partition it went to.
    pub partition: i32,
    /// Position among the records its producer appended to this partition.
    pub order: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// Every record of a run, by id (the record's value is `r<id>`).
#[derive(Default)]
pub struct History {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    records: Vec<Sent>,
    next_order: HashMap<(usize, i32), u64>,
}

impl History {
    /// The value of record `id`.
    pub fn value(id: usize) -> String {
        format!("r{id}")
    }

    /// The id in a record value, if it is one of ours.
    pub fn parse(value: &[u8]) -> Option<usize> {
        std::str::from_utf8(value).ok()?.strip_prefix('r')?.parse().ok()
    }

    /// Reserves an id for a record `producer` is about to send to `partition`.
    pub fn begin(&self, producer: usize, partition: i32) -> usize {
        let mut inner = self.inner.lock();
        inner.records.push(Sent { producer, partition, order: 0, outcome: Outcome::Pending });
        inner.records.len() - 1
    }

    /// Record `id` was appended to its producer's batch: its place in send order.
    pub fn appended(&self, id: usize) {
        let mut inner = self.inner.lock();
        let key = (inner.records[id].producer, inner.records[id].partition);
        let next = inner.next_order.entry(key).or_default();
        let order = *next;
        *next += 1;
        inner.records[id].order = order;
    }

    /// Records how delivery of `id` ended.
    pub fn settle(&self, id: usize, outcome: Outcome) {
        self.inner.lock().records[id].outcome = outcome;
    }

    /// Every record, indexed by id.
    pub fn records(&self) -> Vec<Sent> {
        self.inner.lock().records.clone()
    }
}

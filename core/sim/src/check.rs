//! The end-of-run check: read every partition back and hold the log against the
//! history. Every acknowledged record is in the log exactly once, at the offset its
//! acknowledgement gave; each producer's records of a partition are in the order it
//! sent them; nothing appears that was never handed to a producer; no record is
//! left unsettled.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use crate::consume::Consumed;
use crate::history::{History, Outcome, Sent};

/// A record as read back: its offset and the id in its value (None: not ours).
pub type Stored = (i64, Option<usize>);

/// Counts of how the records of a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Acknowledged (and found where the acknowledgement said).
    pub acked: usize,
    /// Reported failed and not in the log.
    pub failed: usize,
    /// Reported failed, yet in the log (the outcome was unknown to the producer).
    pub failed_but_stored: usize,
    /// Refused by `send`.
    pub refused: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} acked, {} failed, {} failed but stored, {} refused",
            self.acked, self.failed, self.failed_but_stored, self.refused
        )
    }
}

/// Checks `log` (per partition, in offset order) against `history`; returns the
/// summary and every violation found.
pub fn check(history: &History, log: &BTreeMap<i32, Vec<Stored>>) -> (Summary, Vec<String>) {
    let records = history.records();
    let mut violations = Vec::new();
    let mut found: BTreeMap<usize, (i32, i64)> = BTreeMap::new();
    for (&partition, stored) in log {
        check_partition(&records, partition, stored, &mut found, &mut violations);
    }
    let mut summary = Summary::default();
    for (id, sent) in records.iter().enumerate() {
        let at = found.get(&id).copied();
        match (&sent.outcome, at) {
            (Outcome::Pending, _) => violations.push(format!("record {id} never settled")),
            (Outcome::Refused(_), None) => summary.refused += 1,
            (Outcome::Refused(_), Some(_)) => violations.push(format!("record {id} was refused by send but is stored")),
            (Outcome::Failed(_), None) => summary.failed += 1,
            (Outcome::Failed(_), Some(_)) => summary.failed_but_stored += 1,
            (Outcome::Acked(offset), Some(place)) if place == (sent.partition, *offset) => summary.acked += 1,
            (Outcome::Acked(offset), place) => {
                violations.push(format!("record {id} acked at {}-{offset} but found at {place:?}", sent.partition))
            }
        }
    }
    (summary, violations)
}

/// A consumer that read from the beginning saw exactly the log: every record once,
/// in offset order, nothing else.
pub fn check_consumed(log: &BTreeMap<i32, Vec<Stored>>, consumed: &Consumed) -> Vec<String> {
    let mut violations = Vec::new();
    for (partition, stored) in log {
        let seen = consumed.get(partition).map_or(&[][..], Vec::as_slice);
        if let Some(i) = (0..stored.len().max(seen.len())).find(|&i| stored.get(i) != seen.get(i)) {
            violations.push(format!(
                "the consumer of partition {partition} saw {:?} where the log has {:?} (position {i})",
                seen.get(i),
                stored.get(i)
            ));
        }
    }
    violations
}

/// Duplicates, strangers, wrong partitions and order within one partition.
fn check_partition(
    records: &[Sent],
    partition: i32,
    stored: &[Stored],
    found: &mut BTreeMap<usize, (i32, i64)>,
    violations: &mut Vec<String>,
) {
    let mut last_order: BTreeMap<usize, u64> = BTreeMap::new();
    let mut offsets = HashSet::new();
    for &(offset, id) in stored {
        if !offsets.insert(offset) {
            violations.push(format!("offset {partition}-{offset} read twice"));
        }
        let Some(sent) = id.and_then(|id| records.get(id).map(|s| (id, s))) else {
            violations.push(format!("{partition}-{offset} holds a record that was never sent"));
            continue;
        };
        let (id, sent) = sent;
        if sent.partition != partition {
            violations.push(format!("record {id} of partition {} found in {partition}", sent.partition));
        }
        if let Some(first) = found.insert(id, (partition, offset)) {
            violations.push(format!("record {id} stored twice: at {first:?} and {partition}-{offset}"));
        }
        if let Some(previous) = last_order.insert(sent.producer, sent.order) {
            if sent.order <= previous {
                violations.push(format!(
                    "{partition}-{offset}: record {id} of producer {} out of order (send position {} after {previous})",
                    sent.producer, sent.order
                ));
            }
        }
    }
}

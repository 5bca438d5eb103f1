//! Idempotent producer state of one partition: per producer id, its epoch and
//! the sequence ranges of its last five batches, so a retried batch is answered
//! with its original offsets and a gap is refused.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::LogError;
use crate::record::{increment_sequence, BatchHeader};

/// Batches remembered per producer (Kafka's `max.in.flight` limit for idempotence).
const RETAINED_BATCHES: usize = 5;

/// One appended batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BatchRecord {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
    last_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchRecord>,
}

/// What to do with a producer's batch.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Check {
    /// Not an idempotent batch, or the next one in sequence: append it.
    Append,
    /// Already appended at these offsets: answer with them, write nothing.
    Duplicate { base_offset: i64, last_offset: i64 },
}

/// Sequence state of every producer writing to a partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ProducerState {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerState {
    /// Checks a batch against the producer's state without changing it.
    pub fn check(&self, header: &BatchHeader) -> Result<Check, LogError> {
        if !header.has_producer_id() {
            return Ok(Check::Append);
        }
        let producer_id = header.producer_id;
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(Check::Append); // unknown producer (new, or its state was truncated away)
        };
        if header.producer_epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch { producer_id, epoch: header.producer_epoch, current: entry.epoch });
        }
        if header.producer_epoch > entry.epoch {
            if header.base_sequence != 0 {
                return Err(LogError::OutOfOrderSequence { producer_id, expected: 0, got: header.base_sequence });
            }
            return Ok(Check::Append);
        }
        let last_seq = header.last_sequence();
        if let Some(b) = entry.batches.iter().find(|b| b.first_seq == header.base_sequence && b.last_seq == last_seq) {
            return Ok(Check::Duplicate { base_offset: b.base_offset, last_offset: b.last_offset });
        }
        if let Some(last) = entry.batches.back() {
            let expected = increment_sequence(last.last_seq, 1);
            if header.base_sequence != expected {
                return Err(LogError::OutOfOrderSequence { producer_id, expected, got: header.base_sequence });
            }
        }
        Ok(Check::Append)
    }

    /// Records an appended (or recovered) batch with its assigned offsets.
    pub fn update(&mut self, header: &BatchHeader) {
        if !header.has_producer_id() {
            return;
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(BatchRecord {
            first_seq: header.base_sequence,
            last_seq: header.last_sequence(),
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
        });
        while entry.batches.len() > RETAINED_BATCHES {
            entry.batches.pop_front();
        }
    }

    /// Forgets batches at or after `offset` (log truncation).
    pub fn truncate(&mut self, offset: i64) {
        for entry in self.producers.values_mut() {
            entry.batches.retain(|b| b.last_offset < offset);
        }
        self.producers.retain(|_, e| !e.batches.is_empty());
    }
}

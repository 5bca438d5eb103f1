//! Where the coordinator persists its records: the `__consumer_offsets` partition
//! log in production, a vector in tests.

use std::sync::Arc;

use bytes::Bytes;

use super::codec;
use crate::replica::Partition;
use klog_storage::LogError;

/// Appends encoded batches and replays them in order.
pub(crate) trait OffsetJournal: Send + Sync {
    /// Appends one RecordBatch v2 (synchronously; offset commits are small).
    fn append(&self, batch: Bytes, now_ms: i64) -> Result<(), LogError>;
    /// Every stored batch from the log start to its end, in order.
    fn replay(&self) -> Result<Vec<Bytes>, LogError>;
}

/// The journal backed by the `__consumer_offsets` partition.
pub(crate) struct LogJournal {
    pub partition: Arc<Partition>,
}

const REPLAY_CHUNK: usize = 1 << 20;

impl OffsetJournal for LogJournal {
    fn append(&self, batch: Bytes, now_ms: i64) -> Result<(), LogError> {
        self.partition.append_as_leader(batch, now_ms)?;
        Ok(())
    }

    fn replay(&self) -> Result<Vec<Bytes>, LogError> {
        let log = self.partition.log();
        let end = log.log_end_offset();
        let mut offset = log.log_start_offset();
        let mut out = Vec::new();
        while offset < end {
            let read = log.read(offset, REPLAY_CHUNK, end, true)?;
            let batches = codec::split_batches(read.records);
            if batches.is_empty() {
                break;
            }
            let mut next = offset;
            for (batch, after) in batches {
                // The first returned batch may start before `offset` (whole batches).
                if after > offset {
                    out.push(batch);
                }
                next = next.max(after);
            }
            if next <= offset {
                break;
            }
            offset = next;
        }
        Ok(out)
    }
}

/// A journal kept in memory: nothing survives the process. Shared so that tests
/// can reopen a coordinator over the same records.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct MemJournal {
    pub batches: Arc<parking_lot::Mutex<Vec<Bytes>>>,
}

#[cfg(test)]
impl OffsetJournal for MemJournal {
    fn append(&self, batch: Bytes, _now_ms: i64) -> Result<(), LogError> {
        self.batches.lock().push(batch);
        Ok(())
    }

    fn replay(&self) -> Result<Vec<Bytes>, LogError> {
        Ok(self.batches.lock().clone())
    }
}

//! Cutting a partition log's tail: a follower dropping what its leader does not have.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{AppendState, PartitionLog};
use crate::checkpoint;
use crate::LogError;

impl PartitionLog {
    /// Removes every batch at and after `offset`: later segments, the tail of the
    /// segment holding `offset` (whole batches, so a batch that starts below `offset`
    /// but reaches it goes too), their index entries and the leader epochs starting
    /// there. The producer state is rebuilt for the shorter log, the high watermark and
    /// recovery point are lowered to the new log end, and all of it is durable before
    /// this returns. Nothing happens when `offset` is at or past the log end; an
    /// offset below the log start is [`LogError::OffsetOutOfRange`].
    ///
    /// A failure part way leaves the partition poisoned (read-only until reopened).
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let mut st = self.append.lock();
        self.check_writable()?;
        let log_end = self.leo.load(Ordering::Acquire);
        if offset >= log_end {
            return Ok(());
        }
        let log_start = self.log_start.load(Ordering::Acquire);
        if offset < log_start {
            return Err(LogError::OffsetOutOfRange { offset, log_start, log_end });
        }
        self.cut_tail(&mut st, offset).inspect_err(|e| {
            tracing::error!(dir = %self.dir.display(), error = %e, "truncation failed; partition is read-only until reopened");
            self.poisoned.store(true, Ordering::Release);
        })
    }

    fn cut_tail(&self, st: &mut AppendState, offset: i64) -> Result<(), LogError> {
        let index_bytes = self.config.read().segment_index_bytes;
        let _flush = self.flush_lock.lock();
        let segs = self.segments();
        let keep = segs.partition_point(|s| s.base < offset).max(1);
        let last = segs[keep - 1].clone();
        *self.segments.write() = Arc::new(segs[..keep].to_vec());
        for s in &segs[keep..] {
            s.delete_files();
        }
        let end = last.truncate_to(offset, index_bytes)?;
        last.sync()?;
        last.flush_indexes()?;
        self.env.fs.sync_dir(&self.dir)?;
        self.leo.store(end, Ordering::Release);
        self.hw.fetch_min(end, Ordering::AcqRel);
        self.flushed_to.fetch_min(end, Ordering::AcqRel);
        {
            let mut ep = self.epochs.lock();
            ep.truncate_from_end(end);
            if ep.dirty {
                checkpoint::write_epochs(&*self.env.fs, &self.dir, &ep.entries)?;
                ep.dirty = false;
            }
        }
        st.producers = self.load_producer_state()?.0;
        self.write_checkpoint()
    }
}

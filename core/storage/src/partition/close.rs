//! Checkpoints and clean close of a partition log.
//!
//! Every file that records progress is staged (written under a temporary name and
//! fsynced) and renamed into place only after the data it describes is durable; the
//! renames of one close share a single directory fsync. The partition checkpoint is
//! renamed last, so it never claims more than the files before it.

use std::sync::atomic::Ordering;

use super::PartitionLog;
use crate::checkpoint::{self, PartitionCheckpoint};
use crate::producer;
use crate::LogError;

impl PartitionLog {
    pub(super) fn write_epochs_if_dirty(&self) -> Result<(), LogError> {
        let mut ep = self.epochs.lock();
        if ep.dirty {
            checkpoint::write_epochs(&*self.env.fs, &self.dir, &ep.entries)?;
            ep.dirty = false;
        }
        Ok(())
    }

    pub(super) fn write_checkpoint(&self) -> Result<(), LogError> {
        let mut last = self.last_checkpoint.lock();
        let c = self.current_checkpoint();
        if *last != Some(c) {
            let fs = &*self.env.fs;
            checkpoint::commit(fs, &self.dir, vec![c.stage(fs, &self.dir)?])?;
            *last = Some(c);
        }
        Ok(())
    }

    fn current_checkpoint(&self) -> PartitionCheckpoint {
        PartitionCheckpoint {
            recovery_point: self.flushed_to.load(Ordering::Acquire),
            log_start_offset: self.log_start.load(Ordering::Acquire),
            high_watermark: self.hw.load(Ordering::Acquire),
        }
    }

    /// Clean shutdown: flushes, trims the active segment's indexes, writes the producer
    /// snapshot and checkpoints so the next open reads almost nothing. Later appends fail.
    ///
    /// Files already up to date are not rewritten, so closing a log that took no writes
    /// since a clean open syncs nothing. Order: log data and indexes are fsynced, then
    /// the producer snapshot, leader epochs and partition checkpoint are staged, renamed
    /// (checkpoint last) and made durable with one fsync of the partition directory.
    pub fn close(&self) -> Result<(), LogError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let fs = &*self.env.fs;
        let mut staged = Vec::new();
        let mut wrote_snapshot = false;
        {
            let st = self.append.lock();
            let leo = self.leo.load(Ordering::Acquire);
            self.flush_to(leo)?;
            if let Some(active) = self.segments().last() {
                active.seal()?;
            }
            if !producer::snapshot_path(&self.dir, leo).exists() {
                staged.push(producer::stage_snapshot(fs, &self.dir, leo, &st.producers)?);
                wrote_snapshot = true;
            }
        }
        let mut ep = self.epochs.lock();
        if ep.dirty {
            staged.push(checkpoint::stage_epochs(fs, &self.dir, &ep.entries)?);
        }
        let mut last = self.last_checkpoint.lock();
        let c = self.current_checkpoint();
        if *last != Some(c) {
            staged.push(c.stage(fs, &self.dir)?);
        }
        checkpoint::commit(fs, &self.dir, staged)?;
        ep.dirty = false;
        *last = Some(c);
        if wrote_snapshot {
            producer::prune_snapshots(fs, &self.dir)?;
        }
        Ok(())
    }
}

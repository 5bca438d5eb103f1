//! Appending to a partition log: as the leader (offsets assigned here) and as a
//! follower (offsets and leader epochs kept as they arrive). Both end in
//! [`PartitionLog::write_locked`]: roll, write, publish, flush.
//!
//! A write that fails (a full disk, a short write) stores nothing: the segment is
//! cut back to its size before the append, nothing was published, and later appends
//! are accepted again. Only a failed cut, or a failed fsync, poisons the partition.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::MutexGuard;

use super::{corrupt, AppendInfo, AppendState, PartitionLog};
use crate::checkpoint;
use crate::producer::{self, Check, ProducerEntry, ProducerState};
use crate::segment::{AppendError, Segment};
use crate::{LogConfig, LogError, TimestampType};
use klog_protocol::record::{self, BatchHeader, BatchIter};

/// Validated batches ready to be written at the log end.
struct Batches<'a> {
    data: &'a [u8],
    /// (position within `data`, header at its final offsets).
    metas: &'a [(usize, BatchHeader)],
    /// The producer entries of the producers these batches advance.
    producers: HashMap<i64, ProducerEntry>,
}

impl Batches<'_> {
    fn first_offset(&self) -> i64 {
        self.metas[0].1.base_offset
    }

    fn next_offset(&self) -> i64 {
        self.metas[self.metas.len() - 1].1.next_offset()
    }

    fn max_timestamp(&self) -> i64 {
        self.metas.iter().map(|(_, h)| h.max_timestamp).max().unwrap_or(-1)
    }
}

/// Splits `data` into whole batches, checking each with `check`; a torn or
/// malformed tail, or no batch at all, is an error.
fn split_batches(
    data: &[u8],
    max_message_bytes: Option<usize>,
    check: impl Fn(&[u8]) -> Result<BatchHeader, LogError>,
) -> Result<Vec<(usize, BatchHeader)>, LogError> {
    let mut metas = Vec::new();
    let mut it = BatchIter::new(data);
    let mut pos = 0usize;
    let too_large = |size: usize| max_message_bytes.filter(|&max| size > max);
    for (_, b) in it.by_ref() {
        if let Some(max) = too_large(b.len()) {
            return Err(LogError::MessageTooLarge { size: b.len(), max });
        }
        metas.push((pos, check(b)?));
        pos += b.len();
    }
    if !it.is_clean() {
        if let Ok(h) = BatchHeader::parse(it.remainder()) {
            if let Some(max) = too_large(h.total_size()).filter(|_| h.batch_length >= record::MIN_BATCH_LENGTH) {
                return Err(LogError::MessageTooLarge { size: h.total_size(), max });
            }
        }
        return Err(corrupt(format!("incomplete or malformed batch at byte {} of {}", it.position(), data.len())));
    }
    if metas.is_empty() {
        return Err(corrupt("no record batches"));
    }
    Ok(metas)
}

/// Decompressed records may be this many times `max.message.bytes` (producers
/// cap batches by their compressed size; no real payload compresses further).
pub(super) const MAX_INFLATION: usize = 32;

/// Kafka's checks of a batch from a producer: the header ([`BatchHeader::validate_produced`]),
/// the producer fields, and every record ([`record::validate_records`]).
fn check_produced(batch: &[u8], max_message_bytes: usize) -> Result<BatchHeader, LogError> {
    let header = BatchHeader::validate_produced(batch)?;
    if header.is_transactional() {
        return Err(LogError::InvalidTxnState);
    }
    if header.producer_id >= 0 && header.producer_epoch < 0 {
        return Err(LogError::InvalidRecord(format!(
            "producer {} with negative epoch {}",
            header.producer_id, header.producer_epoch
        )));
    }
    record::validate_records(batch, &header, max_message_bytes.saturating_mul(MAX_INFLATION))?;
    Ok(header)
}

/// The outcome of giving produced batches their offsets.
enum Assigned {
    /// Stamped in place; these producer entries follow from them.
    New(HashMap<i64, ProducerEntry>),
    /// An idempotent retry of batches already at these offsets.
    Duplicate(producer::BatchMeta),
}

/// Checks each batch against the producer state and stamps offsets from `first`,
/// `leader_epoch` and the timestamp type into `data`, re-reading the headers.
fn assign_offsets(
    producers: &ProducerState,
    data: &mut [u8],
    metas: &mut [(usize, BatchHeader)],
    first: i64,
    leader_epoch: i32,
    log_append_time: Option<i64>,
) -> Result<Assigned, LogError> {
    let mut staged: HashMap<i64, ProducerEntry> = HashMap::new();
    let mut next = first;
    for (pos, h) in metas.iter_mut() {
        if h.producer_id >= 0 {
            let entry = staged.get(&h.producer_id).or_else(|| producers.producers.get(&h.producer_id));
            if let Check::Duplicate(meta) = ProducerState::check(entry, h)? {
                return Ok(Assigned::Duplicate(meta));
            }
        }
        let buf = &mut data[*pos..];
        record::set_base_offset(buf, next);
        record::set_partition_leader_epoch(buf, leader_epoch);
        match log_append_time {
            Some(now_ms) => record::set_log_append_time(buf, now_ms)?,
            None => record::set_create_time(buf)?,
        }
        *h = BatchHeader::parse(buf)?;
        if h.producer_id >= 0 {
            let e = staged.entry(h.producer_id).or_insert_with(|| new_entry(producers, h));
            ProducerState::apply(e, h);
        }
        next = h.next_offset();
    }
    Ok(Assigned::New(staged))
}

/// The current entry of `h`'s producer, or a fresh one at its epoch.
fn new_entry(producers: &ProducerState, h: &BatchHeader) -> ProducerEntry {
    producers
        .producers
        .get(&h.producer_id)
        .cloned()
        .unwrap_or(ProducerEntry { epoch: h.producer_epoch, batches: Default::default() })
}

/// Checks that replicated batches start at `log_end` with increasing offsets.
fn check_replicated_offsets(metas: &[(usize, BatchHeader)], log_end: i64) -> Result<(), LogError> {
    let mut expected = log_end;
    for (i, (_, h)) in metas.iter().enumerate() {
        let in_order = if i == 0 { h.base_offset == expected } else { h.base_offset >= expected };
        if !in_order || h.last_offset() < h.base_offset {
            return Err(LogError::UnexpectedOffset { expected, got: h.base_offset });
        }
        expected = h.next_offset();
    }
    Ok(())
}

impl PartitionLog {
    /// Validates and appends one or more RecordBatch v2 (as received from a producer),
    /// assigning offsets and stamping `leader_epoch`. Fsyncs before returning when the
    /// flush policy asks for it (group commit across concurrent callers).
    ///
    /// A failed write (e.g. a full disk) stores nothing and returns the error; the
    /// partition keeps taking appends.
    pub fn append(&self, batches: Bytes, leader_epoch: i32, now_ms: i64) -> Result<AppendInfo, LogError> {
        self.check_writable()?;
        let config = self.config.read().clone();
        let mut data = batches.to_vec();
        let produced = |b: &[u8]| check_produced(b, config.max_message_bytes);
        let mut metas = split_batches(&data, Some(config.max_message_bytes), produced)?;

        let st = self.append.lock();
        self.check_writable()?;
        let first = self.leo.load(Ordering::Acquire);
        let append_time = (config.timestamp_type == TimestampType::LogAppendTime).then_some(now_ms);
        let producers = match assign_offsets(&st.producers, &mut data, &mut metas, first, leader_epoch, append_time)? {
            Assigned::New(producers) => producers,
            Assigned::Duplicate(meta) => {
                return Ok(AppendInfo {
                    base_offset: meta.base_offset,
                    last_offset: meta.last_offset,
                    log_append_time_ms: -1,
                    log_start_offset: self.log_start.load(Ordering::Acquire),
                    duplicate: true,
                })
            }
        };
        let batches = Batches { data: &data, metas: &metas, producers };
        let last_offset = batches.next_offset() - 1;
        self.write_locked(st, &config, batches, now_ms)?;
        Ok(AppendInfo {
            base_offset: first,
            last_offset,
            log_append_time_ms: append_time.unwrap_or(-1),
            log_start_offset: self.log_start.load(Ordering::Acquire),
            duplicate: false,
        })
    }

    /// Appends batches copied from the leader, keeping their offsets, leader epochs
    /// and timestamps byte for byte. Each batch's CRC is checked; the first must start
    /// at the log end and offsets must increase ([`LogError::UnexpectedOffset`]
    /// otherwise). Updates the producer state and the leader epochs from the batches,
    /// rolls segments and flushes like [`append`](Self::append).
    pub fn append_as_follower(&self, batches: Bytes) -> Result<AppendInfo, LogError> {
        self.check_writable()?;
        let config = self.config.read().clone();
        let metas = split_batches(&batches, None, |b| Ok(BatchHeader::validate(b)?))?;

        let st = self.append.lock();
        self.check_writable()?;
        check_replicated_offsets(&metas, self.leo.load(Ordering::Acquire))?;
        let mut producers: HashMap<i64, ProducerEntry> = HashMap::new();
        for (_, h) in metas.iter().filter(|(_, h)| h.producer_id >= 0) {
            let e = producers.entry(h.producer_id).or_insert_with(|| new_entry(&st.producers, h));
            ProducerState::replay_into(e, h);
        }
        let batches = Batches { data: &batches, metas: &metas, producers };
        let (base_offset, last_offset) = (batches.first_offset(), batches.next_offset() - 1);
        self.write_locked(st, &config, batches, self.env.now_ms())?;
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time_ms: -1,
            log_start_offset: self.log_start.load(Ordering::Acquire),
            duplicate: false,
        })
    }

    /// Writes `batches` at the log end under the writer lock: rolls first when the
    /// active segment is full or old, then writes, publishes the new log end, producer
    /// state and leader epochs, and fsyncs as the flush policy and a roll require.
    fn write_locked(
        &self,
        mut st: MutexGuard<'_, AppendState>,
        config: &LogConfig,
        batches: Batches<'_>,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let first = batches.first_offset();
        let next = batches.next_offset();
        let (active, rolled) = self.roll_if_due(&st, config, &batches, now_ms)?;
        match active.append(batches.data, batches.metas, config.index_interval_bytes as u64) {
            Ok(()) => {}
            Err(AppendError::Failed(e)) => return Err(LogError::Io(e)),
            Err(AppendError::Torn { write, cut }) => {
                tracing::error!(dir = %self.dir.display(), error = %write, "append failed");
                return self.poison(cut);
            }
        }
        st.producers.producers.extend(batches.producers);
        {
            let mut ep = self.epochs.lock();
            for (_, h) in batches.metas {
                ep.assign(h.partition_leader_epoch, h.base_offset);
            }
            if ep.dirty {
                match checkpoint::write_epochs(&*self.env.fs, &self.dir, &ep.entries) {
                    Ok(()) => ep.dirty = false,
                    Err(e) => tracing::warn!(error = %e, "could not write leader epoch checkpoint; will retry"),
                }
            }
        }
        self.leo.store(next, Ordering::Release);
        let unflushed = next - self.flushed_to.load(Ordering::Acquire);
        let need_flush = unflushed > 0 && unflushed as u64 >= config.flush_messages;
        drop(st);

        if rolled {
            // Everything before the new segment is now on disk: the recovery point moves
            // to its base, so recovery only ever scans the active segment.
            let _g = self.flush_lock.lock();
            let from = self.flushed_to.load(Ordering::Acquire);
            if from < first {
                for s in self.segments().iter().filter(|s| s.base < first && s.end_offset() > from) {
                    self.sync_segment(s)?;
                }
                self.flushed_to.fetch_max(first, Ordering::AcqRel);
            }
        }
        if need_flush {
            self.flush_to(next)?;
        }
        Ok(())
    }

    /// The segment `batches` go to, and whether it was just rolled: a new one when the
    /// active segment is too big, too old, out of relative offsets or index room.
    fn roll_if_due(
        &self,
        st: &AppendState,
        config: &LogConfig,
        batches: &Batches<'_>,
        now_ms: i64,
    ) -> Result<(Arc<Segment>, bool), LogError> {
        let segs = self.segments();
        let active = segs[segs.len() - 1].clone();
        let size = active.size();
        if size == 0 {
            return Ok((active, false));
        }
        let roll_ts = active.roll_ts.load(Ordering::Relaxed);
        let max_ts = batches.max_timestamp();
        let age = if roll_ts >= 0 && max_ts >= 0 { max_ts - roll_ts } else { now_ms - active.opened_ms };
        let too_big = size.saturating_add(batches.data.len() as u64) > config.segment_bytes.min(u64::from(u32::MAX));
        let too_old = age > config.segment_ms;
        let offsets_overflow = batches.next_offset() - 1 - active.base > i64::from(i32::MAX);
        if !(too_big || too_old || offsets_overflow || active.index_full()) {
            return Ok((active, false));
        }
        let first = batches.first_offset();
        let new_seg = Arc::new(Segment::create(&self.env, &self.dir, first, config.segment_index_bytes)?);
        if let Err(e) = producer::write_snapshot(&*self.env.fs, &self.dir, first, &st.producers) {
            tracing::warn!(error = %e, "could not write producer snapshot");
        }
        if let Err(e) = self.env.fs.sync_dir(&self.dir) {
            if !crate::fs::is_descriptor_shortage(&e) {
                return self.poison(e);
            }
            // The directory could not be opened, so no fsync ran: undo the roll and
            // let a later append try again.
            drop(new_seg);
            Segment::remove_files(&*self.env.fs, &self.dir, first);
            return Err(LogError::Io(e));
        }
        if let Err(e) = active.seal() {
            return self.poison(e);
        }
        let mut v = (*segs).clone();
        v.push(new_seg.clone());
        *self.segments.write() = Arc::new(v);
        Ok((new_seg, true))
    }
}

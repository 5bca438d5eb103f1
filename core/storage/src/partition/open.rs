//! Opening a partition log: finding its segments, trusting what the recovery point
//! covers, verifying the rest, and rebuilding the producer state.
//!
//! A log that was closed cleanly is opened without a single fsync or write: nothing
//! past the recovery point is found, so nothing needs to be made durable, and the
//! checkpoint on disk already says what open would write.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::{AppendState, EpochCache, PartitionLog, RecoveryInfo};
use crate::checkpoint::{self, PartitionCheckpoint};
use crate::fs::{FileSystem, StorageEnv};
use crate::producer::{self, ProducerState};
use crate::segment::{self, ScanStop, Segment, Step};
use crate::{LogConfig, LogError};
use klog_protocol::record::BatchHeader;

/// The segments found on disk, after verification.
struct Loaded {
    segs: Vec<Arc<Segment>>,
    /// Positions (in `segs`) of segments whose batches were read and indexes rebuilt.
    verified: Vec<usize>,
    /// A torn or corrupt tail was cut off (and later segments deleted).
    truncated: bool,
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir` on the real disk and clock, recovering an
    /// unclean tail.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Self, LogError> {
        Self::open_in(&StorageEnv::real(), dir, config)
    }

    /// [`open`](Self::open) through `env`'s file system and clock. On a disk without
    /// room this fails with an error (nothing is mapped that the disk could not back).
    pub fn open_in(env: &StorageEnv, dir: &Path, config: LogConfig) -> Result<Self, LogError> {
        Self::open_with(env, dir, config, false)
    }

    /// [`open_in`](Self::open_in); `clean_shutdown` says the data directory was closed
    /// cleanly (see [`crate::LogManager`]), so indexes as found are already durable.
    pub(crate) fn open_with(
        env: &StorageEnv,
        dir: &Path,
        config: LogConfig,
        clean_shutdown: bool,
    ) -> Result<Self, LogError> {
        let fs = &*env.fs;
        fs.create_dir_all(dir)?;
        let bases = list_segments(fs, dir)?;
        let ckpt = PartitionCheckpoint::read(dir);
        let rp = ckpt.map(|c| c.recovery_point).unwrap_or(i64::MIN);
        let mut info = RecoveryInfo {
            checkpoint_recovery_point: ckpt.map(|c| c.recovery_point).unwrap_or(-1),
            ..Default::default()
        };
        let mut epochs = EpochCache { entries: checkpoint::read_epochs(dir), dirty: false };
        let mut loaded = load_segments(env, dir, &bases, rp, &config, &mut epochs, &mut info)?;
        if loaded.segs.is_empty() {
            let base = ckpt.map(|c| c.log_start_offset).unwrap_or(0).max(0);
            loaded.segs.push(Arc::new(Segment::create(env, dir, base, config.segment_index_bytes)?));
            fs.sync_dir(dir)?;
        }
        let clean = clean_shutdown && info.segments_deleted == 0;
        finish_segments(fs, dir, &loaded, rp, clean, config.segment_index_bytes)?;

        let segs = loaded.segs;
        let leo = segs[segs.len() - 1].end_offset();
        let log_start = ckpt.map(|c| c.log_start_offset).unwrap_or(i64::MIN).max(segs[0].base).min(leo);
        let hw = ckpt.map(|c| c.high_watermark).unwrap_or(log_start).clamp(log_start, leo);
        epochs.truncate_from_end(leo);
        epochs.truncate_from_start(log_start);

        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            env: env.clone(),
            config: RwLock::new(config),
            append: Mutex::new(AppendState { producers: ProducerState::default() }),
            segments: RwLock::new(Arc::new(segs)),
            epochs: Mutex::new(epochs),
            leo: AtomicI64::new(leo),
            hw: AtomicI64::new(hw),
            log_start: AtomicI64::new(log_start),
            flushed_to: AtomicI64::new(leo),
            flush_lock: Mutex::new(()),
            last_flush_ms: AtomicI64::new(env.now_ms()),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            last_checkpoint: Mutex::new(ckpt),
            recovery: info,
        };
        log.rebuild_producer_state()?;
        log.write_epochs_if_dirty()?;
        log.write_checkpoint()?;
        if log.recovery.bytes_truncated > 0 || log.recovery.segments_deleted > 0 {
            tracing::warn!(dir = %dir.display(), info = ?log.recovery, "recovered log");
        }
        Ok(log)
    }

    fn rebuild_producer_state(&mut self) -> Result<(), LogError> {
        let (state, rebuilt) = self.load_producer_state()?;
        self.recovery.bytes_scanned += rebuilt.bytes_scanned;
        self.recovery.producer_batches_replayed = rebuilt.batches_replayed;
        self.append.get_mut().producers = state;
        Ok(())
    }

    /// The producer state at the log end: the newest snapshot at or below it (newer
    /// ones are deleted) with the batches after it replayed.
    pub(super) fn load_producer_state(&self) -> Result<(ProducerState, Rebuilt), LogError> {
        let leo = self.leo.load(Ordering::Acquire);
        let log_start = self.log_start.load(Ordering::Acquire);
        let (from, mut state) = match producer::load_snapshot(&*self.env.fs, &self.dir, leo)? {
            Some((o, st)) => (o.max(log_start), st),
            None => (log_start, ProducerState::default()),
        };
        let mut rebuilt = Rebuilt::default();
        if from < leo {
            let segs = self.segments();
            let first = segs.partition_point(|s| s.base <= from).saturating_sub(1);
            for seg in &segs[first..] {
                let size = seg.size();
                let start = if seg.base <= from { seg.locate(from, size)?.map(|(p, _)| p).unwrap_or(size) } else { 0 };
                let res = seg.scan(start, size, false, |_, h| {
                    if h.base_offset >= from {
                        state.replay(h);
                        rebuilt.batches_replayed += 1;
                    }
                    Step::Continue
                })?;
                rebuilt.bytes_scanned += res.bytes_read;
            }
        }
        state.truncate_head(log_start);
        Ok((state, rebuilt))
    }
}

/// What rebuilding the producer state read.
#[derive(Default)]
pub(super) struct Rebuilt {
    bytes_scanned: u64,
    batches_replayed: u64,
}

/// Base offsets of the segments in `dir`, sorted; removes leftover temporary files and
/// index files without a log.
fn list_segments(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            let _ = fs.remove_file(&entry.path());
        } else if let Some(b) = name.strip_suffix(".log").and_then(segment::parse_base) {
            bases.push(b);
        } else if let Some(b) =
            name.strip_suffix(".index").or_else(|| name.strip_suffix(".timeindex")).and_then(segment::parse_base)
        {
            index_files.push((b, entry.path()));
        }
    }
    bases.sort_unstable();
    for (b, p) in index_files {
        if bases.binary_search(&b).is_err() {
            let _ = fs.remove_file(&p);
        }
    }
    Ok(bases)
}

/// Opens every segment: those wholly below the recovery point with plausible indexes
/// are trusted; the rest are verified batch by batch, and the log is cut at the first
/// torn or corrupt batch.
fn load_segments(
    env: &StorageEnv,
    dir: &Path,
    bases: &[i64],
    rp: i64,
    config: &LogConfig,
    epochs: &mut EpochCache,
    info: &mut RecoveryInfo,
) -> Result<Loaded, LogError> {
    let interval = config.index_interval_bytes as u64;
    let mut loaded = Loaded { segs: Vec::new(), verified: Vec::new(), truncated: false };
    for (i, &base) in bases.iter().enumerate() {
        if loaded.truncated {
            for ext in ["log", "index", "timeindex"] {
                let _ = env.fs.remove_file(&dir.join(segment::file_name(base, ext)));
            }
            info.segments_deleted += 1;
            continue;
        }
        let (seg, index_missing) = Segment::open(env, dir, base)?;
        let next_base = bases.get(i + 1).copied();
        let prev_end = loaded.segs.last().map(|s| s.end_offset()).unwrap_or(i64::MIN);
        let fully_trusted = matches!(next_base, Some(nb) if nb <= rp);
        if !(fully_trusted && !index_missing && load_trusted(&seg, next_base.unwrap_or(base))) {
            if fully_trusted {
                info.indexes_rebuilt += 1;
            }
            let from_rp = if fully_trusted || index_missing { i64::MIN } else { rp };
            let stop = recover_segment(&seg, from_rp, prev_end, interval, config.segment_index_bytes, epochs, info)?;
            if let Some(pos) = stop {
                let size = seg.size();
                tracing::warn!(dir = %dir.display(), segment = base, position = pos, bytes = size - pos, "truncating torn or corrupt log tail");
                seg.cut_file(pos)?;
                seg.size.store(pos, Ordering::Release);
                info.bytes_truncated += size - pos;
                loaded.truncated = true;
            }
            loaded.verified.push(loaded.segs.len());
        }
        loaded.segs.push(Arc::new(seg));
    }
    Ok(loaded)
}

/// Loads the indexes of a segment wholly below the recovery point whose next segment
/// starts at `next_base`; false if they are implausible (then it is verified instead).
fn load_trusted(seg: &Segment, next_base: i64) -> bool {
    let size = seg.size();
    let mut idx = seg.idx.write();
    let last_rel = seg.rel(next_base - 1);
    let ok = idx.offset.load(last_rel, size, true) && idx.time.load(seg.rel(next_base), true);
    let max_ts = idx.time.last().map(|(t, _)| t);
    // A non-empty segment always has a final time entry unless it has no timestamps at all.
    if !ok || (size > 0 && max_ts.is_none()) {
        return false;
    }
    seg.end_offset.store(next_base, Ordering::Release);
    seg.max_ts.store(max_ts.unwrap_or(-1), Ordering::Relaxed);
    idx.sealed = true;
    true
}

/// Seals closed segments, reopens the active one for appends and makes whatever
/// recovery changed durable before the checkpoint can claim it. When recovery found
/// nothing past the recovery point, nothing is synced.
fn finish_segments(
    fs: &dyn FileSystem,
    dir: &Path,
    loaded: &Loaded,
    rp: i64,
    clean: bool,
    index_bytes: usize,
) -> Result<(), LogError> {
    let segs = &loaded.segs;
    let n = segs.len();
    for (i, s) in segs[..n - 1].iter().enumerate() {
        if loaded.verified.contains(&i) || !s.idx.read().sealed || loaded.truncated {
            s.seal()?;
        } else {
            // trusted and already trimmed: make sure no preallocated tail remains
            s.trim_indexes()?;
        }
    }
    let active = &segs[n - 1];
    active.unseal(index_bytes)?;
    if active.size() > 0 {
        if let Ok(h) = BatchHeader::parse(&active.read_at(0, BatchHeader::SIZE)?) {
            active.roll_ts.store(h.max_timestamp, Ordering::Relaxed);
        }
    }
    let past_rp = loaded.verified.iter().any(|&i| segs[i].end_offset() > rp);
    if loaded.truncated || past_rp {
        for &i in &loaded.verified {
            segs[i].sync()?;
            segs[i].flush_indexes()?;
        }
        fs.sync_dir(dir)?;
    } else if clean {
        active.mark_indexes_durable();
    }
    Ok(())
}

/// Verifies (part of) a segment during open and rebuilds its indexes for the verified
/// range. Batches below `rp` whose index entries load cleanly are trusted. Returns the
/// position of the first torn/corrupt batch, if any.
fn recover_segment(
    seg: &Segment,
    rp: i64,
    prev_end: i64,
    interval: u64,
    index_bytes: usize,
    epochs: &mut EpochCache,
    info: &mut RecoveryInfo,
) -> Result<Option<u64>, LogError> {
    let size = seg.size();
    let mut idx = seg.idx.write();
    idx.offset.0.make_writable(index_bytes)?;
    idx.time.0.make_writable(index_bytes)?;
    let mut verify_from = 0u64;
    let mut max_ts = -1i64;
    let mut end = seg.base;
    let mut trusted = false;
    if rp > seg.base {
        let max_rel = seg.rel(rp - 1);
        if idx.offset.load(max_rel, size, false) && idx.time.load(seg.rel(rp), false) {
            let last_t = idx.time.last();
            max_ts = last_t.map(|(t, _)| t).unwrap_or(-1);
            let from_rel = last_t.map(|(_, r)| r).unwrap_or(0).min(seg.rel(rp));
            let pos0 = idx.offset.floor_position(from_rel);
            let mut stop_at = None;
            let mut m = max_ts;
            let mut e = end;
            let res = seg.scan(pos0, size, false, |p, h| {
                if h.last_offset() >= rp {
                    stop_at = Some(p);
                    return Step::Stop;
                }
                m = m.max(h.max_timestamp);
                e = h.next_offset();
                Step::Continue
            })?;
            info.bytes_scanned += res.bytes_read;
            match res.stop {
                None => {
                    verify_from = size;
                    trusted = true;
                }
                Some(ScanStop::Callback) => {
                    verify_from = stop_at.unwrap_or(0);
                    trusted = true;
                }
                Some(ScanStop::Bad(_)) => {}
            }
            if trusted {
                max_ts = m;
                end = if e > seg.base { e } else { end };
                // entries must point below the verified prefix
                let keep = (0..idx.offset.0.len())
                    .take_while(|&i| u64::from(idx.offset.get(i).1) < verify_from.max(1))
                    .count();
                idx.offset.0.truncate_entries(keep);
                let end_rel = seg.rel(end);
                let keep = (0..idx.time.0.len()).take_while(|&i| idx.time.get(i).1 <= end_rel).count();
                idx.time.0.truncate_entries(keep);
                idx.bytes_since_entry = verify_from - idx.offset.last().map(|(_, p)| u64::from(p)).unwrap_or(0);
            }
        }
    }
    if !trusted {
        idx.offset.0.truncate_entries(0);
        idx.time.0.truncate_entries(0);
        idx.bytes_since_entry = 0;
        verify_from = 0;
        max_ts = -1;
        end = seg.base;
    }
    let base = seg.base;
    let mut roll_ts = None;
    let mut expected = end.max(prev_end).max(base);
    let res = seg.scan(verify_from, size, true, |p, h| {
        if h.base_offset < expected {
            return Step::Corrupt(format!("batch offset {} below expected {}", h.base_offset, expected));
        }
        if h.last_offset() - base > i64::from(u32::MAX) {
            return Step::Corrupt(format!("batch offset {} too far from segment base {}", h.last_offset(), base));
        }
        if p == 0 {
            roll_ts = Some(h.max_timestamp);
        }
        idx.on_batch(base, p, h, max_ts, interval);
        max_ts = max_ts.max(h.max_timestamp);
        expected = h.next_offset();
        end = expected;
        epochs.assign(h.partition_leader_epoch, h.base_offset);
        Step::Continue
    })?;
    info.bytes_scanned += res.bytes_read;
    drop(idx);
    seg.max_ts.store(max_ts, Ordering::Relaxed);
    seg.end_offset.store(end, Ordering::Release);
    if let Some(t) = roll_ts {
        seg.roll_ts.store(t, Ordering::Relaxed);
    }
    Ok(match res.stop {
        Some(ScanStop::Bad(_)) => Some(res.end),
        _ => None,
    })
}

//! Idempotent producer state of one partition: per producer id its epoch and the
//! sequence ranges and offsets of its last five batches (KIP-98).
//!
//! Snapshots are files `<offset, 20 digits>.snapshot` holding the state as of that
//! offset (everything below it applied): `"KLPS" | u16 version | i64 offset |
//! u32 count | count × (i64 pid | i16 epoch | u8 n | n × (i32 first seq | i32 last seq
//! | i64 base offset | i64 last offset)) | u32 crc32c of all previous bytes`.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint::Staged;
use crate::fs::FileSystem;
use crate::LogError;
use klog_protocol::record::{increment_sequence, BatchHeader};

/// Batches remembered per producer for duplicate detection (Kafka keeps 5).
pub(crate) const RETAINED_BATCHES: usize = 5;
const MAGIC: &[u8; 4] = b"KLPS";
const VERSION: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMeta {
    pub(crate) first_seq: i32,
    pub(crate) last_seq: i32,
    pub(crate) base_offset: i64,
    pub(crate) last_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProducerEntry {
    pub(crate) epoch: i16,
    pub(crate) batches: VecDeque<BatchMeta>,
}

impl ProducerEntry {
    fn record(&mut self, epoch: i16, meta: BatchMeta) {
        if epoch != self.epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
        self.batches.push_back(meta);
        while self.batches.len() > RETAINED_BATCHES {
            self.batches.pop_front();
        }
    }
}

/// The result of checking one batch against the producer state.
pub(crate) enum Check {
    /// Append it.
    Append,
    /// A retry of a batch already in the log at these offsets.
    Duplicate(BatchMeta),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProducerState {
    pub(crate) producers: HashMap<i64, ProducerEntry>,
}

impl ProducerState {
    /// Checks `h` against `entry` (the producer's current state, if known).
    pub(crate) fn check(entry: Option<&ProducerEntry>, h: &BatchHeader) -> Result<Check, LogError> {
        let Some(e) = entry else {
            // Unknown producer (new, or its state was removed with old segments):
            // accept any starting sequence, as Kafka does after log truncation.
            return Ok(Check::Append);
        };
        if h.producer_epoch < e.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                current: e.epoch,
            });
        }
        if h.producer_epoch > e.epoch {
            if h.base_sequence != 0 {
                return Err(LogError::OutOfOrderSequence {
                    producer_id: h.producer_id,
                    expected: 0,
                    got: h.base_sequence,
                });
            }
            return Ok(Check::Append);
        }
        let last_seq = h.last_sequence();
        if let Some(b) = e.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq) {
            return Ok(Check::Duplicate(*b));
        }
        if let Some(last) = e.batches.back() {
            let expected = increment_sequence(last.last_seq, 1);
            if h.base_sequence != expected {
                return Err(LogError::OutOfOrderSequence {
                    producer_id: h.producer_id,
                    expected,
                    got: h.base_sequence,
                });
            }
        }
        Ok(Check::Append)
    }

    /// Records an appended batch (also used when rebuilding from the log).
    pub(crate) fn apply(entry: &mut ProducerEntry, h: &BatchHeader) {
        entry.record(
            h.producer_epoch,
            BatchMeta {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                base_offset: h.base_offset,
                last_offset: h.last_offset(),
            },
        );
    }

    /// Rebuild step: a stored batch at its final offsets.
    pub(crate) fn replay(&mut self, h: &BatchHeader) {
        if h.producer_id < 0 {
            return;
        }
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry { epoch: h.producer_epoch, batches: VecDeque::new() });
        Self::replay_into(entry, h);
    }

    /// Replays a stored batch into its producer's entry; a batch of an older epoch
    /// than the entry's changes nothing.
    pub(crate) fn replay_into(entry: &mut ProducerEntry, h: &BatchHeader) {
        if h.producer_epoch >= entry.epoch {
            Self::apply(entry, h);
        }
    }

    /// Forgets producers whose last batch is below `log_start` (their data is gone).
    pub(crate) fn truncate_head(&mut self, log_start: i64) {
        self.producers.retain(|_, e| e.batches.back().map(|b| b.last_offset >= log_start).unwrap_or(false));
    }

    fn encode(&self, offset: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.producers.len() * 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let e = &self.producers[&id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.push(e.batches.len() as u8);
            for b in &e.batches {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.base_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    fn decode(buf: &[u8]) -> Option<(i64, ProducerState)> {
        if buf.len() < 4 + 2 + 8 + 4 + 4 {
            return None;
        }
        let (body, crc) = buf.split_at(buf.len() - 4);
        if crc32c::crc32c(body) != u32::from_be_bytes(crc.try_into().ok()?) {
            return None;
        }
        let mut r = Reader(body);
        if r.take(4)? != MAGIC || u16::from_be_bytes(r.take(2)?.try_into().ok()?) != VERSION {
            return None;
        }
        let offset = r.i64()?;
        let count = r.u32()? as usize;
        let mut state = ProducerState::default();
        for _ in 0..count {
            let id = r.i64()?;
            let epoch = i16::from_be_bytes(r.take(2)?.try_into().ok()?);
            let n = r.take(1)?[0] as usize;
            let mut batches = VecDeque::with_capacity(n);
            for _ in 0..n {
                let first_seq = r.u32()? as i32;
                let last_seq = r.u32()? as i32;
                let base_offset = r.i64()?;
                let last_offset = r.i64()?;
                batches.push_back(BatchMeta { first_seq, last_seq, base_offset, last_offset });
            }
            state.producers.insert(id, ProducerEntry { epoch, batches });
        }
        if !r.0.is_empty() {
            return None;
        }
        Some((offset, state))
    }
}

struct Reader<'a>(&'a [u8]);
impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// Snapshot files in `dir`, sorted by offset.
pub(crate) fn list_snapshots(dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".snapshot") {
            if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(o) = stem.parse::<i64>() {
                    out.push((o, entry.path()));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes a snapshot as of `offset` and keeps only the two newest snapshot files.
pub(crate) fn write_snapshot(fs: &dyn FileSystem, dir: &Path, offset: i64, state: &ProducerState) -> io::Result<()> {
    super::checkpoint::commit(fs, dir, vec![stage_snapshot(fs, dir, offset, state)?])?;
    prune_snapshots(fs, dir)
}

/// The file of the snapshot as of `offset`.
pub(crate) fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(snapshot_name(offset))
}

fn snapshot_name(offset: i64) -> String {
    format!("{offset:020}.snapshot")
}

/// Stages a snapshot as of `offset` (see [`super::checkpoint::commit`]).
pub(crate) fn stage_snapshot(
    fs: &dyn FileSystem,
    dir: &Path,
    offset: i64,
    state: &ProducerState,
) -> io::Result<Staged> {
    super::checkpoint::stage(fs, dir, &snapshot_name(offset), &state.encode(offset))
}

/// Deletes all but the two newest snapshot files.
pub(crate) fn prune_snapshots(fs: &dyn FileSystem, dir: &Path) -> io::Result<()> {
    let snaps = list_snapshots(dir)?;
    if snaps.len() > 2 {
        for (_, p) in &snaps[..snaps.len() - 2] {
            let _ = fs.remove_file(p);
        }
    }
    Ok(())
}

/// Loads the newest readable snapshot with offset `<= max_offset`, deleting newer ones
/// (they describe a log tail that no longer exists).
pub(crate) fn load_snapshot(
    fs: &dyn FileSystem,
    dir: &Path,
    max_offset: i64,
) -> io::Result<Option<(i64, ProducerState)>> {
    let snaps = list_snapshots(dir)?;
    let mut found = None;
    for (o, p) in snaps.iter().rev() {
        if *o > max_offset {
            let _ = fs.remove_file(p);
            continue;
        }
        if found.is_none() {
            if let Some((off, st)) = fs::read(p).ok().and_then(|b| ProducerState::decode(&b)) {
                if off == *o {
                    found = Some((off, st));
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trip() {
        let mut s = ProducerState::default();
        let mut e = ProducerEntry { epoch: 3, batches: VecDeque::new() };
        for i in 0..7 {
            e.record(
                3,
                BatchMeta {
                    first_seq: i * 2,
                    last_seq: i * 2 + 1,
                    base_offset: 100 + i as i64,
                    last_offset: 101 + i as i64,
                },
            );
        }
        assert_eq!(e.batches.len(), RETAINED_BATCHES);
        s.producers.insert(42, e);
        s.producers.insert(7, ProducerEntry { epoch: 0, batches: VecDeque::new() });
        let enc = s.encode(555);
        let (o, d) = ProducerState::decode(&enc).unwrap();
        assert_eq!(o, 555);
        assert_eq!(d, s);
        let mut bad = enc.clone();
        bad[10] ^= 1;
        assert!(ProducerState::decode(&bad).is_none());
        assert!(ProducerState::decode(&enc[..enc.len() - 1]).is_none());
    }
}

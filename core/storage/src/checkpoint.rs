//! Small checkpoint files of a partition directory, each replaced atomically
//! (write `<name>.tmp`, fsync, rename, fsync the directory). Several files of one
//! directory can share the directory fsync: [`stage`] each, then [`commit`] them together.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fs::{FileSystem, OpenMode};

/// Name of the per-partition checkpoint (recovery point, log start, high watermark).
pub(crate) const PARTITION_CHECKPOINT: &str = "partition.checkpoint";
/// Name of the leader epoch checkpoint (Kafka's format and name).
pub(crate) const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

const PARTITION_HEADER: &str = "klog-partition-checkpoint 1";

/// A file written under a temporary name and fsynced, waiting to be renamed into place.
#[must_use = "a staged file is only visible once committed"]
pub(crate) struct Staged {
    tmp: PathBuf,
    target: PathBuf,
}

/// Writes `contents` to `dir/<name>.tmp` and fsyncs it; [`commit`] renames it.
pub(crate) fn stage(fs: &dyn FileSystem, dir: &Path, name: &str, contents: &[u8]) -> io::Result<Staged> {
    let tmp = dir.join(format!("{name}.tmp"));
    let f = fs.open(&tmp, OpenMode::Replace)?;
    fs.write_all_at(&tmp, &f, contents, 0)?;
    fs.sync_all(&tmp, &f)?;
    Ok(Staged { tmp, target: dir.join(name) })
}

/// Renames staged files of one directory into place, in order, then fsyncs the
/// directory once so every rename is durable. Nothing is synced when `staged` is empty.
///
/// Each staged file is durable before its rename, so after a crash every name holds
/// either its old or its new contents; callers stage the file that claims the most
/// (the partition checkpoint) last.
pub(crate) fn commit(fs: &dyn FileSystem, dir: &Path, staged: Vec<Staged>) -> io::Result<()> {
    if staged.is_empty() {
        return Ok(());
    }
    for s in staged {
        fs.rename(&s.tmp, &s.target)?;
    }
    fs.sync_dir(dir)
}

/// What the partition checkpoint records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionCheckpoint {
    /// Everything below this offset is known to be on disk (fsynced).
    pub(crate) recovery_point: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) high_watermark: i64,
}

impl PartitionCheckpoint {
    /// Stages the checkpoint file (see [`commit`]).
    pub(crate) fn stage(&self, fs: &dyn FileSystem, dir: &Path) -> io::Result<Staged> {
        let text = format!(
            "{PARTITION_HEADER}\nrecovery_point={}\nlog_start_offset={}\nhigh_watermark={}\n",
            self.recovery_point, self.log_start_offset, self.high_watermark
        );
        stage(fs, dir, PARTITION_CHECKPOINT, text.as_bytes())
    }

    /// Reads the checkpoint; `None` if missing or unreadable (then everything is recovered).
    pub(crate) fn read(dir: &Path) -> Option<PartitionCheckpoint> {
        let text = fs::read_to_string(dir.join(PARTITION_CHECKPOINT)).ok()?;
        let mut lines = text.lines();
        if lines.next()? != PARTITION_HEADER {
            return None;
        }
        let (mut rp, mut ls, mut hw) = (None, None, None);
        for line in lines {
            let (k, v) = line.split_once('=')?;
            let v: i64 = v.parse().ok()?;
            match k {
                "recovery_point" => rp = Some(v),
                "log_start_offset" => ls = Some(v),
                "high_watermark" => hw = Some(v),
                _ => {}
            }
        }
        Some(PartitionCheckpoint { recovery_point: rp?, log_start_offset: ls?, high_watermark: hw? })
    }
}

/// Writes `(epoch, start offset)` entries in Kafka's `leader-epoch-checkpoint` format.
pub(crate) fn write_epochs(fs: &dyn FileSystem, dir: &Path, epochs: &[(i32, i64)]) -> io::Result<()> {
    commit(fs, dir, vec![stage_epochs(fs, dir, epochs)?])
}

/// Stages the leader epoch checkpoint (see [`commit`]).
pub(crate) fn stage_epochs(fs: &dyn FileSystem, dir: &Path, epochs: &[(i32, i64)]) -> io::Result<Staged> {
    let mut text = format!("0\n{}\n", epochs.len());
    for (e, o) in epochs {
        text.push_str(&format!("{e} {o}\n"));
    }
    stage(fs, dir, LEADER_EPOCH_CHECKPOINT, text.as_bytes())
}

/// Reads the leader epoch checkpoint; empty if missing or malformed.
pub(crate) fn read_epochs(dir: &Path) -> Vec<(i32, i64)> {
    let parse = || -> Option<Vec<(i32, i64)>> {
        let text = fs::read_to_string(dir.join(LEADER_EPOCH_CHECKPOINT)).ok()?;
        let mut lines = text.lines();
        if lines.next()?.trim() != "0" {
            return None;
        }
        let n: usize = lines.next()?.trim().parse().ok()?;
        let mut out = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let mut parts = lines.next()?.split_whitespace();
            let e: i32 = parts.next()?.parse().ok()?;
            let o: i64 = parts.next()?.parse().ok()?;
            out.push((e, o));
        }
        // keep it well-formed: strictly increasing epochs and non-decreasing offsets
        if out.windows(2).any(|w| w[1].0 <= w[0].0 || w[1].1 < w[0].1) {
            return None;
        }
        Some(out)
    };
    parse().unwrap_or_default()
}

//! The local metadata log of a single node, `meta/metadata.log`: records appended
//! as frames `u32 length | u32 crc32c of the body | body (one JSON record)`, each
//! append synced before the records are applied. Opening replays it and cuts a
//! torn or corrupt tail; a long log is compacted into a snapshot of the image,
//! written aside and renamed over it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::MetadataRecord;

/// Largest frame body accepted when reading (a record is a few hundred bytes).
const MAX_FRAME: usize = 16 << 20;
const FILE_NAME: &str = "metadata.log";

/// An open metadata log.
pub struct MetadataLog {
    path: PathBuf,
    file: File,
    /// Records in the file.
    records: usize,
}

impl MetadataLog {
    /// Opens (creating) the log in `dir` and returns it with the records it holds.
    pub fn open(dir: &Path) -> io::Result<(MetadataLog, Vec<MetadataRecord>)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, valid) = decode_frames(&bytes);
        if valid < bytes.len() {
            tracing::warn!(path = %path.display(), at = valid, "cutting a torn or corrupt tail of the metadata log");
            file.set_len(valid as u64)?;
            file.sync_all()?;
        }
        let log = MetadataLog { path, file, records: records.len() };
        Ok((log, records))
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Records in the log.
    pub fn len(&self) -> usize {
        self.records
    }

    /// Appends `records` and syncs them to disk.
    pub fn append(&mut self, records: &[MetadataRecord]) -> io::Result<()> {
        self.file.write_all(&encode_frames(records)?)?;
        self.file.sync_data()?;
        self.records += records.len();
        Ok(())
    }

    /// Replaces the whole log by `records` (a snapshot), atomically.
    pub fn rewrite(&mut self, records: &[MetadataRecord]) -> io::Result<()> {
        let dir = self.path.parent().ok_or_else(|| io::Error::other("metadata log has no directory"))?;
        let tmp = self.path.with_extension("log.tmp");
        {
            let mut file = File::create(&tmp)?;
            file.write_all(&encode_frames(records)?)?;
            file.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        File::open(dir)?.sync_all()?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.records = records.len();
        Ok(())
    }
}

fn encode_frames(records: &[MetadataRecord]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for record in records {
        let body = serde_json::to_vec(record).map_err(io::Error::other)?;
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
    }
    Ok(out)
}

/// The records of the valid prefix of `bytes`, and that prefix's length.
fn decode_frames(bytes: &[u8]) -> (Vec<MetadataRecord>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some(header) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes(header[..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_be_bytes(header[4..].try_into().unwrap_or_default());
        let Some(body) = bytes.get(pos + 8..pos + 8 + len).filter(|_| len <= MAX_FRAME) else { break };
        if crc32c::crc32c(body) != crc {
            break;
        }
        let Ok(record) = serde_json::from_slice(body) else { break };
        records.push(record);
        pos += 8 + len;
    }
    (records, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let first = MetadataRecord::Cluster { cluster_id: "c".into() };
        let second = MetadataRecord::ProducerIds { broker: 1, next: 1000 };
        {
            let (mut log, records) = MetadataLog::open(dir.path()).unwrap();
            assert!(records.is_empty() && log.is_empty());
            log.append(&[first.clone(), second.clone()]).unwrap();
        }
        let path = dir.path().join(FILE_NAME);
        let full = fs::read(&path).unwrap();
        fs::write(&path, &full[..full.len() - 3]).unwrap();
        let (mut log, records) = MetadataLog::open(dir.path()).unwrap();
        assert_eq!(records, vec![first.clone()], "the torn second record is cut");
        log.append(std::slice::from_ref(&second)).unwrap();
        log.rewrite(std::slice::from_ref(&second)).unwrap();
        let (log, records) = MetadataLog::open(dir.path()).unwrap();
        assert_eq!((records, log.len()), (vec![second], 1));
    }
}

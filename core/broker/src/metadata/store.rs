//! The metadata of a single node: the local metadata log and the image built
//! from it. A change is checked against the current image, made durable in the
//! log, then published as the next image.

use std::path::Path;
use std::sync::Arc;

use klog_protocol::error::{Error, ErrorKind, Result};
use parking_lot::{Mutex, RwLock};

use super::{legacy, MetadataImage, MetadataLog, MetadataRecord};

/// Compact the log once it holds this many more records than a snapshot would.
const COMPACT_SLACK: usize = 10_000;

/// The metadata log and its current image.
pub struct MetadataStore {
    log: Mutex<MetadataLog>,
    image: RwLock<Arc<MetadataImage>>,
}

impl MetadataStore {
    /// Opens `<data_dir>/meta/metadata.log`, replaying it; a new directory starts
    /// with a fresh cluster id, one of an earlier klog version is migrated (its
    /// partitions held by node `node_id`).
    pub fn open(data_dir: &Path, node_id: i32) -> Result<MetadataStore> {
        let dir = data_dir.join("meta");
        let (mut log, records) = MetadataLog::open(&dir)?;
        let mut image = MetadataImage::default();
        for record in &records {
            image.apply(record).map_err(|e| Error::new(ErrorKind::Corrupt, format!("metadata log: {e}")))?;
        }
        if log.is_empty() {
            let initial = legacy::initial_records(&dir, node_id)?;
            for record in &initial {
                image.apply(record).map_err(|e| Error::new(ErrorKind::Corrupt, format!("old metadata: {e}")))?;
            }
            log.append(&initial)?;
            legacy::remove_old_files(&dir)?;
        }
        let store = MetadataStore { log: Mutex::new(log), image: RwLock::new(Arc::new(image)) };
        store.maybe_compact()?;
        Ok(store)
    }

    /// The current image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().clone()
    }

    /// Applies `records` as one change: all or none. Returns the new image.
    pub fn commit(&self, records: Vec<MetadataRecord>) -> Result<Arc<MetadataImage>> {
        let mut log = self.log.lock();
        let mut next = (*self.image()).clone();
        for record in &records {
            next.apply(record).map_err(|e| Error::invalid(e.to_string()))?;
        }
        log.append(&records)?;
        let next = Arc::new(next);
        *self.image.write() = next.clone();
        drop(log);
        self.maybe_compact()?;
        Ok(next)
    }

    /// Rewrites the log as a snapshot of the image when it has grown long.
    fn maybe_compact(&self) -> Result<()> {
        let mut log = self.log.lock();
        let image = self.image();
        if log.len() > image.record_count() + COMPACT_SLACK {
            log.rewrite(&image.to_records())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn changes_survive_reopen_and_bad_ones_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4();
        let cluster_id = {
            let store = MetadataStore::open(dir.path(), 1).unwrap();
            store.commit(vec![MetadataRecord::Topic { name: "t".into(), id }]).unwrap();
            let duplicate = vec![
                MetadataRecord::ProducerIds { broker: 1, next: 5 },
                MetadataRecord::Topic { name: "t".into(), id },
            ];
            assert_eq!(store.commit(duplicate).unwrap_err().kind(), ErrorKind::Invalid);
            assert_eq!(store.image().next_producer_id, 0, "a refused change applies nothing");
            store.image().cluster_id.clone()
        };
        let store = MetadataStore::open(dir.path(), 1).unwrap();
        assert_eq!(store.image().cluster_id, cluster_id);
        assert!(!cluster_id.is_empty());
        assert_eq!(store.image().topics["t"].id, id);
    }

    #[test]
    fn a_directory_of_an_earlier_version_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("meta");
        std::fs::create_dir_all(&meta).unwrap();
        let id = Uuid::new_v4();
        std::fs::write(meta.join("broker.json"), r#"{"cluster_id":"old-cluster","producer_id_reserved":3000}"#)
            .unwrap();
        let topics =
            format!(r#"[{{"name":"orders","id":"{id}","partitions":2,"configs":{{"retention.ms":"60000"}}}}]"#);
        std::fs::write(meta.join("topics.json"), topics).unwrap();
        for _ in 0..2 {
            let image = MetadataStore::open(dir.path(), 7).unwrap().image();
            assert_eq!(image.cluster_id, "old-cluster");
            assert_eq!(image.next_producer_id, 3000, "reserved producer ids are never handed out again");
            let orders = &image.topics["orders"];
            assert_eq!((orders.id, orders.partitions.len()), (id, 2));
            assert_eq!(orders.partitions[&1].leader, 7);
            assert_eq!(orders.configs["retention.ms"], "60000");
        }
        assert!(!meta.join("topics.json").exists() && !meta.join("broker.json").exists());
    }
}

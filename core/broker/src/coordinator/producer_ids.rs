//! Producer ids for InitProducerId, handed out from blocks reserved in the
//! metadata (so a restart, or another broker, never reuses one).

use std::sync::Arc;

use parking_lot::Mutex;

use crate::metadata::{MetadataRecord, MetadataStore};
use klog_protocol::error::Result;

/// Producer ids reserved in the metadata at a time.
const ID_BLOCK: i64 = 1000;

/// Hands out producer ids from the block this broker reserved last.
pub struct ProducerIdAllocator {
    node_id: i32,
    metadata: Arc<MetadataStore>,
    /// The next id to hand out and the end of the reserved block.
    block: Mutex<(i64, i64)>,
}

impl ProducerIdAllocator {
    /// An allocator for node `node_id` that reserves its first block when first asked.
    pub fn new(node_id: i32, metadata: Arc<MetadataStore>) -> Self {
        ProducerIdAllocator { node_id, metadata, block: Mutex::new((0, 0)) }
    }

    /// A producer id never handed out before.
    pub fn next_id(&self) -> Result<i64> {
        let mut block = self.block.lock();
        if block.0 >= block.1 {
            let start = self.metadata.image().next_producer_id;
            let record = MetadataRecord::ProducerIds { broker: self.node_id, next: start + ID_BLOCK };
            self.metadata.commit(vec![record])?;
            *block = (start, start + ID_BLOCK);
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let metadata = Arc::new(MetadataStore::open(dir.path(), 1).unwrap());
        let ids = ProducerIdAllocator::new(1, metadata.clone());
        let first: Vec<i64> = (0..3).map(|_| ids.next_id().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        let cluster_id = metadata.image().cluster_id.clone();
        drop((ids, metadata));
        let reopened = Arc::new(MetadataStore::open(dir.path(), 1).unwrap());
        assert_eq!(reopened.image().cluster_id, cluster_id);
        let ids = ProducerIdAllocator::new(1, reopened);
        assert!(ids.next_id().unwrap() > 2);
    }
}

//! Broker identity (cluster id) and producer id allocation for InitProducerId.

use std::path::{Path, PathBuf};

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{meta_file, Broker};
use klog_protocol::error::Result;

/// Producer ids are reserved on disk in blocks of this size, so a restart never reuses one.
const ID_BLOCK: i64 = 1000;

/// Persistent broker metadata in `<data>/meta/broker.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrokerMeta {
    /// Cluster id generated when the directory was first used.
    pub cluster_id: String,
    /// Producer ids below this were (possibly) handed out.
    pub producer_id_reserved: i64,
}

impl BrokerMeta {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("meta").join("broker.json")
    }

    /// Loads the metadata, creating it with a fresh cluster id on first use.
    pub fn load_or_init(data_dir: &Path) -> Result<BrokerMeta> {
        let path = Self::path(data_dir);
        if let Some(meta) = meta_file::read_json(&path)? {
            return Ok(meta);
        }
        let meta = BrokerMeta {
            cluster_id: uuid::Uuid::new_v4().simple().to_string()[..22].to_string(),
            producer_id_reserved: 0,
        };
        meta_file::write_json(&path, &meta)?;
        Ok(meta)
    }
}

/// Hands out producer ids, reserving blocks durably before use.
pub struct ProducerIdAllocator {
    path: PathBuf,
    state: Mutex<(i64, BrokerMeta)>,
}

impl ProducerIdAllocator {
    /// Continues after the last reserved block.
    pub fn new(data_dir: &Path, meta: BrokerMeta) -> Result<Self> {
        let next = meta.producer_id_reserved;
        Ok(ProducerIdAllocator { path: BrokerMeta::path(data_dir), state: Mutex::new((next, meta)) })
    }

    /// A producer id never handed out before.
    pub fn next_id(&self) -> Result<i64> {
        let mut state = self.state.lock();
        let (next, meta) = &mut *state;
        if *next >= meta.producer_id_reserved {
            let mut reserved = meta.clone();
            reserved.producer_id_reserved = *next + ID_BLOCK;
            meta_file::write_json(&self.path, &reserved)?;
            *meta = reserved;
        }
        let id = *next;
        *next += 1;
        Ok(id)
    }
}

impl Broker {
    /// InitProducerId for idempotent (non-transactional) producers.
    pub(super) fn init_producer_id(&self, req: InitProducerIdRequest) -> InitProducerIdResponse {
        let mut response = InitProducerIdResponse::default();
        response.producer_id = ProducerId(-1);
        response.producer_epoch = -1;
        if req.transactional_id.is_some() {
            // Transactions are not implemented: refuse clearly instead of pretending.
            response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
            return response;
        }
        // An existing producer asking for an epoch bump (KIP-360) keeps its id.
        if req.producer_id.0 >= 0 && (0..i16::MAX - 1).contains(&req.producer_epoch) {
            response.producer_id = req.producer_id;
            response.producer_epoch = req.producer_epoch + 1;
            return response;
        }
        match self.producer_ids.next_id() {
            Ok(id) => {
                response.producer_id = ProducerId(id);
                response.producer_epoch = 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot reserve producer ids");
                response.error_code = ResponseError::CoordinatorNotAvailable.code();
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let meta = BrokerMeta::load_or_init(dir.path()).unwrap();
        let ids = ProducerIdAllocator::new(dir.path(), meta.clone()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| ids.next_id().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        let reopened = BrokerMeta::load_or_init(dir.path()).unwrap();
        assert_eq!(reopened.cluster_id, meta.cluster_id);
        let ids = ProducerIdAllocator::new(dir.path(), reopened).unwrap();
        assert!(ids.next_id().unwrap() > 2);
    }
}

//! Whole Produce requests through a real broker (on a temporary data directory):
//! whatever the bytes, the broker answers without panicking, and everything it
//! stored decodes — every batch passes its checks and every record reads back.
//!
//! The first byte picks the shape of the input: even, the rest is the records
//! field of a Produce v9 for partition 0 of topic `fuzz`; odd, the rest is a
//! whole Produce request body at a version chosen by the second byte.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, RequestKind, TopicName};
use kafka_protocol::protocol::{Decodable, StrBytes};
use klog::broker::{Broker, BrokerConfig};
use klog::protocol::{RequestContext, Service};
use klog::record::BatchRecords;
use libfuzzer_sys::fuzz_target;
use parking_lot::Mutex;

const TOPIC: &str = "fuzz";

struct Harness {
    runtime: tokio::runtime::Runtime,
    broker: Arc<Broker>,
    /// Log end offsets already checked, per partition.
    checked: Mutex<Vec<i64>>,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::new(dir.path());
        config.auto_create_topics = false;
        let broker = runtime.block_on(async { Broker::open(config) }).unwrap();
        // Small segments and a retention bound keep a run of many millions of inputs
        // within a few tens of MB of disk (maintenance deletes old segments).
        let overrides = [("segment.bytes", "1048576"), ("retention.bytes", "8388608")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        broker.topics().create(TOPIC, 2, overrides).unwrap();
        Harness { runtime, broker, checked: Mutex::new(vec![0, 0]), _dir: dir }
    })
}

fn records_request(records: &[u8]) -> ProduceRequest {
    let mut partition = PartitionProduceData::default();
    partition.index = 0;
    partition.records = Some(Bytes::copy_from_slice(records));
    let mut topic = TopicProduceData::default();
    topic.name = TopicName(StrBytes::from_static_str(TOPIC));
    topic.partition_data = vec![partition];
    let mut request = ProduceRequest::default();
    request.acks = 1;
    request.timeout_ms = 1000;
    request.topic_data = vec![topic];
    request
}

/// Reads every batch stored since the last check and decodes all its records.
fn check_stored(h: &Harness) {
    let topic = h.broker.topics().get(TOPIC).unwrap();
    let mut checked = h.checked.lock();
    for (p, from) in checked.iter_mut().enumerate() {
        let log = topic.partition(p as i32).unwrap();
        let end = log.log_end_offset();
        // Retention may have deleted segments not yet checked: they were checked
        // as far as they go, and the check goes on from what is left.
        *from = (*from).max(log.log_start_offset());
        while *from < end {
            let read = match log.read(*from, 1 << 20, end, true) {
                Ok(read) => read,
                Err(_) if *from < log.log_start_offset() => {
                    *from = log.log_start_offset();
                    continue;
                }
                Err(e) => panic!("stored data at offset {from} cannot be read: {e}"),
            };
            let mut data = read.records;
            assert!(!data.is_empty(), "no batch at offset {from} below the log end {end}");
            for batch in klog::record::batches(data.split_to(data.len())) {
                let batch: BatchRecords = batch.expect("a stored batch fails its checks");
                *from = batch.header.next_offset();
                for record in batch {
                    record.expect("a stored record does not decode");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else { return };
    let request = if shape % 2 == 0 {
        records_request(rest)
    } else {
        let Some((&version, body)) = rest.split_first() else { return };
        let version = 3 + i16::from(version % 9);
        match ProduceRequest::decode(&mut Bytes::copy_from_slice(body), version) {
            Ok(request) => request,
            Err(_) => return,
        }
    };
    let h = harness();
    let context = RequestContext::default();
    h.runtime.block_on(h.broker.call(&context, 9, RequestKind::Produce(request)));
    check_stored(h);
});

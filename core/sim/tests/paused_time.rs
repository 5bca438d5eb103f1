//! The client's timers run on tokio's clock: with paused time, a minute of
//! linger passes at once and exactly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klog_client::{ClientConfig, Producer, ProducerConfig, ProducerRecord};
use klog_sim::{SimConnector, SimNode};

#[test]
fn linger_runs_on_paused_time() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let node = SimNode::start(|_| {}).unwrap();
        node.broker().unwrap().topics().create("t", 1, BTreeMap::new()).unwrap();
        let client = ClientConfig::with_connector(vec!["sim:9092".into()], Arc::new(SimConnector::new(node)));
        let mut config = ProducerConfig::new(client);
        config.set("linger.ms", "60000").unwrap();
        config.set("enable.idempotence", "true").unwrap();
        let producer = Producer::connect(config).await.unwrap();
        let real = std::time::Instant::now();
        let simulated = tokio::time::Instant::now();
        let delivery = producer.send(ProducerRecord::new("t", "v").partition(0)).await.unwrap();
        assert_eq!(delivery.await.unwrap().offset, 0);
        let lingered = simulated.elapsed();
        assert!(lingered >= Duration::from_secs(60) && lingered < Duration::from_secs(61), "{lingered:?}");
        assert!(real.elapsed() < Duration::from_secs(10), "the linger was waited in real time");
        producer.close().await.unwrap();
    });
}

//! The clients of a run: idempotent producers, each with several tasks sending
//! records to random partitions, every record and its outcome kept in the history.

use std::sync::Arc;
use std::time::Duration;

use klog_client::{ClientConfig, DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use klog_protocol::Result;

use crate::history::{History, Outcome};
use crate::rng::SimRng;

/// How much the clients send, and how.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Topic written.
    pub topic: String,
    /// Its partition count.
    pub partitions: i32,
    /// Producers, each with its own producer id.
    pub producers: usize,
    /// Concurrent sending tasks per producer.
    pub tasks: usize,
    /// Records per task.
    pub records: usize,
    /// Producer settings (Kafka names), the same for every producer.
    pub settings: Vec<(&'static str, String)>,
}

impl Workload {
    /// A workload drawn from `rng`: batch sizes, linger and backoff vary by seed.
    pub fn random(rng: &SimRng, topic: &str, request_timeout: Duration) -> Workload {
        let settings = vec![
            ("enable.idempotence", "true".to_string()),
            ("acks", "all".to_string()),
            ("max.in.flight.requests.per.connection", "5".to_string()),
            ("linger.ms", rng.range(0..10).to_string()),
            ("batch.size", rng.range(100..3000).to_string()),
            ("retry.backoff.ms", rng.range(10..100).to_string()),
            ("request.timeout.ms", request_timeout.as_millis().to_string()),
            ("delivery.timeout.ms", rng.range(30_000..60_000).to_string()),
        ];
        Workload {
            topic: topic.to_string(),
            partitions: rng.range(1..4) as i32,
            producers: rng.range(1..3) as usize,
            tasks: rng.range(1..4) as usize,
            records: rng.range(50..250) as usize,
            settings,
        }
    }

    /// Runs every producer and task to the end: all records settled, producers closed.
    pub async fn run(&self, client: ClientConfig, history: Arc<History>, rng: SimRng) -> Result<()> {
        let mut config = ProducerConfig::new(client);
        for (key, value) in &self.settings {
            config.set(key, value)?;
        }
        let mut producers = Vec::with_capacity(self.producers);
        for _ in 0..self.producers {
            producers.push(Arc::new(connect(&config).await?));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (index, producer) in producers.iter().enumerate() {
            for _ in 0..self.tasks {
                let sender = Sender { producer: producer.clone(), index, history: history.clone(), rng: rng.clone() };
                tasks.spawn(sender.run(self.topic.clone(), self.partitions, self.records));
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("a sending task panicked");
        }
        for producer in producers {
            producer.close().await?;
        }
        Ok(())
    }
}

/// Connects a producer, retrying while the network or the broker fails it.
async fn connect(config: &ProducerConfig) -> Result<Producer> {
    let mut attempt = 0;
    loop {
        match Producer::connect(config.clone()).await {
            Ok(producer) => return Ok(producer),
            Err(e) if attempt < 30 && e.kind().is_retriable() => attempt += 1,
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One task sending records through a shared producer.
struct Sender {
    producer: Arc<Producer>,
    index: usize,
    history: Arc<History>,
    rng: SimRng,
}

impl Sender {
    /// Sends `count` records, pausing now and then, then waits for every outcome.
    async fn run(self, topic: String, partitions: i32, count: usize) {
        let mut pending: Vec<(usize, DeliveryFuture)> = Vec::with_capacity(count);
        for _ in 0..count {
            if self.rng.chance(0.5) {
                tokio::time::sleep(self.rng.millis(0..20)).await;
            }
            let partition = self.rng.range(0..partitions as u64) as i32;
            let id = self.history.begin(self.index, partition);
            let record =
                ProducerRecord::new(topic.clone(), History::value(id)).partition(partition).timestamp(id as i64);
            match self.producer.send(record).await {
                Ok(delivery) => {
                    // Nothing ran since the record was appended: this is its send position.
                    self.history.appended(id);
                    pending.push((id, delivery));
                }
                Err(e) => self.history.settle(id, Outcome::Refused(e.kind())),
            }
        }
        for (id, delivery) in pending {
            let outcome = match delivery.await {
                Ok(metadata) => Outcome::Acked(metadata.offset),
                Err(e) => Outcome::Failed(e.kind()),
            };
            self.history.settle(id, outcome);
        }
    }
}

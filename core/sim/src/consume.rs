//! A consumer reading the topic from the beginning while it is written, through
//! the same faulty network, until it reaches the end offsets it is given.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klog_client::{ClientConfig, Consumer, ConsumerConfig, TopicPartition};
use klog_protocol::Result;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::check::Stored;
use crate::history::History;

/// What a reading consumer saw, per partition, in the order it saw it.
pub type Consumed = BTreeMap<i32, Vec<Stored>>;

/// A consumer running in the background.
pub struct Reader {
    consumed: Arc<Mutex<Consumed>>,
    end: watch::Sender<Option<BTreeMap<i32, i64>>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Reader {
    /// Starts a consumer of every partition of `topic` from the beginning.
    pub fn start(client: ClientConfig, topic: &str, partitions: i32) -> Reader {
        let consumed = Arc::new(Mutex::new(Consumed::new()));
        let (end, ends) = watch::channel(None);
        let assignment: Vec<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(topic, p)).collect();
        let task = tokio::spawn(consume(client, assignment, consumed.clone(), ends));
        Reader { consumed, end, task }
    }

    /// Lets the consumer finish once it has read up to `end` (next offset per
    /// partition); returns what it read, or why it stopped early.
    pub async fn finish(self, end: BTreeMap<i32, i64>, limit: Duration) -> std::result::Result<Consumed, String> {
        let _ = self.end.send(Some(end));
        match tokio::time::timeout(limit, self.task).await {
            Err(_) => Err(format!("the consumer did not reach the end within {limit:?}")),
            Ok(Err(e)) => Err(format!("the consumer task failed: {e}")),
            Ok(Ok(Err(e))) => Err(format!("the consumer failed: {e}")),
            Ok(Ok(Ok(()))) => Ok(std::mem::take(&mut *self.consumed.lock())),
        }
    }
}

async fn consume(
    client: ClientConfig,
    assignment: Vec<TopicPartition>,
    consumed: Arc<Mutex<Consumed>>,
    ends: watch::Receiver<Option<BTreeMap<i32, i64>>>,
) -> Result<()> {
    let mut config = ConsumerConfig::new(client, None);
    config.set("auto.offset.reset", "earliest")?;
    config.set("fetch.max.wait.ms", "100")?;
    let consumer = connect(config).await?;
    consumer.assign(&assignment).await?;
    loop {
        for record in consumer.poll(Duration::from_millis(50)).await? {
            let id = record.value.as_deref().and_then(History::parse);
            consumed.lock().entry(record.partition).or_default().push((record.offset, id));
        }
        if let Some(end) = &*ends.borrow() {
            let consumed = consumed.lock();
            let reached =
                |(p, end): (&i32, &i64)| consumed.get(p).and_then(|s| s.last()).map_or(0, |(o, _)| o + 1) >= *end;
            if end.iter().all(reached) {
                break;
            }
        }
    }
    consumer.close().await
}

/// Connects the consumer, retrying while the network or the broker fails it.
async fn connect(config: ConsumerConfig) -> Result<Consumer> {
    let mut attempt = 0;
    loop {
        match Consumer::connect(config.clone()).await {
            Ok(consumer) => return Ok(consumer),
            Err(e) if attempt < 30 && e.kind().is_retriable() => attempt += 1,
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

//! A consumer group member that commits what it reads and checks, every time it
//! looks, that the group's committed offsets never go backwards.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use klog_client::{ClientConfig, Consumer, ConsumerConfig, TopicPartition};
use klog_protocol::Result;
use tokio::sync::watch;

/// A committing group member running in the background.
pub struct Committer {
    end: watch::Sender<Option<BTreeMap<i32, i64>>>,
    task: tokio::task::JoinHandle<Result<Vec<String>>>,
}

impl Committer {
    /// Joins `group` on `topic` (read from the beginning) and starts reading.
    pub fn start(client: ClientConfig, group: &str, topic: &str, partitions: i32) -> Committer {
        let (end, ends) = watch::channel(None);
        let mut config = ConsumerConfig::new(client, Some(group));
        // A JoinGroup waits up to max.poll.interval.ms + 5 s on its connection (as in
        // Kafka): Kafka's 5-minute default would outlast a run's catch-up time when
        // a partition leaves that connection half open.
        let settings = [
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("fetch.max.wait.ms", "100"),
            ("max.poll.interval.ms", "20000"),
            ("session.timeout.ms", "10000"),
        ];
        let partitions: Vec<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(topic, p)).collect();
        let task = tokio::spawn(async move {
            for (key, value) in settings {
                config.set(key, value)?;
            }
            commit_while_reading(config, partitions, ends).await
        });
        Committer { end, task }
    }

    /// Lets the member finish once the group's commits reach `end` (next offset per
    /// partition); returns every time committed offsets went backwards, or why it
    /// stopped early.
    pub async fn finish(self, end: BTreeMap<i32, i64>, limit: Duration) -> std::result::Result<Vec<String>, String> {
        let _ = self.end.send(Some(end));
        match tokio::time::timeout(limit, self.task).await {
            Err(_) => Err(format!("the group's commits did not reach the end within {limit:?}")),
            Ok(Err(e)) => Err(format!("the committing consumer task failed: {e}")),
            Ok(Ok(Err(e))) => Err(format!("the committing consumer failed: {e}")),
            Ok(Ok(Ok(backwards))) => Ok(backwards),
        }
    }
}

async fn commit_while_reading(
    config: ConsumerConfig,
    partitions: Vec<TopicPartition>,
    ends: watch::Receiver<Option<BTreeMap<i32, i64>>>,
) -> Result<Vec<String>> {
    let topic = partitions[0].topic.clone();
    let consumer = retry(|| Consumer::connect(config.clone())).await?;
    let topics = [topic.as_str()];
    retry(|| consumer.subscribe(&topics)).await?;
    let mut seen: BTreeMap<i32, i64> = BTreeMap::new();
    let mut backwards = Vec::new();
    let mut uncommitted = false;
    loop {
        match consumer.poll(Duration::from_millis(50)).await {
            Ok(records) => uncommitted |= !records.is_empty(),
            Err(e) if e.kind().is_retriable() => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => return Err(e),
        }
        if uncommitted && consumer.commit().await.is_ok() {
            uncommitted = false;
        }
        let Ok(committed) = consumer.committed(&partitions).await else { continue };
        for (tp, offset) in committed {
            let Some(offset) = offset else { continue };
            let last = seen.entry(tp.partition).or_insert(offset);
            if offset < *last {
                backwards
                    .push(format!("committed offset of partition {} went back from {last} to {offset}", tp.partition));
            }
            *last = offset.max(*last);
        }
        if let Some(end) = &*ends.borrow() {
            if end.iter().all(|(p, end)| *end == 0 || seen.get(p).is_some_and(|o| o >= end)) {
                break;
            }
        }
    }
    consumer.close().await?;
    Ok(backwards)
}

/// Runs `attempt` until it succeeds, while it fails in a way worth retrying.
async fn retry<T, F: Future<Output = Result<T>>>(mut attempt: impl FnMut() -> F) -> Result<T> {
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if tries < 30 && e.kind().is_retriable() => tries += 1,
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

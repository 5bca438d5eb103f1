//! `klog consume`: print records as text, JSON lines or raw values.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use klog::client::{Consumer, ConsumerRecord, OffsetSpec, TopicPartition};

use super::connect::Session;
use super::error::{why, CliError, CliResult, Context};
use super::output::json_bytes;

/// How often a group consumer commits what it has printed.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait of one poll (the loop also checks Ctrl-C and `--exit` between polls).
const POLL_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `key<TAB>value` per record (just the value when the key is null).
    Text,
    /// One JSON object per record with topic, partition, offset, timestamp, key, value, headers.
    Json,
    /// Value bytes only, one per line.
    Raw,
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topic to read.
    topic: String,
    /// Where to start: `beginning`, `end`, an offset, or `@TIMESTAMP_MS`. Default: the end
    /// without a group; with a group its committed offsets, else `auto.offset.reset`.
    #[arg(short = 'o', long, value_name = "WHERE")]
    from: Option<String>,
    /// Read only this partition, assigned manually (repeatable).
    #[arg(short, long)]
    partition: Vec<i32>,
    /// Consumer group: join it (unless --partition) and commit what was printed.
    #[arg(short, long)]
    group: Option<String>,
    /// Stop after printing N records.
    #[arg(short, long, value_name = "N")]
    count: Option<u64>,
    /// Stop at the end of the partitions as they were at start.
    #[arg(short, long)]
    exit: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Where consumption starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    Beginning,
    End,
    Offset(i64),
    Timestamp(i64),
}

fn parse_from(s: &str) -> Result<From, String> {
    match s {
        "beginning" | "earliest" => Ok(From::Beginning),
        "end" | "latest" => Ok(From::End),
        _ => {
            if let Some(ts) = s.strip_prefix('@') {
                ts.parse().map(From::Timestamp).map_err(|_| format!("expected @TIMESTAMP_MS, got {s:?}"))
            } else {
                match s.parse::<i64>() {
                    Ok(o) if o >= 0 => Ok(From::Offset(o)),
                    _ => Err(format!("expected beginning, end, an offset or @TIMESTAMP_MS, got {s:?}")),
                }
            }
        }
    }
}

impl ConsumeArgs {
    fn start(&self) -> CliResult<Option<From>> {
        self.from.as_deref().map(parse_from).transpose().map_err(|e| CliError::usage("invalid --from", e))
    }

    /// Checks the flags before connecting.
    pub fn validate(&self) -> CliResult {
        let from = self.start()?;
        if self.group.is_some()
            && self.partition.is_empty()
            && matches!(from, Some(From::Offset(_) | From::Timestamp(_)))
        {
            return Err(CliError::usage(
                "invalid --from",
                "an offset or timestamp needs --partition when consuming in a group \
                 (or move the group with `klog groups reset-offsets`)",
            ));
        }
        if self.count == Some(0) {
            return Err(CliError::usage("invalid --count", "must be at least 1"));
        }
        Ok(())
    }
}

/// Writes one record in `format`.
fn write_record(out: &mut impl Write, format: Format, r: &ConsumerRecord) -> std::io::Result<()> {
    let value: &[u8] = r.value.as_deref().unwrap_or_default();
    match format {
        Format::Raw => {
            out.write_all(value)?;
            out.write_all(b"\n")
        }
        Format::Text => {
            if let Some(key) = &r.key {
                out.write_all(key)?;
                out.write_all(b"\t")?;
            }
            out.write_all(value)?;
            out.write_all(b"\n")
        }
        Format::Json => {
            out.write_all(record_json(r).as_bytes())?;
            out.write_all(b"\n")
        }
    }
}

/// A record as one JSON object (fields in a fixed order). Keys and values that are not
/// UTF-8 are base64 with `key_encoding`/`value_encoding: "base64"`; headers are `[key, value]`
/// pairs whose non-UTF-8 parts are `{"base64": ...}`.
pub fn record_json(r: &ConsumerRecord) -> String {
    use serde_json::Value;
    let mut fields: Vec<(String, Value)> = vec![
        ("topic".into(), Value::from(r.topic.as_str())),
        ("partition".into(), Value::from(r.partition)),
        ("offset".into(), Value::from(r.offset)),
        ("timestamp".into(), Value::from(r.timestamp)),
    ];
    for (name, bytes) in [("key", r.key.as_deref()), ("value", r.value.as_deref())] {
        match bytes.map(std::str::from_utf8) {
            None => fields.push((name.into(), Value::Null)),
            Some(Ok(s)) => fields.push((name.into(), Value::from(s))),
            Some(Err(_)) => {
                fields.push((name.into(), Value::from(super::output::base64(bytes.unwrap_or_default()))));
                fields.push((format!("{name}_encoding"), Value::from("base64")));
            }
        }
    }
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|h| Value::Array(vec![json_bytes(Some(&h.key)), json_bytes(h.value.as_deref())]))
        .collect();
    fields.push(("headers".into(), Value::Array(headers)));
    let body: Vec<String> = fields.into_iter().map(|(k, v)| format!("{}:{}", Value::from(k), v)).collect();
    format!("{{{}}}", body.join(","))
}

pub async fn run(session: &Session, args: ConsumeArgs) -> CliResult {
    let from = args.start()?;
    let topic = &args.topic;
    let what = || format!("cannot consume {topic}");
    let info = session.admin.describe_topic(topic).await.ctx(what())?;
    let all: Vec<TopicPartition> = info.partitions.iter().map(|p| TopicPartition::new(topic, p.partition)).collect();
    for p in &args.partition {
        if !all.iter().any(|tp| tp.partition == *p) {
            return Err(CliError::failed(what(), format!("topic has no partition {p}")));
        }
    }
    let manual = !args.partition.is_empty() || args.group.is_none();
    let partitions: Vec<TopicPartition> = if args.partition.is_empty() {
        all.clone()
    } else {
        all.iter().filter(|tp| args.partition.contains(&tp.partition)).cloned().collect()
    };

    // With --exit: the ends as they are now; records at or past them are not printed.
    let ends: HashMap<TopicPartition, i64> = if args.exit {
        let latest = session.admin.list_offsets(&partitions, OffsetSpec::Latest).await.ctx(what())?;
        latest.into_iter().map(|(tp, o)| (tp, o.unwrap_or(0))).collect()
    } else {
        HashMap::new()
    };

    let mut extra = Vec::new();
    if args.group.is_some() {
        // The CLI commits exactly what it printed (so --count N resumes after N).
        extra.push(("enable.auto.commit", "false".to_string()));
        match from {
            Some(From::Beginning) => extra.push(("auto.offset.reset", "earliest".to_string())),
            Some(From::End) => extra.push(("auto.offset.reset", "latest".to_string())),
            _ => {}
        }
    }
    let consumer = session.consumer(args.group.as_deref(), &extra).await?;
    let result = consume(&consumer, &args, from, manual, &partitions, &ends).await;
    let closed = consumer.close().await.ctx("cannot close the consumer");
    result.and(closed)
}

async fn consume(
    consumer: &Consumer,
    args: &ConsumeArgs,
    from: Option<From>,
    manual: bool,
    partitions: &[TopicPartition],
    ends: &HashMap<TopicPartition, i64>,
) -> CliResult {
    let topic = &args.topic;
    let what = || format!("cannot consume {topic}");
    if manual {
        consumer.assign(partitions).await.ctx(what())?;
        match from {
            Some(From::Beginning) => consumer.seek_to_beginning(partitions).await.ctx(what())?,
            Some(From::End) => consumer.seek_to_end(partitions).await.ctx(what())?,
            // Without a group there is nothing committed: kcat's default, the end.
            None if args.group.is_none() => consumer.seek_to_end(partitions).await.ctx(what())?,
            None => {}
            Some(From::Offset(offset)) => {
                for tp in partitions {
                    consumer.seek(tp, offset).await.ctx(what())?;
                }
            }
            Some(From::Timestamp(ts)) => {
                let query: HashMap<TopicPartition, i64> = partitions.iter().map(|tp| (tp.clone(), ts)).collect();
                let found = consumer.offsets_for_times(&query).await.ctx(what())?;
                for tp in partitions {
                    match found.get(tp).copied().flatten() {
                        Some((offset, _)) => consumer.seek(tp, offset).await.ctx(what())?,
                        None => consumer.seek_to_end(std::slice::from_ref(tp)).await.ctx(what())?,
                    }
                }
            }
        }
    } else {
        consumer.subscribe(&[topic.as_str()]).await.ctx(what())?;
    }

    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut printed: u64 = 0;
    // Next offset per partition after what was printed: what a group commits.
    let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut uncommitted = false;
    let mut last_commit = Instant::now();
    let mut done: BTreeSet<TopicPartition> = BTreeSet::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let outcome: CliResult = loop {
        if args.exit && reached_end(consumer, manual, partitions, ends, &next, &mut done).await {
            break Ok(());
        }
        let records = tokio::select! {
            r = consumer.poll(POLL_TIMEOUT) => r,
            _ = &mut ctrl_c => break Ok(()),
        };
        let records = match records {
            Ok(r) => r,
            Err(e) => break Err(e).ctx(what()),
        };
        let mut closed_pipe = false;
        let mut limit_reached = false;
        for r in &records {
            let tp = TopicPartition::new(&r.topic, r.partition);
            if args.exit && r.offset >= ends.get(&tp).copied().unwrap_or(0) {
                continue;
            }
            if let Err(e) = write_record(&mut out, args.format, r) {
                closed_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
                if !closed_pipe {
                    return Err(CliError::failed("cannot write to stdout", e));
                }
                break;
            }
            next.insert(tp, r.offset + 1);
            uncommitted = true;
            printed += 1;
            if args.count.is_some_and(|n| printed >= n) {
                limit_reached = true;
                break;
            }
        }
        if let Err(e) = out.flush() {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(CliError::failed("cannot write to stdout", e));
            }
            closed_pipe = true;
        }
        if closed_pipe || limit_reached {
            break Ok(());
        }
        if args.group.is_some() && uncommitted && last_commit.elapsed() >= COMMIT_INTERVAL {
            // A commit can fail during a rebalance; the next one (or the last) catches up.
            if let Err(e) = consumer.commit_offsets(&next.clone().into_iter().collect()).await {
                tracing::warn!("commit failed: {}", why(&e));
            } else {
                uncommitted = false;
            }
            last_commit = Instant::now();
        }
    };
    if args.group.is_some() && uncommitted {
        consumer
            .commit_offsets(&next.into_iter().collect())
            .await
            .ctx(format!("cannot commit offsets of group {}", args.group.as_deref().unwrap_or_default()))?;
    }
    outcome
}

/// With `--exit`: whether every partition being read has reached the end it had at start.
async fn reached_end(
    consumer: &Consumer,
    manual: bool,
    partitions: &[TopicPartition],
    ends: &HashMap<TopicPartition, i64>,
    next: &BTreeMap<TopicPartition, i64>,
    done: &mut BTreeSet<TopicPartition>,
) -> bool {
    let current: Vec<TopicPartition> = if manual { partitions.to_vec() } else { consumer.assignment() };
    if current.is_empty() {
        // A group member without partitions yet; if the topic is empty there is nothing to wait for.
        return !manual && partitions.iter().all(|tp| ends.get(tp).copied().unwrap_or(0) == 0);
    }
    for tp in &current {
        if done.contains(tp) {
            continue;
        }
        let end = ends.get(tp).copied().unwrap_or(0);
        let mut at = next.get(tp).copied().unwrap_or(-1);
        if at < end {
            if let Ok(position) = consumer.position(tp).await {
                at = at.max(position);
            }
        }
        if at >= end {
            done.insert(tp.clone());
        } else {
            return false;
        }
    }
    true
}

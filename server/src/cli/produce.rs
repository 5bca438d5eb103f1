//! `klog produce`: one record per input line.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use klog::client::{DeliveryFuture, ProducerRecord};
use tokio::sync::mpsc;

use super::connect::{parse_key_value, Session};
use super::error::{why, CliError, CliResult, Context};

/// Files larger than this show a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 4 << 20;
/// Lines handed from the reader thread to the producer at a time.
const CHUNK_LINES: usize = 1024;

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to write to.
    topic: String,
    /// Read records from this file instead of stdin.
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Split each line into key and value at the first SEP (lines without it get a null key).
    #[arg(short = 'K', long, value_name = "SEP")]
    key_separator: Option<String>,
    /// Header added to every record, `KEY=VALUE` (repeatable; duplicates are kept).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    headers: Vec<(String, String)>,
    /// Write every record to this partition (default: the partitioner picks, by key).
    #[arg(short, long)]
    partition: Option<i32>,
    /// Acknowledgements to wait for: 0, 1 or all.
    #[arg(long, value_parser = ["0", "1", "all", "-1"])]
    acks: Option<String>,
    /// Compression codec.
    #[arg(short = 'z', long, value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    compression: Option<String>,
    /// Do not show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// Splits a line into key and value at the first `sep`.
fn split_line(line: Bytes, sep: Option<&[u8]>) -> (Option<Bytes>, Bytes) {
    let Some(sep) = sep.filter(|s| !s.is_empty()) else { return (None, line) };
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(at) => (Some(line.slice(..at)), line.slice(at + sep.len()..)),
        None => (None, line),
    }
}

/// Reads lines on a thread of its own (stdin and files block) and hands them over in chunks.
fn spawn_reader(
    input: Box<dyn Read + Send>,
    progress: Option<ProgressBar>,
) -> (mpsc::Receiver<std::io::Result<Vec<Bytes>>>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(16);
    let handle = std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(p) = &progress {
                        p.inc(n as u64);
                    }
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    chunk.push(Bytes::from(line));
                    if chunk.len() >= CHUNK_LINES && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(chunk));
        }
    });
    (rx, handle)
}

/// Outcome of the deliveries.
#[derive(Default)]
struct Deliveries {
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
}

pub async fn run(session: &Session, args: ProduceArgs) -> CliResult {
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = match &args.file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| CliError::failed(format!("cannot open {}", path.display()), e))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        }
        None => (Box::new(std::io::stdin()), None),
    };

    let mut extra = Vec::new();
    if let Some(acks) = &args.acks {
        extra.push(("acks", acks.clone()));
        if acks != "all" && acks != "-1" {
            // Idempotence needs acks=all; a weaker acks asks for plain delivery.
            extra.push(("enable.idempotence", "false".to_string()));
        }
    }
    if let Some(codec) = &args.compression {
        extra.push(("compression.type", codec.clone()));
    }
    let producer = session.producer(&extra).await?;

    let progress = match size {
        Some(size) if size >= PROGRESS_MIN_BYTES && !args.no_progress && std::io::stderr().is_terminal() => {
            let bar = ProgressBar::new(size);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            Some(bar)
        }
        _ => None,
    };

    // Delivery futures resolve in the order records were sent per partition; one task
    // awaits them so sending never waits on a single record's acknowledgement.
    let (futures_tx, mut futures_rx) = mpsc::channel::<DeliveryFuture>(64 * 1024);
    let collector = tokio::spawn(async move {
        let mut d = Deliveries::default();
        while let Some(future) = futures_rx.recv().await {
            match future.await {
                Ok(_) => d.delivered += 1,
                Err(e) => {
                    d.failed += 1;
                    d.first_error.get_or_insert_with(|| why(&e));
                }
            }
        }
        d
    });

    let (mut lines, reader) = spawn_reader(input, progress.clone());
    let headers: Vec<(Bytes, Bytes)> =
        args.headers.iter().map(|(k, v)| (Bytes::from(k.clone()), Bytes::from(v.clone()))).collect();
    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let started = Instant::now();
    let (mut sent, mut bytes) = (0u64, 0u64);
    let mut failure: Option<CliError> = None;
    let mut interrupted = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    'input: loop {
        let chunk = tokio::select! {
            chunk = lines.recv() => chunk,
            _ = &mut ctrl_c => { interrupted = true; break; }
        };
        let chunk = match chunk {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                failure = Some(CliError::failed("cannot read the input", e));
                break;
            }
        };
        for line in chunk {
            let (key, value) = split_line(line, separator);
            bytes += (key.as_ref().map_or(0, Bytes::len) + value.len()) as u64;
            let mut record = ProducerRecord::new(&args.topic, value);
            record.key = key;
            record.partition = args.partition;
            for (k, v) in &headers {
                record = record.header(k.clone(), v.clone());
            }
            match producer.send(record).await {
                Ok(future) => {
                    sent += 1;
                    if futures_tx.send(future).await.is_err() {
                        break 'input;
                    }
                }
                Err(e) => {
                    failure = Some(CliError::failed(format!("cannot send to {}", args.topic), why(&e)));
                    break 'input;
                }
            }
        }
    }
    drop(lines);
    let flushed = producer.flush().await.ctx(format!("cannot flush records to {}", args.topic));
    drop(futures_tx);
    let deliveries = collector.await.unwrap_or_default();
    let closed = producer.close().await.ctx("cannot close the producer");
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    if !interrupted {
        let _ = reader.join();
    }

    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 { deliveries.delivered as f64 / seconds } else { 0.0 };
    let mb_rate = if seconds > 0.0 { bytes as f64 / seconds / 1e6 } else { 0.0 };
    eprintln!(
        "klog: produced {} records ({} bytes) to {} in {seconds:.3} s ({rate:.0} records/s, {mb_rate:.2} MB/s){}",
        deliveries.delivered,
        bytes,
        args.topic,
        if interrupted { ", interrupted" } else { "" }
    );
    if let Some(failure) = failure {
        return Err(failure);
    }
    if deliveries.failed > 0 {
        return Err(CliError::failed(
            format!("{} of {sent} records were not delivered to {}", deliveries.failed, args.topic),
            deliveries.first_error.unwrap_or_default(),
        ));
    }
    flushed?;
    closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        let line = Bytes::from_static(b"k1:v:1");
        assert_eq!(split_line(line.clone(), Some(b":")), (Some(Bytes::from_static(b"k1")), Bytes::from_static(b"v:1")));
        assert_eq!(split_line(line.clone(), Some(b"::")), (None, line.clone()));
        assert_eq!(split_line(line.clone(), None), (None, line));
        assert_eq!(
            split_line(Bytes::from_static(b"a=>b"), Some(b"=>")),
            (Some(Bytes::from_static(b"a")), Bytes::from_static(b"b"))
        );
    }
}

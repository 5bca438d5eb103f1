//! End-to-end tests of the `klog` command line: the built binary against an embedded
//! data directory and against a `klog-server` process.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where a test's commands connect.
enum Target {
    Embedded(tempfile::TempDir),
    Server { child: Child, bootstrap: String, _data: tempfile::TempDir },
}

impl Target {
    fn embedded() -> Target {
        Target::Embedded(tempfile::tempdir().unwrap())
    }

    /// A klog-server on a free port, ready once it printed its listening line.
    fn server() -> Target {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_klog-server"))
            .args(["--data-dir", data.path().to_str().unwrap()])
            .args(["--listeners", "PLAINTEXT://127.0.0.1:0", "--group-initial-rebalance-delay-ms", "0"])
            .args(["--log", "warn"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let bootstrap = line
            .trim()
            .strip_prefix("klog-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Target::Server { child, bootstrap, _data: data }
    }

    fn connect_args(&self) -> Vec<String> {
        match self {
            Target::Embedded(dir) => vec!["--data-dir".into(), dir.path().display().to_string()],
            Target::Server { bootstrap, .. } => vec!["--bootstrap".into(), bootstrap.clone()],
        }
    }

    /// Runs `klog` with `args`, feeding `stdin`.
    fn klog(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_klog"));
        command.args(self.connect_args()).args(args);
        run(command, stdin)
    }

    /// Runs `klog`, asserting success; returns stdout.
    fn ok(&self, args: &[&str], stdin: &[u8]) -> String {
        let out = self.klog(args, stdin);
        assert!(
            out.status.success(),
            "klog {args:?} exited with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs `klog`, asserting exit `code` and one `klog: ...` line on stderr; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.klog(args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "klog {args:?}: stderr {stderr}");
        assert!(!stderr.contains("panicked"), "klog {args:?} panicked: {stderr}");
        stderr
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Target::Server { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Longest any one command may run before the test kills it and fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

fn run(mut command: Command, stdin: &[u8]) -> Output {
    command.env_remove("KLOG_BOOTSTRAP").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
        buf
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    writer.join().unwrap();
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

fn klog_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_klog"))
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}

fn both_targets(test: impl Fn(&Target)) {
    test(&Target::embedded());
    test(&Target::server());
}

// ---------------------------------------------------------------------------------------
// topics

fn topics_lifecycle(t: &Target) {
    t.ok(&["topics", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000"], b"");
    let stderr = t.fails(&["topics", "create", "orders"], 1);
    assert!(stderr.starts_with("klog: cannot create topic orders:") && stderr.contains("already exists"), "{stderr}");
    t.ok(&["topics", "create", "orders", "--if-not-exists"], b"");
    t.ok(&["topics", "create", "audit", "-p", "1"], b"");

    assert_eq!(t.ok(&["topics", "list"], b""), "audit\norders\n");
    let long = t.ok(&["topics", "list", "--long"], b"");
    assert!(long.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["orders", "3"]), "{long}");

    let describe = t.ok(&["topics", "describe", "orders"], b"");
    assert!(describe.contains("Partitions: 3"), "{describe}");
    assert!(describe.contains("retention.ms=3600000"), "{describe}");
    for p in 0..3 {
        assert!(describe.lines().any(|l| l.starts_with(&format!("{p} "))), "partition {p}: {describe}");
    }

    t.ok(
        &[
            "topics",
            "alter",
            "orders",
            "--partitions",
            "5",
            "--set",
            "segment.bytes=1048576",
            "--delete",
            "retention.ms",
        ],
        b"",
    );
    let describe = t.ok(&["topics", "describe", "orders"], b"");
    assert!(describe.contains("Partitions: 5"), "{describe}");
    assert!(describe.contains("segment.bytes=1048576"), "{describe}");
    assert!(!describe.contains("retention.ms=3600000"), "{describe}");
    let all = t.ok(&["topics", "describe", "orders", "--all-configs"], b"");
    assert!(all.contains("retention.ms="), "{all}");
    t.fails(&["topics", "alter", "orders"], 2);
    t.fails(&["topics", "alter", "orders", "--partitions", "2"], 1);

    t.ok(&["topics", "delete", "orders", "audit"], b"");
    assert_eq!(t.ok(&["topics", "list"], b""), "");
    let stderr = t.fails(&["topics", "describe", "orders"], 1);
    assert!(stderr.starts_with("klog: cannot describe topic orders: "), "{stderr}");
    t.fails(&["topics", "delete", "orders"], 1);
}

#[test]
fn topics_lifecycle_embedded() {
    topics_lifecycle(&Target::embedded());
}

#[test]
fn topics_lifecycle_server() {
    topics_lifecycle(&Target::server());
}

#[test]
fn cluster_describe() {
    both_targets(|t| {
        let out = t.ok(&["cluster", "describe"], b"");
        assert!(out.contains("Cluster id: "), "{out}");
        assert!(out.contains("Controller: 1"), "{out}");
        assert!(out.lines().any(|l| l.starts_with("1 ")), "{out}");
    });
}

// ---------------------------------------------------------------------------------------
// errors that need no producer or consumer

#[test]
fn usage_errors_exit_2() {
    let t = Target::embedded();
    t.fails(&["--no-such-flag"], 2);
    t.fails(&["topics"], 2);
    t.fails(&["topics", "create", "x", "--partitions", "many"], 2);
    t.fails(&["topics", "create", "x", "--config", "novalue"], 2);
    t.fails(&["consume", "x", "--from", "yesterday"], 2);
    t.fails(&["consume", "x", "--format", "xml"], 2);
    t.fails(&["consume", "x", "--group", "g", "--from", "5"], 2);
    t.fails(&["groups", "reset-offsets", "g", "--topic", "x", "--to", "somewhere"], 2);
    t.fails(&["produce", "x", "--acks", "2"], 2);
    // --bootstrap and --data-dir exclude each other.
    let mut command = Command::new(klog_bin());
    command.args(["--bootstrap", "127.0.0.1:9", "--data-dir", "/tmp/x", "topics", "list"]);
    assert_eq!(run(command, b"").status.code(), Some(2));
    // --help is not an error.
    let mut command = Command::new(klog_bin());
    command.arg("--help");
    let out = run(command, b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("consume"));
}

#[test]
fn unreachable_bootstrap_exits_3() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for args in [&["topics", "list"][..], &["consume", "t", "-e"], &["produce", "t"], &["groups", "list"]] {
        let mut command = Command::new(klog_bin());
        command.args(["--bootstrap", &format!("127.0.0.1:{port}")]).args(args);
        let out = run(command, b"a\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.starts_with(&format!("klog: cannot connect to 127.0.0.1:{port}")), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // The environment variable is the default bootstrap.
    let mut command = Command::new(klog_bin());
    command.args(["topics", "list"]);
    command.env("KLOG_BOOTSTRAP", format!("127.0.0.1:{port}"));
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn unknown_topics_and_groups_fail_with_exit_1() {
    let t = Target::embedded();
    let stderr = t.fails(&["consume", "missing", "-e"], 1);
    assert!(stderr.starts_with("klog: cannot consume missing: "), "{stderr}");
    t.fails(&["groups", "describe", "nobody"], 1);
    t.fails(&["groups", "reset-offsets", "g", "--topic", "missing", "--to", "earliest"], 1);
    t.ok(&["topics", "create", "one", "-p", "1"], b"");
    t.fails(&["consume", "one", "-e", "--partition", "7"], 1);
}

#[test]
fn a_locked_data_directory_exits_3() {
    let t = Target::embedded();
    let Target::Embedded(dir) = &t else { unreachable!() };
    // An embedded broker holds the directory while the CLI tries to open it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let embedded = runtime.block_on(async { klog::Embedded::open(dir.path()) }).unwrap();
    let stderr = t.fails(&["topics", "list"], 3);
    assert!(stderr.contains("cannot open data directory"), "{stderr}");
    runtime.block_on(embedded.close()).unwrap();
    t.ok(&["topics", "list"], b"");
}

// ---------------------------------------------------------------------------------------
// produce and consume

fn produce_consume_round_trip(t: &Target) {
    t.ok(&["topics", "create", "events", "-p", "2"], b"");
    let input = "user1:hello\nuser2:world:with:colons\nno-key-here\nuser1:again\n";
    let out = t.klog(
        &["produce", "events", "--key-separator", ":", "--header", "source=cli", "-H", "trace=1", "-H", "trace=2"],
        input.as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("produced 4 records"), "{stderr}");

    let records = json_lines(&t.ok(&["consume", "events", "--from", "beginning", "-e", "--format", "json"], b""));
    assert_eq!(records.len(), 4);
    let mut seen: Vec<(Value, Value)> = records.iter().map(|r| (r["key"].clone(), r["value"].clone())).collect();
    seen.sort_by_key(|(k, v)| format!("{k}{v}"));
    let mut expected: Vec<(Value, Value)> = vec![
        (Value::Null, "no-key-here".into()),
        ("user1".into(), "again".into()),
        ("user1".into(), "hello".into()),
        ("user2".into(), "world:with:colons".into()),
    ];
    expected.sort_by_key(|(k, v)| format!("{k}{v}"));
    assert_eq!(seen, expected);
    for r in &records {
        assert_eq!(r["topic"], "events");
        assert!(r["offset"].as_i64().unwrap() >= 0);
        assert!(r["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        assert_eq!(r["headers"], serde_json::json!([["source", "cli"], ["trace", "1"], ["trace", "2"]]));
    }
    // The same key lands in the same partition, in order.
    let user1: Vec<&Value> = records.iter().filter(|r| r["key"] == "user1").collect();
    assert_eq!(user1[0]["partition"], user1[1]["partition"]);

    // text: key<TAB>value, or the value alone for a null key.
    let text = t.ok(&["consume", "events", "--from", "beginning", "-e"], b"");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines, ["no-key-here", "user1\tagain", "user1\thello", "user2\tworld:with:colons"]);

    // raw: values only.
    let raw = t.ok(&["consume", "events", "--from", "beginning", "-e", "--format", "raw"], b"");
    let mut values: Vec<&str> = raw.lines().collect();
    values.sort();
    assert_eq!(values, ["again", "hello", "no-key-here", "world:with:colons"]);

    // Bytes that are not UTF-8 come out as base64 in JSON, and untouched in raw.
    t.ok(&["topics", "create", "binary", "-p", "1"], b"");
    t.ok(&["produce", "binary", "-K", "|"], b"k\xff|v\xfe\x00\n");
    let records = json_lines(&t.ok(&["consume", "binary", "--from", "beginning", "-e", "-f", "json"], b""));
    assert_eq!(records[0]["key"], "a/8=");
    assert_eq!(records[0]["key_encoding"], "base64");
    assert_eq!(records[0]["value"], "dv4A");
    assert_eq!(records[0]["value_encoding"], "base64");
    let out = t.klog(&["consume", "binary", "--from", "beginning", "-e", "-f", "raw"], b"");
    assert_eq!(out.stdout, b"v\xfe\x00\n");

    // An explicit partition, from a file, with acks and compression.
    let file = match t {
        Target::Embedded(dir) => dir.path().join("input.txt"),
        Target::Server { _data, .. } => _data.path().join("input.txt"),
    };
    std::fs::write(&file, (0..100).map(|i| format!("k{i}=v{i}\n")).collect::<String>()).unwrap();
    let file = file.to_str().unwrap();
    t.ok(
        &["produce", "events", "--file", file, "-K", "=", "--partition", "1", "--acks", "1", "--compression", "lz4"],
        b"",
    );
    let records =
        json_lines(&t.ok(&["consume", "events", "--partition", "1", "--from", "beginning", "-e", "-f", "json"], b""));
    let tail: Vec<&Value> = records.iter().filter(|r| r["key"].as_str().is_some_and(|k| k.starts_with('k'))).collect();
    assert_eq!(tail.len(), 100);
    for (i, r) in tail.iter().enumerate() {
        assert_eq!(r["key"], format!("k{i}"));
        assert_eq!(r["value"], format!("v{i}"));
        assert_eq!(r["partition"], 1);
    }
}

#[test]
fn produce_consume_round_trip_embedded() {
    produce_consume_round_trip(&Target::embedded());
}

#[test]
fn produce_consume_round_trip_server() {
    produce_consume_round_trip(&Target::server());
}

fn offsets(text: &str) -> Vec<i64> {
    json_lines(text).iter().map(|r| r["offset"].as_i64().unwrap()).collect()
}

#[test]
fn from_variants_and_count() {
    both_targets(|t| {
        t.ok(&["topics", "create", "seq", "-p", "1"], b"");
        let before = now_ms();
        t.ok(&["produce", "seq"], (0..10).map(|i| format!("r{i}\n")).collect::<String>().as_bytes());
        let all = t.ok(&["consume", "seq", "--from", "beginning", "-e", "-f", "json"], b"");
        assert_eq!(offsets(&all), (0..10).collect::<Vec<_>>());
        let ts: Vec<i64> = json_lines(&all).iter().map(|r| r["timestamp"].as_i64().unwrap()).collect();

        assert_eq!(offsets(&t.ok(&["consume", "seq", "--from", "6", "-e", "-f", "json"], b"")), [6, 7, 8, 9]);
        assert_eq!(offsets(&t.ok(&["consume", "seq", "-p", "0", "-o", "6", "-e", "-f", "json"], b"")), [6, 7, 8, 9]);
        assert_eq!(t.ok(&["consume", "seq", "--from", "end", "-e"], b""), "");
        // The default without a group is the end.
        assert_eq!(t.ok(&["consume", "seq", "-e"], b""), "");
        assert_eq!(
            offsets(&t.ok(&["consume", "seq", "--from", "beginning", "--count", "3", "-f", "json"], b"")),
            [0, 1, 2]
        );
        // --count without --exit stops too, even when fewer records would follow.
        assert_eq!(offsets(&t.ok(&["consume", "seq", "--from", "8", "--count", "2", "-f", "json"], b"")), [8, 9]);
        // By time: everything from before the first record, nothing after the last.
        let from_before = t.ok(&["consume", "seq", "--from", &format!("@{before}"), "-e", "-f", "json"], b"");
        assert_eq!(offsets(&from_before).len(), 10);
        let from_fifth = t.ok(&["consume", "seq", "--from", &format!("@{}", ts[5]), "-e", "-f", "json"], b"");
        assert_eq!(offsets(&from_fifth).first().copied(), ts.iter().position(|&x| x >= ts[5]).map(|p| p as i64));
        let future = t.ok(&["consume", "seq", "--from", &format!("@{}", now_ms() + 3_600_000), "-e"], b"");
        assert_eq!(future, "");
    });
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `COMMITTED END LAG` of one partition in `groups describe` output.
fn lag_row(describe: &str, topic: &str, partition: i32) -> Vec<i64> {
    let line = describe
        .lines()
        .find(|l| l.split_whitespace().take(2).eq([topic, &partition.to_string()]))
        .unwrap_or_else(|| panic!("no row for {topic}-{partition} in\n{describe}"));
    line.split_whitespace().skip(2).take(3).map(|v| v.parse().unwrap()).collect()
}

fn groups(t: &Target) {
    t.ok(&["topics", "create", "work", "-p", "1"], b"");
    t.ok(&["produce", "work"], (0..10).map(|i| format!("job{i}\n")).collect::<String>().as_bytes());

    // A group starts at auto.offset.reset (latest by default; earliest with --from beginning)
    // and commits exactly what it printed.
    let first = t.ok(&["consume", "work", "--group", "g1", "--from", "beginning", "--count", "4"], b"");
    assert_eq!(first, "job0\njob1\njob2\njob3\n");
    assert!(t.ok(&["groups", "list"], b"").lines().any(|g| g == "g1"));
    let describe = t.ok(&["groups", "describe", "g1"], b"");
    assert!(describe.contains("State: Empty"), "{describe}");
    assert_eq!(lag_row(&describe, "work", 0), [4, 10, 6], "{describe}");
    assert!(describe.contains("Total lag: 6"), "{describe}");

    // Committed offsets win over --from.
    let rest = t.ok(&["consume", "work", "--group", "g1", "--from", "beginning", "-e"], b"");
    assert_eq!(rest, (4..10).map(|i| format!("job{i}\n")).collect::<String>());
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g1"], b""), "work", 0), [10, 10, 0]);

    // reset-offsets: a dry run prints the plan and changes nothing.
    let plan = t.ok(&["groups", "reset-offsets", "g1", "--topic", "work", "--to", "earliest"], b"");
    assert!(plan.lines().any(|l| l.split_whitespace().eq(["work", "0", "10", "0"])), "{plan}");
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g1"], b""), "work", 0), [10, 10, 0]);
    t.ok(&["groups", "reset-offsets", "g1", "--topic", "work", "--to", "7", "--execute"], b"");
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g1"], b""), "work", 0), [7, 10, 3]);
    assert_eq!(t.ok(&["consume", "work", "--group", "g1", "-e"], b""), "job7\njob8\njob9\n");
    t.ok(&["groups", "reset-offsets", "g1", "--topic", "work", "--to", "earliest", "--execute"], b"");
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g1"], b""), "work", 0), [0, 10, 10]);
    // Out-of-range offsets are clamped; timestamps find the first record at or after them.
    t.ok(&["groups", "reset-offsets", "g1", "--topic", "work", "--to", "999", "--execute"], b"");
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g1"], b""), "work", 0), [10, 10, 0]);
    t.ok(&["groups", "reset-offsets", "g1", "--topic", "work", "--to", "@0", "--execute"], b"");
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g1"], b""), "work", 0), [0, 10, 10]);
    t.ok(&["groups", "reset-offsets", "g1", "--topic", "work", "--to", "latest", "--execute"], b"");
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g1"], b""), "work", 0), [10, 10, 0]);

    // A group with --partition commits too.
    t.ok(&["consume", "work", "--group", "g2", "--partition", "0", "--from", "2", "--count", "3"], b"");
    assert_eq!(lag_row(&t.ok(&["groups", "describe", "g2"], b""), "work", 0), [5, 10, 5]);

    t.ok(&["groups", "delete", "g1", "g2"], b"");
    assert!(!t.ok(&["groups", "list"], b"").lines().any(|g| g == "g1"));
    t.fails(&["groups", "describe", "g1"], 1);
}

#[test]
fn groups_embedded() {
    groups(&Target::embedded());
}

#[test]
fn groups_server() {
    groups(&Target::server());
}

#[test]
fn consuming_stops_quietly_when_stdout_closes() {
    let t = Target::server();
    t.ok(&["topics", "create", "many", "-p", "1"], b"");
    t.ok(&["produce", "many"], (0..100).map(|i| format!("line {i}\n")).collect::<String>().as_bytes());
    let mut consume = Command::new(klog_bin())
        .args(t.connect_args())
        .args(["consume", "many", "--from", "beginning"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(consume.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first, "line 0\n");
    // stdout is closed now (like `klog consume ... | head -1`); the next record makes klog
    // notice, and it ends without an error.
    t.ok(&["produce", "many"], b"one more\n");
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = consume.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "klog consume kept running after stdout closed");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

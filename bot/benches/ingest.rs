//! Benchmark: alert ingest through the real HTTP endpoint. Starts the release `opsbot`
//! binary on the example configuration and a fresh SQLite store (or PostgreSQL with
//! `OPSBOT_BENCH_POSTGRES_URL`), then N keep-alive clients POST Alertmanager v4 batches of
//! 100 alerts to `/alerts/alertmanager` (200 alert groups over the catalog's services).
//! Every 2xx means the batch was committed to the store. Reports alerts/s and the p50/p99
//! response time per batch.
//!
//! Three runs: N clients back to back (throughput), then four senders at a steady rate
//! (latency at load; `BENCH_STEADY_BATCHES_PER_SEC`, default 100 batches = 10,000 alerts
//! per second), then alert to automation: the example configuration plus one automation
//! whose runbook's first step is an `http` call to a listener of this bench, at a steady
//! 1,000 alerts/s (`BENCH_AUTOMATION_SECONDS`, default 20) where every batch of 100 opens
//! an incident the automation answers. It reports the time from each batch's POST to the
//! arrival of its run's first step (p50/p99/max, target p99 < 1 s).
//!
//! Run: `cargo bench -p opsbot --bench ingest` (env `BENCH_BATCHES`, `BENCH_CLIENTS`).
//! Reports; asserts only that every batch was accepted (and every automation's first
//! step arrived).

use opsbot_fakes::free_port;
use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const SERVICES: &[&str] = &[
    "wrkhrs-gateway",
    "wrkhrs-rag",
    "wrkhrs-asr",
    "ai-assistant",
    "ollama",
    "alice-backend",
    "ai-orchestration",
];
const GROUPS: usize = 200;
const ALERTS_PER_BATCH: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One Alertmanager v4 notification: group `group`, alerts `first..first+100`.
fn batch(group: usize, first: usize) -> String {
    let service = SERVICES[group % SERVICES.len()];
    let alertname = format!("BenchAlert{group}");
    let alerts: Vec<String> = (first..first + ALERTS_PER_BATCH)
        .map(|i| {
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"{alertname}","service":"{service}","instance":"host-{i}","severity":"warning"}},"annotations":{{"summary":"bench alert {i}"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph","fingerprint":"{i:016x}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"{alertname}\"}}","truncatedAlerts":0,"status":"firing","receiver":"opsbot","groupLabels":{{"alertname":"{alertname}"}},"commonLabels":{{"alertname":"{alertname}","service":"{service}"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","alerts":[{}]}}"#,
        alerts.join(",")
    )
}

/// A minimal HTTP/1.1 keep-alive client: POST and read one response.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Self {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn post(&mut self, path: &str, body: &str) -> u16 {
        write!(
            self.writer,
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((_, value)) = line
                .split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        status
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml")
}

/// Starts the `opsbot` binary on `config` and `database_url`, listening on `port`, and
/// waits until it accepts connections.
fn start_opsbot(config: &Path, database_url: &str, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .arg("serve")
        .arg("-c")
        .arg(config)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opsbot");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "opsbot did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop_opsbot(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `pace`: each client sends its batches this far apart (a steady rate) instead of back
/// to back.
fn run(label: &str, database_url: &str, batches: usize, clients: usize, pace: Option<Duration>) {
    let port = free_port();
    let child = start_opsbot(&example(), database_url, port);
    // Bodies are built before the clock starts: the bench measures opsbot, not JSON text.
    let per_client = batches / clients;
    let bodies: Vec<Vec<String>> = (0..clients)
        .map(|c| {
            (0..per_client)
                .map(|i| {
                    let n = c * per_client + i;
                    batch(n % GROUPS, n * ALERTS_PER_BATCH)
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let threads: Vec<_> = bodies
        .into_iter()
        .map(|bodies| {
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                let mut latencies = Vec::with_capacity(bodies.len());
                let start = Instant::now();
                for (i, body) in bodies.into_iter().enumerate() {
                    if let Some(pace) = pace {
                        let due = start + pace * i as u32;
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    let t = Instant::now();
                    let status = client.post("/alerts/alertmanager", &body);
                    latencies.push(t.elapsed());
                    assert_eq!(status, 200, "a batch was refused");
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let alerts = latencies.len() * ALERTS_PER_BATCH;
    let mode = match pace {
        Some(pace) => format!(
            "{clients} client(s), one batch every {} ms each",
            pace.as_millis()
        ),
        None => format!("{clients} clients back to back"),
    };
    println!(
        "{label:<9} {alerts:>7} alerts in {:>5} batches of {ALERTS_PER_BATCH}, {mode}: {:>7.0} alerts/s  \
         batch p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        latencies.len(),
        alerts as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    stop_opsbot(child);
}

/// The example configuration plus a runbook whose first step calls `step_url` with the
/// alert's name, and an automation that starts it for every `AutoBench*` incident
/// (guardrails wide open: the bench measures the path, not the limits). Its services have
/// no health checks, so nothing is probed after a run.
fn automation_config(step_url: &str) -> String {
    let example = std::fs::read_to_string(example()).expect("the example configuration");
    format!(
        r#"{example}

[[runbooks]]
name = "bench-first-step"
description = "Tell the bench the run started"

[[runbooks.params]]
name = "alert"
type = "string"

[[runbooks.steps]]
kind = "http"
method = "POST"
url = "{step_url}"
body = {{ alert = "{{alert}}" }}

[[automations]]
name = "bench-first-step"
runbook = "bench-first-step"
on = "incident"
alerts = ["AutoBench*"]
services = ["{AUTOMATED_SERVICE}"]
params = {{ alert = "{{alert}}" }}
max_runs = 1000000
window = "1h"
cooldown = "1ms"
"#
    )
}

/// The service the automation run's alerts are about (no health checks in the example).
const AUTOMATED_SERVICE: &str = "alice-frontend";

/// One Alertmanager batch of 100 alerts of its own group `AutoBench{n}` (a new incident).
fn automation_batch(n: usize) -> String {
    let alertname = format!("AutoBench{n}");
    let alerts: Vec<String> = (0..ALERTS_PER_BATCH)
        .map(|i| {
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"{alertname}","service":"{AUTOMATED_SERVICE}","instance":"host-{i}","severity":"critical"}},"annotations":{{"summary":"bench alert"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph","fingerprint":"a{n:07x}{i:08x}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"{alertname}\"}}","truncatedAlerts":0,"status":"firing","receiver":"opsbot","groupLabels":{{"alertname":"{alertname}"}},"commonLabels":{{"alertname":"{alertname}","service":"{AUTOMATED_SERVICE}"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","alerts":[{}]}}"#,
        alerts.join(",")
    )
}

/// When each automation's first step arrived, by the number of its `AutoBench` alert.
type Arrivals = Arc<Mutex<HashMap<usize, Instant>>>;

/// Serves the runbook's `http` step: records when each arrived, answers 200 `{}`.
fn step_listener() -> (String, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/first-step", listener.local_addr().unwrap());
    let arrivals: Arrivals = Arc::default();
    let seen = arrivals.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || serve_steps(stream, &seen));
        }
    });
    (url, arrivals)
}

/// One keep-alive connection of opsbot's HTTP client.
fn serve_steps(stream: TcpStream, seen: &Arrivals) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut first = true;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" && !first {
                break;
            }
            first = false;
            if let Some((_, value)) = line
                .split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let arrived = Instant::now();
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body);
        if let Some(n) = body.split("AutoBench").nth(1).and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        }) {
            seen.lock().unwrap().entry(n).or_insert(arrived);
        }
        let answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Alert POST → the automation's first step, at a steady 1,000 alerts/s.
fn automation(database_url: &str, seconds: usize) {
    let (step_url, arrivals) = step_listener();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    std::fs::write(&config, automation_config(&step_url)).unwrap();
    let port = free_port();
    let child = start_opsbot(&config, database_url, port);
    let batches = seconds * 10;
    let bodies: Vec<String> = (0..batches).map(automation_batch).collect();
    let pace = Duration::from_millis(100);
    let mut client = Client::connect(port);
    let mut posted = Vec::with_capacity(batches);
    let start = Instant::now();
    for (n, body) in bodies.iter().enumerate() {
        let due = start + pace * n as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        posted.push(Instant::now());
        assert_eq!(
            client.post("/alerts/alertmanager", body),
            200,
            "a batch was refused"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().unwrap().len() < batches && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let arrived = arrivals.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = posted
        .iter()
        .enumerate()
        .filter_map(|(n, at)| Some(arrived.get(&n)?.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    assert_eq!(
        latencies.len(),
        batches,
        "every automation's first step arrives (within 60 s of the last alert)"
    );
    println!(
        "automation: {} alerts in {batches} batches at 1,000 alerts/s, one incident and run each: \
         alert POST → first step p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        batches * ALERTS_PER_BATCH,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    stop_opsbot(child);
}

fn main() {
    let batches = env_usize("BENCH_BATCHES", 2_000);
    let clients = env_usize("BENCH_CLIENTS", 8);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
    // Latency at a steady rate: by default 4 senders × 25 batches/s = 10,000 alerts/s.
    let steady = env_usize("BENCH_STEADY_BATCHES_PER_SEC", 100);
    let steady_clients = 4;
    let pace = Duration::from_secs_f64(steady_clients as f64 / steady as f64);
    run("sqlite", &url, batches, clients, None);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
    run("sqlite", &url, steady * 10, steady_clients, Some(pace));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
    automation(&url, env_usize("BENCH_AUTOMATION_SECONDS", 20));
    if let Ok(url) = std::env::var("OPSBOT_BENCH_POSTGRES_URL") {
        println!("(PostgreSQL: the URL must name an empty database; it is migrated and filled)");
        run("postgres", &url, batches, clients, None);
    }
}

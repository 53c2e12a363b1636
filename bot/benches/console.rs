//! Benchmark: one stream of console commands. 2,000 `whoami` lines piped into
//! `opsbot serve --console` (the release binary, the example configuration, a warm SQLite
//! store with the durable audit), timed from the first line written to the last reply
//! read: commands per second. The stream is pipelined (`engine/pipelined.rs`): each
//! command runs after the one before it and each reply is printed in order once its
//! audit record is durable, but the records of consecutive commands share fsyncs.
//!
//! Run: `cargo bench -p opsbot --bench console` (`BENCH_LINES`, `BENCH_RUNS` to change
//! the size). Reports; asserts nothing about time.

use opsbot_fakes::free_port;
use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml")
}

/// What every `whoami` reply says (after its status emoji).
const WHOAMI_REPLY: &str = "You are ";

/// Pipes `lines` `whoami`s into a fresh `opsbot serve --console` on `db`; the time from
/// writing the first line to reading the last reply.
fn stream(db: &Path, lines: usize) -> Duration {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "--console", "-c"])
        .arg(example())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--database-url", &format!("sqlite://{}", db.display())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opsbot");
    let mut stdin = child.stdin.take().unwrap();
    let mut replies = BufReader::new(child.stdout.take().unwrap()).lines();
    // Started: the greeting is printed before the first line is read.
    loop {
        match replies.next() {
            Some(Ok(line)) if line.starts_with("opsbot console:") => break,
            Some(Ok(_)) => continue,
            _ => panic!("opsbot ended before its console started"),
        }
    }
    let script = "whoami\n".repeat(lines);
    let started = Instant::now();
    let writer = std::thread::spawn(move || {
        stdin.write_all(script.as_bytes()).unwrap();
        stdin
    });
    let mut seen = 0;
    while seen < lines {
        match replies.next() {
            Some(Ok(line)) if line.contains(WHOAMI_REPLY) => seen += 1,
            Some(Ok(_)) => continue,
            _ => panic!("opsbot ended after {seen} of {lines} replies"),
        }
    }
    let elapsed = started.elapsed();
    drop(writer.join().unwrap()); // end of input ends the console and opsbot
    let _ = child.wait();
    elapsed
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let lines = env("BENCH_LINES", 2_000);
    let runs = env("BENCH_RUNS", 5);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("console.db");
    // A first, untimed stream creates and migrates the store.
    stream(&db, 10);
    let mut rates: Vec<f64> = (0..runs)
        .map(|_| lines as f64 / stream(&db, lines).as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "console stream of {lines} whoami lines, durable audit: median {:.0} commands/s, \
         min {:.0}, max {:.0} over {runs} runs",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1]
    );
}

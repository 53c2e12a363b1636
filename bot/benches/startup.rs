//! Benchmark: how fast a fresh `opsbot` process answers its first command, and how much
//! memory it holds when idle. Runs the real release binary on the example configuration.
//!
//! - first reply: spawn `opsbot serve --console`, type `help` at once, stop the clock when
//!   the reply arrives on stdout; cold (new SQLite file, migrations run) and warm.
//! - idle RSS: `opsbot serve`, wait for `/healthz`, let it settle, read VmRSS.
//!
//! - start-up order coverage: how many functions of `bot/link/startup.order` (laid out
//!   together by the linker, see `bot/build.rs`) the measured binary has. The file holds
//!   the names of both the `cargo build --release` and the `cargo bench` binaries (their
//!   symbol hashes differ); when this binary has few of them, the file is stale for it
//!   (dependencies changed): run `bot/link/record-startup-order.sh` after this bench.
//!
//! Run: `cargo bench -p opsbot --bench startup`. Reports; asserts nothing about time.

use opsbot_fakes::free_port;
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml")
}

fn first_reply(db: &Path) -> Duration {
    let started = Instant::now();
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
    stdin.write_all(b"help\n").unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let elapsed = loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("Commands you can run") => break started.elapsed(),
            Some(Ok(_)) => continue,
            _ => panic!("opsbot ended without replying"),
        }
    };
    drop(stdin); // end of input ends the console, which shuts opsbot down
    let _ = child.wait();
    elapsed
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn idle_rss(db: &Path) -> (u64, u64) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "-c"])
        .arg(example())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &format!("sqlite://{}", db.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opsbot");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ =
                stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "opsbot did not become ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(3));
    let rss = rss_kib(child.id());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    rss
}

/// How many names of the start-up order file the binary defines (`nm`), if `nm` runs.
fn startup_order_coverage() -> Option<(usize, usize)> {
    let order = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("link/startup.order"),
    )
    .ok()?;
    let listed = Command::new("nm")
        .args(["--defined-only", env!("CARGO_BIN_EXE_opsbot")])
        .output()
        .ok()?;
    let defined: std::collections::HashSet<&str> = std::str::from_utf8(&listed.stdout)
        .ok()?
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .collect();
    let names: Vec<&str> = order.lines().filter(|l| !l.is_empty()).collect();
    let found = names.iter().filter(|n| defined.contains(*n)).count();
    Some((found, names.len()))
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "first reply ({label}): p50 {:.1} ms, max {:.1} ms over {} starts",
        ms(samples[samples.len() / 2]),
        ms(*samples.last().unwrap()),
        samples.len()
    );
}

fn main() {
    let runs: usize = std::env::var("BENCH_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let cold: Vec<Duration> = (0..runs)
        .map(|i| first_reply(&dir.path().join(format!("cold-{i}.db"))))
        .collect();
    summary("cold: new database, migrations run", cold);
    let warm_db = dir.path().join("warm.db");
    first_reply(&warm_db);
    let warm: Vec<Duration> = (0..runs).map(|_| first_reply(&warm_db)).collect();
    summary("warm: existing database", warm);
    let (rss, peak) = idle_rss(&warm_db);
    println!(
        "idle RSS after readiness + 3 s: {:.1} MiB (peak {:.1} MiB)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    match startup_order_coverage() {
        Some((found, listed)) => println!(
            "start-up order: {found} of the {listed} names in bot/link/startup.order are in this binary{}",
            if found < 1500 {
                " (stale for it: run bot/link/record-startup-order.sh, then rebuild)"
            } else {
                ""
            }
        ),
        None => println!("start-up order: not checked (no `nm`)"),
    }
}

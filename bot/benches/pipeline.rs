//! Benchmark: console commands per second through the whole pipeline (parse → RBAC →
//! execute → durable hash-chained audit write with group commit → reply), on the example
//! configuration, against a fresh SQLite store (and PostgreSQL when
//! `OPSBOT_BENCH_POSTGRES_URL` is set).
//!
//! Run: `cargo bench -p opsbot --bench pipeline` (env `BENCH_COMMANDS`, `BENCH_SESSIONS`).
//! Not a test: it asserts nothing about time, it reports.

use std::{path::PathBuf, time::Instant};

use opsbot::{
    app::App,
    audit,
    config::{self, Overrides},
    runtime::RuntimeRouter,
};
use opsbot_commands::{Actor, Invocation, Platform, context::NoProgress};

/// The mix a responder types: cheap reads, a catalog listing, a denial, usage help.
const MIX: &[&str] = &[
    "whoami",
    "services --env prod",
    "help restart",
    "scale ai-orchestration 5",
    "services",
    "helth",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

async fn run(label: &str, database_url: String, commands: usize, sessions: usize) {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml");
    let overrides = Overrides {
        database_url: Some(database_url),
        listen: None,
    };
    let loaded = config::load(&example, &overrides).expect("example config loads");
    let user = loaded.config.console.user.clone();
    let channel = loaded.config.console.channel.clone();
    let app = App::start(&loaded, RuntimeRouter::default())
        .await
        .expect("app starts");

    // Warm up: connections, statement caches.
    for text in MIX {
        let invocation = Invocation::new(
            Actor::new(Platform::Console, user.clone(), "bench"),
            channel.clone(),
            *text,
        );
        app.engine.handle(&invocation, &NoProgress).await;
    }

    let per_session = commands / sessions;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for session in 0..sessions {
        let engine = app.engine.clone();
        let actor = Actor::new(Platform::Console, user.clone(), format!("bench-{session}"));
        let channel = channel.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_session);
            for i in 0..per_session {
                let text = MIX[(session + i) % MIX.len()];
                let invocation = Invocation::new(actor.clone(), channel.clone(), text);
                let t = Instant::now();
                let reply = engine.handle(&invocation, &NoProgress).await;
                latencies.push(t.elapsed().as_micros() as u64);
                assert!(!reply.title.is_empty());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(commands);
    for task in tasks {
        latencies.extend(task.await.expect("session task"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let done = latencies.len();
    let rate = done as f64 / elapsed.as_secs_f64();
    let report = audit::verify(&app.store).await.expect("verify runs");
    println!(
        "{label:<10} {done:>7} commands, {sessions:>3} sessions: {rate:>9.0} commands/s  \
         latency p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  | audit chain: {} entries, {}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        report.checked,
        if report.problem.is_none() {
            "valid"
        } else {
            "BROKEN"
        },
    );
    let metrics = app.metrics.encode();
    let written = metrics
        .lines()
        .find(|l| l.starts_with("opsbot_audit_writes_total"))
        .unwrap_or("opsbot_audit_writes_total ?")
        .to_string();
    println!("{label:<10} {written}");
    app.shutdown().await;
}

fn main() {
    let commands = env_usize("BENCH_COMMANDS", 200_000);
    let sessions = env_usize("BENCH_SESSIONS", 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        run("sqlite", url, commands, sessions).await;
        if let Ok(base) = std::env::var("OPSBOT_BENCH_POSTGRES_URL") {
            let (store, scratch) = opsbot::store::scratch::scratch_postgres(&base)
                .await
                .expect("scratch PostgreSQL database");
            store.close().await;
            run("postgres", scratch.url().to_string(), commands, sessions).await;
            let _ = scratch.drop_database().await;
        }
    });
}

//! Benchmark: the web console's pages on a big store (issue 16). A fresh SQLite store is
//! filled with 10,000 incidents (5% open, 5% acknowledged, the rest resolved, over 20
//! services and a year) and 1,000,000 audit entries (50 actors, 20 services, 6 commands,
//! one in ten denied, over a year); then opsbot starts on it with `[web]` on, a lead signs
//! in through a link the console `web` command issued, and the app's router (in process,
//! so the time is the server's) answers:
//!
//! - the incidents page unfiltered, and filtered by service and status;
//! - audit searches: by actor + decision + since 30d, by service + command (in the page's
//!   default window of 30 days, and over all history), by a decision no entry has (the
//!   worst case: nothing matches, so only the window stops the scan).
//!
//! Reports p50/p99/max per page over `BENCH_REQUESTS` (default 200) requests each; the
//! issue's target is p99 < 100 ms. Run: `cargo bench -p opsbot --bench web`. Asserts only
//! that every page answered 200.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use opsbot::{
    app::App,
    config::{self, LoadedConfig},
    runtime::RuntimeRouter,
    server,
    store::Store,
};
use opsbot_commands::{Actor, Catalog, Invocation, Platform, context::NoProgress};
use opsbot_fakes::{HealthyProber, RecordingRuntime};
use tower::ServiceExt as _;

const INCIDENTS: i64 = 10_000;
const AUDIT_ROWS: i64 = 1_000_000;
const YEAR_US: i64 = 365 * 24 * 3600 * 1_000_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config_text() -> String {
    let mut text = String::from(
        "[web]\npublic_url = \"https://opsbot.example.com\"\n\n\
         [roles.lead]\nallow = [{ commands = [\"incident\", \"audit\"] }]\n\n\
         [[bindings]]\nrole = \"lead\"\nsubjects = [\"console:lead\"]\n",
    );
    for s in 0..20 {
        text.push_str(&format!(
            "\n[[services]]\nname = \"svc{s}\"\nenvironment = \"prod\"\n\
             target = {{ kind = \"kubernetes\", namespace = \"ns\", deployment = \"svc{s}\" }}\n"
        ));
    }
    text
}

/// Fills the store with generated rows (SQL, in one transaction each).
async fn fill(store: &Store, now_us: i64) {
    let start = Instant::now();
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO incidents (id, key, group_key, source, service, environment, title, \
         severity, status, opened_at_us, acknowledged_by, changed_at_us) \
         SELECT i, 'k' || i, 'g' || i, 'alertmanager', 'svc' || (i % 20), 'prod', \
         'Alert ' || i || ' fires', CASE WHEN i % 3 = 0 THEN 'critical' ELSE 'warning' END, \
         CASE WHEN i % 20 = 0 THEN 'open' WHEN i % 20 = 1 THEN 'acknowledged' ELSE 'resolved' END, \
         $2 - ($3 - i) * ($4 / $3), CASE WHEN i % 20 = 1 THEN 'lead' END, $2 FROM n",
    )
    .bind(INCIDENTS)
    .bind(now_us)
    .bind(INCIDENTS)
    .bind(YEAR_US)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO audit_log (seq, at_us, request_id, platform, actor_id, actor_name, \
         channel, text, command, service, environment, decision, reason, outcome, summary, \
         duration_ms, prev_hash, hash) \
         SELECT i, $2 - ($3 - i) * ($4 / $3), 'r' || i, 'slack', 'U' || (i % 50), \
         'user' || (i % 50), 'C0OPS', 'health svc' || (i % 20), \
         CASE i % 6 WHEN 0 THEN 'restart' WHEN 1 THEN 'health' WHEN 2 THEN 'logs' \
         WHEN 3 THEN 'incident' WHEN 4 THEN 'cost' ELSE 'rollback' END, \
         'svc' || (i % 20), 'prod', CASE WHEN i % 10 = 0 THEN 'denied' ELSE 'allowed' END, \
         '', 'ok', 'done', 12, 'h', 'h' FROM n",
    )
    .bind(AUDIT_ROWS)
    .bind(now_us)
    .bind(AUDIT_ROWS)
    .bind(YEAR_US)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_head SET seq = $1, hash = 'h' WHERE id = 1")
        .bind(AUDIT_ROWS)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    println!(
        "filled {INCIDENTS} incidents and {AUDIT_ROWS} audit entries in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let requests = env_usize("BENCH_REQUESTS", 200);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("web.db").display());
    let now_us = jiff::Timestamp::now().as_microsecond();
    {
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        fill(&store, now_us).await;
        store.close().await;
    }
    let mut config = config::parse(&config_text(), "bench.toml", &|_| None).unwrap();
    config.store.url = url;
    let catalog = Catalog::new(config.services.clone()).unwrap();
    let recording = Arc::new(RecordingRuntime::default());
    let loaded = LoadedConfig {
        config: config.clone(),
        catalog,
        source: "bench.toml".into(),
    };
    let router = RuntimeRouter {
        kubernetes: Some(recording.clone()),
        compose: Some(recording.clone()),
        systemd: Some(recording),
    };
    let app = App::start_with_prober(&loaded, router, Arc::new(HealthyProber))
        .await
        .unwrap();
    let router = server::router(app.server_state(&config));

    // Sign in as the lead through a link from the console.
    let lead = Actor::new(Platform::Console, "lead", "lead");
    let reply = app
        .engine
        .handle(&Invocation::new(lead, "console", "web"), &NoProgress)
        .await;
    let token = reply.lines[0].rsplit('/').next().unwrap().to_string();
    let response = router
        .clone()
        .oneshot(
            Request::post("/ui/signin")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("token={token}")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let pages = [
        ("incidents", "/ui/incidents".to_string()),
        (
            "incidents svc7 resolved",
            "/ui/incidents?service=svc7&status=resolved".to_string(),
        ),
        (
            "audit actor+decision+since 30d",
            "/ui/audit?actor=U10&decision=denied&since=30d".to_string(),
        ),
        (
            "audit service+command (default window, 30d)",
            "/ui/audit?service=svc3&command=restart".to_string(),
        ),
        (
            "audit nothing matches, 30d",
            "/ui/audit?decision=expired&since=30d".to_string(),
        ),
        (
            "audit service+command, all history",
            "/ui/audit?service=svc3&command=restart&since=all".to_string(),
        ),
    ];
    println!("{requests} requests per page, server time (in-process router):");
    println!("| page | p50 | p99 | max | rows |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, path) in &pages {
        let mut times = Vec::with_capacity(requests);
        let mut rows = 0;
        for _ in 0..requests {
            let request = Request::get(path.as_str())
                .header(header::COOKIE, cookie.as_str())
                .body(Body::empty())
                .unwrap();
            let started = Instant::now();
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            times.push(started.elapsed());
            assert_eq!(
                status,
                StatusCode::OK,
                "{path}: {}",
                String::from_utf8_lossy(&body)
            );
            rows = String::from_utf8_lossy(&body).matches("<tr>").count();
        }
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {name} | {} | {} | {} | {rows} |",
            ms(percentile(&times, 0.50)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap()),
        );
    }
    app.shutdown().await;
}

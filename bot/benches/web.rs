//! Benchmark: the web console's pages on a big store (issue 16). A fresh SQLite store is
//! filled with 10,000 incidents (5% open, 5% acknowledged, the rest resolved, over 20
//! services, each with open ones, and a year) and 1,000,000 audit entries (50 actors, 20 services, one in ten
//! denied, over a year; commands `restart`, `health`, `logs`, `incident`, `cost`,
//! `rollback` and `scale`, so that every service has `health`, `cost`, `rollback` and
//! `scale` entries and the even-numbered ones `restart` too; `svc3` has no `restart`,
//! which the audit search below relies on), and `svc4` gets three revisions known good;
//! then opsbot starts on it with `[web]` on, a lead (who may run `incident`, `audit`,
//! `services`, `cost` and `rollback`, so the services pages show everything) signs in
//! through a link the console `web` command issued, and the app's router (in process, so
//! the time is the server's) answers:
//!
//! - the incidents page unfiltered, and filtered by service and status;
//! - audit searches: by actor + decision + since 30d, by service + command (in the page's
//!   default window of 30 days, and over all history), by a decision no entry has (the
//!   worst case: nothing matches, so only the window stops the scan); `svc3` + `restart`
//!   matches nothing either;
//! - the services page (`/ui/services`: every service's newest `health` and `cost` entry,
//!   its budget and open incidents) and one service's page (`/ui/services/svc4`: its
//!   newest `health` and `cost`, rollout history and revisions known good), each in the
//!   default window of 30 days and with `since=all`.
//!
//! Before timing, each services page is fetched once and checked for what it must show
//! (svc4's health and cost results, budget, rollouts, approver, revisions known good).
//! Reports p50/p99/max per page over `BENCH_REQUESTS` (default 200) requests each; the
//! issue's target is p99 < 100 ms. Run: `cargo bench -p opsbot --bench web`. Asserts
//! only that every page answered 200 (and the content check above), not timings.

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

/// The service whose page is timed (even-numbered: it has `restart` entries too).
const SERVICE: &str = "svc4";

/// 20 services with a budget (no cost source: the pages read `cost` results from the
/// audit log; budget alerts off), and the lead, who may run what the pages need.
fn config_text() -> String {
    let mut text = String::from(
        "[web]\npublic_url = \"https://opsbot.example.com\"\n\n\
         [cost]\nbudget_check_interval = \"0s\"\n\n\
         [roles.lead]\nallow = [{ commands = [\"incident\", \"audit\", \"services\", \"cost\", \"rollback\"] }]\n\n\
         [[bindings]]\nrole = \"lead\"\nsubjects = [\"console:lead\"]\n",
    );
    for s in 0..20 {
        text.push_str(&format!(
            "\n[[services]]\nname = \"svc{s}\"\nenvironment = \"prod\"\n\
             target = {{ kind = \"kubernetes\", namespace = \"ns\", deployment = \"svc{s}\" }}\n\
             budget = {{ monthly = 100, daily = 5 }}\n"
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
         CASE (i / 20) % 20 WHEN 0 THEN 'open' WHEN 1 THEN 'acknowledged' ELSE 'resolved' END, \
         $2 - ($3 - i) * ($4 / $3), CASE WHEN (i / 20) % 20 = 1 THEN 'lead' END, $2 FROM n",
    )
    .bind(INCIDENTS)
    .bind(now_us)
    .bind(INCIDENTS)
    .bind(YEAR_US)
    .execute(&mut *tx)
    .await
    .unwrap();
    // The service is `i % 20`; the command `i % 6`, except that slots 2 and 3 are split by
    // `i / 60` (free of both) so that every service gets `health`, `cost`, `rollback` and
    // `scale` (the commands in slots 0, 2 and 4 only ever fall on even services, 1, 3 and
    // 5 on odd ones: `svc3` keeps no `restart`). One `rollback` in five lists the history
    // (`--list`, which the rollout history leaves out); allowed `scale`s name an approver.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1), \
         g(i, command) AS (SELECT i, CASE i % 6 WHEN 0 THEN 'restart' WHEN 1 THEN 'health' \
         WHEN 2 THEN CASE (i / 60) % 4 WHEN 0 THEN 'logs' WHEN 1 THEN 'health' \
         WHEN 2 THEN 'scale' ELSE 'rollback' END \
         WHEN 3 THEN CASE (i / 60) % 3 WHEN 0 THEN 'incident' WHEN 1 THEN 'cost' ELSE 'scale' END \
         WHEN 4 THEN 'cost' ELSE 'rollback' END FROM n) \
         INSERT INTO audit_log (seq, at_us, request_id, platform, actor_id, actor_name, \
         channel, text, command, service, environment, decision, reason, approver, outcome, \
         summary, duration_ms, prev_hash, hash) \
         SELECT i, $2 - ($3 - i) * ($4 / $3), 'r' || i, 'slack', 'U' || (i % 50), \
         'user' || (i % 50), 'C0OPS', command || ' svc' || (i % 20) || CASE command \
         WHEN 'scale' THEN ' 3' WHEN 'rollback' THEN CASE WHEN (i / 60) % 5 = 0 \
         THEN ' --list' ELSE '' END ELSE '' END, \
         command, 'svc' || (i % 20), 'prod', CASE WHEN i % 10 = 0 THEN 'denied' ELSE 'allowed' END, \
         '', CASE WHEN command = 'scale' AND i % 10 <> 0 THEN 'console:lead2' END, 'ok', \
         command || ' svc' || (i % 20) || ': done', 12, 'h', 'h' FROM g",
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
    // Revisions of svc4 that passed the health gate 5, 4 and 3 days ago.
    for revision in [5_i64, 6, 7] {
        sqlx::query(
            "INSERT INTO known_good_revisions (service, environment, revision_id, revision, \
             images, passed_at_us, passed_by) VALUES ($1, 'prod', $2, $3, $4, $5, 'lead')",
        )
        .bind(SERVICE)
        .bind(format!("{SERVICE}-{revision}d9f"))
        .bind(revision)
        .bind(format!("registry.example/{SERVICE}:1.{revision}"))
        .bind(now_us - (10 - revision) * 24 * 3600 * 1_000_000)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    println!(
        "filled {INCIDENTS} incidents and {AUDIT_ROWS} audit entries in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// One page as the lead sees it: its status and body.
async fn get(router: &axum::Router, cookie: &str, path: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The part of `page` from the element with `id` to the first closing tag of `end` after
/// it.
fn element<'a>(page: &'a str, id: &str, end: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[start..];
    let stop = rest
        .find(&format!("</{end}>"))
        .unwrap_or_else(|| panic!("#{id} has no </{end}>: {rest}"));
    &rest[..stop]
}

/// Before timing: the services pages answer 200 and show what the generated rows hold for
/// svc4 (in the default window and over all history), so the times are those of pages
/// with their full content.
async fn check_services_pages(router: &axum::Router, cookie: &str) {
    let health = format!("health {SERVICE}: done");
    let cost = format!("cost {SERVICE}: done");
    let budget = "$100.00 a month, $5.00 a day (warn at 80%, critical at 95%)";
    for since in ["", "?since=all"] {
        let path = format!("/ui/services{since}");
        let (status, list) = get(router, cookie, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {list}");
        let row = element(&list, &format!("service-{SERVICE}"), "tr");
        for part in [
            format!("href=\"/ui/services/{SERVICE}\""),
            health.clone(),
            cost.clone(),
            budget.to_string(),
            format!("href=\"/ui/incidents?service={SERVICE}\""),
        ] {
            assert!(row.contains(&part), "{path}: no {part} in {row}");
        }
        assert!(!row.contains("none in"), "{path}: {row}");
        assert_eq!(
            list.matches("<tr id=\"service-").count(),
            20,
            "{path}: {list}"
        );

        let path = format!("/ui/services/{SERVICE}{since}");
        let (status, page) = get(router, cookie, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(
            element(&page, "last-health", "div").contains(&health),
            "{path}: {page}"
        );
        assert!(
            element(&page, "budget", "div").contains(budget) && page.contains(&cost),
            "{path}: {page}"
        );
        assert!(
            element(&page, "open-incidents", "td")
                .contains(&format!("href=\"/ui/incidents?service={SERVICE}\"")),
            "{path}: {page}"
        );
        let rollouts = element(&page, "rollouts", "table");
        for part in [
            format!("<code>restart {SERVICE}</code>"),
            format!("<code>rollback {SERVICE}</code>"),
            format!("<code>scale {SERVICE} 3</code>"),
            "approved by console:lead2".to_string(),
        ] {
            assert!(rollouts.contains(&part), "{path}: no {part} in {rollouts}");
        }
        assert!(!rollouts.contains("--list"), "{path}: {rollouts}");
        assert!(page.contains("The newest 50 shown"), "{path}: {page}");
        let known_good = element(&page, "known-good", "table");
        assert!(
            known_good.contains(&format!("<code>{SERVICE}-7d9f</code>"))
                && known_good.contains(&format!("registry.example/{SERVICE}:1.7")),
            "{path}: {known_good}"
        );
    }
    println!(
        "services pages checked: {SERVICE}'s health, cost, budget, rollouts, known-good revisions"
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
    let router = RuntimeRouter::every_kind(recording);
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
        ("services (default window, 30d)", "/ui/services".to_string()),
        (
            "services, all history",
            "/ui/services?since=all".to_string(),
        ),
        (
            "service svc4 (default window, 30d)",
            format!("/ui/services/{SERVICE}"),
        ),
        (
            "service svc4, all history",
            format!("/ui/services/{SERVICE}?since=all"),
        ),
    ];
    check_services_pages(&router, &cookie).await;
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
            let body = String::from_utf8_lossy(&body);
            rows = body.matches("<tr>").count() + body.matches("<tr ").count();
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

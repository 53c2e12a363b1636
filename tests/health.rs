//! Operating the services end to end: opsbot started on a configuration whose services
//! point at local fake health endpoints and a fake Prometheus, driven from the console.
//! `health` (overview, detail, the concurrency bound), `logs` (redaction, truncation,
//! counts), `rollback --list` (read-only: no confirmation) and the health gate after a
//! restart. Runs on SQLite; the store plays no part in what is tested here.

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::Query, http::StatusCode, routing::get};
use opsbot_commands::{Status, context::LogChunk};
mod support;
use serde_json::{Value, json};
use support::{Backend, Probes, TestBot, request_id};

/// A fake Prometheus `/api/v1/query`, answering by query text.
async fn prometheus(Query(params): Query<HashMap<String, String>>) -> (StatusCode, Json<Value>) {
    let value = |v: &str| {
        json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"metric": {"job": "x"}, "value": [1_700_000_000.0, v]}]}})
    };
    match params.get("query").map(String::as_str) {
        Some("latency_ok") => (StatusCode::OK, Json(value("12"))),
        Some("error_rate_critical") => (StatusCode::OK, Json(value("7.5"))),
        Some("absent") => (
            StatusCode::OK,
            Json(json!({"status": "success", "data": {"resultType": "vector", "result": []}})),
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data", "error": "parse error"})),
        ),
    }
}

/// Health endpoints as the runbooks curl them, and the fake Prometheus.
async fn fake_servers() -> SocketAddr {
    let app = Router::new()
        .route(
            "/api/health",
            get(|| async { Json(json!({"status": "healthy"})) }),
        )
        .route(
            "/degraded",
            get(|| async { Json(json!({"status": "degraded"})) }),
        )
        .route(
            "/api/tags",
            get(|| async {
                Json(json!({"models": [{"name": "llama3:8b"}, {"name": "gpt-oss:20b"}]}))
            }),
        )
        .route(
            "/sleep1",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                "OK"
            }),
        )
        .route("/api/v1/query", get(prometheus));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

const ACCESS: &str = r#"
[roles.viewer]
allow = [{ commands = ["help", "whoami", "services", "health", "confirm", "cancel"] }]

[roles.operator]
inherits = ["viewer"]
allow = [{ commands = ["logs", "restart", "rollback", "audit"] }]

[[bindings]]
role = "operator"
subjects = ["console:operator"]

[[bindings]]
role = "viewer"
subjects = ["console:viewer"]
"#;

/// Five systems in miniature: healthy, Ollama-style, degraded Kubernetes, down, no data.
fn config(addr: SocketAddr, closed: u16) -> String {
    format!(
        r#"
[[services]]
name = "alice-backend"
environment = "prod"
target = {{ kind = "compose", project = "alice", service = "alice-backend" }}

[[services.health]]
kind = "http"
url = "http://{addr}/api/health"
expect_json = [{{ path = "status", equals = "healthy" }}]

[[services.health]]
kind = "prometheus"
name = "intent routing latency p95"
url = "http://{addr}"
query = "latency_ok"
warn = 50
critical = 100
unit = "ms"

[[services]]
name = "alice-local-ai"
environment = "prod"
target = {{ kind = "compose", project = "alice", service = "local-ai" }}
health = [{{ kind = "http", name = "gpt-oss:20b loaded", url = "http://{addr}/api/tags", expect_json = [{{ path = "models[].name", contains = "gpt-oss:20b" }}] }}]

[[services]]
name = "ai-orchestration"
environment = "prod"
target = {{ kind = "kubernetes", namespace = "userwhisperer-prod", deployment = "ai-orchestration" }}

[[services.health]]
kind = "http"
name = "health endpoint"
url = "http://{addr}/degraded"
expect_json = [{{ path = "status", equals = "healthy" }}]

[[services.health]]
kind = "prometheus"
name = "error rate"
url = "http://{addr}"
query = "error_rate_critical"
warn = 0.1
critical = 1
unit = "%"

[[services]]
name = "ollama"
environment = "prod"
target = {{ kind = "systemd", unit = "ollama.service" }}
health = [{{ kind = "http", name = "ollama version", url = "http://127.0.0.1:{closed}/api/version" }}]

[[services]]
name = "wrkhrs-rag"
environment = "staging"
target = {{ kind = "compose", project = "wrkhrs", service = "wrkhrs-rag" }}
health = [{{ kind = "prometheus", name = "5xx rate", url = "http://{addr}", query = "absent", warn = 0.1, critical = 1 }}]

[[services]]
name = "wrkhrs-postgres"
environment = "prod"
target = {{ kind = "compose", project = "wrkhrs", service = "postgres" }}
{ACCESS}"#
    )
}

async fn start(config: &str, test: &str) -> TestBot {
    TestBot::start_with(Backend::Sqlite, config, test, Probes::Http)
        .await
        .expect("SQLite always runs")
}

fn commands(reply: &opsbot_commands::Reply) -> Vec<&str> {
    reply.buttons.iter().map(|b| b.command.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_overview_and_detail() {
    let addr = fake_servers().await;
    let bot = start(&config(addr, closed_port().await), "health_overview").await;

    let reply = bot.say("viewer", "health").await;
    let text = reply.to_plain_text();
    assert_eq!(reply.status, Status::Danger, "{text}");
    assert_eq!(
        reply.title, "Health of 5 services: 2 critical, 1 warning, 2 healthy",
        "{text}"
    );
    assert!(
        reply.lines[0].starts_with(
            "❌ `ai-orchestration` — health endpoint: `status` is \"degraded\", expected \"healthy\""
        ) && reply.lines[0].ends_with("(+1 more)"),
        "{text}"
    );
    assert_eq!(
        reply.lines[1],
        "❌ `ollama` — ollama version: connection refused"
    );
    assert!(
        reply.lines[2].starts_with("⚠️ `wrkhrs-rag` — 5xx rate: no data"),
        "{text}"
    );
    assert_eq!(reply.lines[3], "✅ `alice-backend` — 2 checks ok");
    assert_eq!(reply.lines[4], "✅ `alice-local-ai` — 1 check ok");
    assert_eq!(reply.lines[5], "▫️ no health checks: wrkhrs-postgres");
    assert!(
        commands(&reply).starts_with(&[
            "restart ai-orchestration",
            "logs ai-orchestration",
            "restart ollama"
        ]),
        "{text}"
    );

    let staging = bot.say("viewer", "health --env staging").await;
    assert_eq!(
        staging.status,
        Status::Warning,
        "{}",
        staging.to_plain_text()
    );

    let healthy = bot.say("viewer", "health alice-local-ai").await;
    let text = healthy.to_plain_text();
    assert_eq!(healthy.status, Status::Success, "{text}");
    assert_eq!(healthy.title, "alice-local-ai is healthy");
    assert!(
        healthy.lines[0].starts_with("✅ gpt-oss:20b loaded — 200 in "),
        "{text}"
    );
    assert!(healthy.buttons.is_empty(), "{text}");

    let down = bot.say("viewer", "health ollama").await;
    let text = down.to_plain_text();
    assert_eq!(down.status, Status::Danger, "{text}");
    assert_eq!(down.lines[0], "❌ ollama version — connection refused");
    assert!(text.contains("runtime — not inspected"), "{text}");
    assert_eq!(
        commands(&down),
        ["restart ollama", "logs ollama", "health ollama"]
    );

    let detail = bot.say("viewer", "health ai-orchestration").await;
    let text = detail.to_plain_text();
    assert!(
        text.contains("❌ error rate — 7.5% ≥ 1% (critical)"),
        "{text}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_slow_services_answer_within_one_timeout() {
    let addr = fake_servers().await;
    let mut config = String::new();
    for i in 0..50 {
        config.push_str(&format!(
            "[[services]]\nname = \"svc-{i:02}\"\nenvironment = \"prod\"\nhealth = [{{ kind = \"http\", url = \"http://{addr}/sleep1\", expect_body = \"OK\" }}]\n\n"
        ));
    }
    config.push_str(ACCESS);
    let bot = start(&config, "fifty_slow").await;
    let started = Instant::now();
    let reply = bot.say("viewer", "health").await;
    let took = started.elapsed();
    assert_eq!(
        reply.title,
        "Health of 50 services: 50 healthy",
        "{}",
        reply.to_plain_text()
    );
    // Fifty one-second checks, one after another, would take 50 s.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_redacted_cut_and_counted() {
    let addr = fake_servers().await;
    let bot = start(&config(addr, closed_port().await), "logs").await;
    let mut lines: Vec<String> = (0..400)
        .map(|i| {
            format!(
                "2025-06-01T10:{:02}:00Z INFO request {i:04} served in 42 ms",
                i % 60
            )
        })
        .collect();
    lines.push("2025-06-01T11:00:00Z WARN upstream slow".into());
    lines.push(
        "2025-06-01T11:00:01Z ERROR OpenAI call failed: Authorization: Bearer sk-live0123456789abcdefXYZ"
            .into(),
    );
    lines
        .push("2025-06-01T11:00:02Z ERROR db connect postgres://app:hunter2@db/prod failed".into());
    bot.runtime.set_logs(vec![LogChunk {
        source: "alice-backend-1".into(),
        lines,
    }]);

    let reply = bot
        .say("operator", "logs alice-backend --since 1h --tail 1000")
        .await;
    let text = reply.to_plain_text();
    assert_eq!(reply.status, Status::Info, "{text}");
    assert_eq!(
        reply.title,
        "Logs of alice-backend: 403 lines in the last 1h"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("sk-live0123456789"), "{text}");
    assert!(text.contains("Authorization: [redacted]"), "{text}");
    assert!(text.contains("postgres://app:[redacted]@db/prod"), "{text}");
    assert!(text.contains("🔒 2 secrets redacted"), "{text}");
    assert!(
        text.contains("ERROR lines: 2") && text.contains("WARN lines: 1"),
        "{text}"
    );
    let cut = reply
        .lines
        .iter()
        .find(|l| l.starts_with("✂️"))
        .unwrap_or_else(|| panic!("says what was cut: {text}"));
    assert!(cut.contains("older lines not shown"), "{cut}");
    let body: usize = reply.lines.iter().map(|l| l.chars().count() + 1).sum();
    assert!(body < 4_000, "{body} characters");
    let query = bot.runtime.log_queries.lock().unwrap()[0].clone();
    assert_eq!(
        (query.tail, query.since),
        (1000, Some(Duration::from_secs(3600)))
    );

    let errors = bot.say("operator", "logs alice-backend --grep ERROR").await;
    assert_eq!(
        errors.title,
        "Logs of alice-backend: 2 lines matching `ERROR`"
    );
    assert!(errors.to_plain_text().contains("Matching `ERROR`: 2"));

    let denied = bot.say("viewer", "logs alice-backend").await;
    assert_eq!(denied.title, "Not allowed", "{}", denied.to_plain_text());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_list_reads_without_confirmation() {
    let addr = fake_servers().await;
    let bot = start(&config(addr, closed_port().await), "rollback_list").await;

    let reply = bot
        .say("operator", "rollback ai-orchestration --list")
        .await;
    let text = reply.to_plain_text();
    assert_eq!(reply.status, Status::Info, "{text}");
    assert_eq!(reply.title, "Revisions of ai-orchestration (newest first)");
    assert!(
        reply.lines[0].starts_with("▶ #2 (current) — `registry.example/ai-orchestration:1.2`"),
        "{text}"
    );
    assert!(reply.lines[1].contains("deploy 1.1"), "{text}");
    assert_eq!(commands(&reply), ["rollback ai-orchestration --to 1"]);
    assert!(bot.runtime.actions().is_empty(), "nothing was rolled back");

    let audit = bot.say("operator", "audit --command rollback").await;
    assert!(
        audit
            .to_plain_text()
            .contains("`rollback ai-orchestration --list` → allowed / ok"),
        "{}",
        audit.to_plain_text()
    );

    let compose = bot.say("operator", "rollback alice-backend --list").await;
    assert!(
        compose
            .to_plain_text()
            .contains("keeps no revision history"),
        "{}",
        compose.to_plain_text()
    );

    // RBAC still applies: it is the `rollback` command.
    let denied = bot.say("viewer", "rollback ai-orchestration --list").await;
    assert_eq!(denied.title, "Not allowed");

    // Without --list it is destructive as ever.
    let asked = bot.say("operator", "rollback ai-orchestration").await;
    assert!(
        asked.title.starts_with("Confirm"),
        "{}",
        asked.to_plain_text()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_gate_after_restart() {
    let addr = fake_servers().await;
    let bot = start(&config(addr, closed_port().await), "health_gate").await;

    let asked = bot.say("operator", "restart ai-orchestration").await;
    let done = bot
        .say("operator", &format!("confirm {}", request_id(&asked)))
        .await;
    let text = done.to_plain_text();
    assert_eq!(bot.runtime.actions(), vec!["restart ai-orchestration"]);
    assert_eq!(done.status, Status::Warning, "{text}");
    assert!(
        done.title.ends_with("ai-orchestration is unhealthy"),
        "{text}"
    );
    assert!(text.contains("2 critical checks"), "{text}");
    assert!(
        text.contains("❌ health endpoint — `status` is \"degraded\""),
        "{text}"
    );
    assert_eq!(
        commands(&done),
        [
            "rollback ai-orchestration",
            "logs ai-orchestration",
            "health ai-orchestration"
        ]
    );

    let asked = bot.say("operator", "restart alice-backend").await;
    let done = bot
        .say("operator", &format!("confirm {}", request_id(&asked)))
        .await;
    let text = done.to_plain_text();
    assert_eq!(done.status, Status::Success, "{text}");
    assert!(
        text.contains("health after the restart: all 2 checks pass"),
        "{text}"
    );
    assert!(done.buttons.is_empty(), "{text}");
    bot.stop().await;
}

//! Benchmark: what opsbot adds around the model in an investigation (issue 17). Critical
//! `OllamaDown` alerts arrive through the real `/alerts/alertmanager` endpoint; each
//! opens an incident that `[investigator] auto` investigates by itself as
//! `automation:investigator`. The model is the fake OpenAI-compatible endpoint of
//! `opsbot-fakes` with zero latency, scripted per incident: two rounds of tool calls
//! (`health`, then `logs`), then a streamed answer. Chat is an in-process Slack sink
//! without a rate limit that timestamps every post and edit.
//!
//! Reports, per incident (p50/p99/max):
//! * incident opening → first streamed words of the answer in chat (the living
//!   message's first edit that shows the model's text), evidence gathering included;
//! * opsbot's time per tool round: from one request to the endpoint to the next, with
//!   a model that answers at once, i.e. running the tool calls through the engine (RBAC,
//!   the command, the audit record), redacting, and asking again. Target: < 50 ms.
//!
//! Run: `cargo bench -p opsbot --bench investigator` (env `BENCH_INCIDENTS`, default 30).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::{body::Body, http::Request};
use opsbot::{
    app::App,
    config::{self, LoadedConfig},
    outbox::{ChatSink, DeliveryError, MessageRef},
    runtime::RuntimeRouter,
    server,
};
use opsbot_commands::{Catalog, Platform, Reply};
use opsbot_fakes::{
    HealthyProber, RecordingRuntime,
    openai::{FakeOpenAi, Scripted},
};
use serde_json::json;
use tower::ServiceExt as _;

/// What the answer starts with: its first streamed words.
const FIRST_WORDS: &str = "WHAT IS WRONG";

/// Every call, timestamped: `(at, text of the reply)`.
#[derive(Default)]
struct TimedSlack {
    calls: Mutex<Vec<(Instant, String)>>,
    next: Mutex<u64>,
}

#[async_trait]
impl ChatSink for TimedSlack {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn rate_limited(&self) -> bool {
        false
    }

    async fn post(
        &self,
        _channel: &str,
        _thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        self.calls
            .lock()
            .unwrap()
            .push((Instant::now(), reply.to_plain_text()));
        let mut next = self.next.lock().unwrap();
        *next += 1;
        Ok(MessageRef(format!("1700000000.{:06}", *next)))
    }

    async fn edit(
        &self,
        _channel: &str,
        _message: &MessageRef,
        reply: &Reply,
    ) -> Result<(), DeliveryError> {
        self.calls
            .lock()
            .unwrap()
            .push((Instant::now(), reply.to_plain_text()));
        Ok(())
    }
}

fn config_text(model_url: &str) -> String {
    format!(
        r##"
[outbox]
channel_rate = 0
poll_interval = "20ms"

[outbox.storm]
horizon = "off"

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[investigator]
base_url = "{model_url}"
model = "llama3.1:8b"
edit_interval = "20ms"
auto = ["critical"]

[[services]]
name = "ollama"
environment = "prod"
channels = {{ slack = "#aiops-alerts" }}
target = {{ kind = "kubernetes", namespace = "aiops", deployment = "ollama" }}
health = [{{ kind = "http", name = "api", url = "http://ollama.invalid:11434/api/version" }}]

[roles.investigator]
allow = [{{ commands = ["incident", "health", "logs", "cost"] }}]

[[bindings]]
role = "investigator"
subjects = ["automation:investigator"]
"##
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(name: &str, mut values: Vec<Duration>) {
    values.sort();
    println!(
        "{name}: n={} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        values.len(),
        percentile(&values, 0.5).as_secs_f64() * 1e3,
        percentile(&values, 0.99).as_secs_f64() * 1e3,
        values.last().unwrap().as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let incidents: usize = std::env::var("BENCH_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let model = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config::parse(&config_text(&model.base_url()), "bench.toml", &|_| None)
        .expect("bench config is valid");
    config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
    let catalog = Catalog::new(config.services.clone()).unwrap();
    let runtime = Arc::new(RecordingRuntime::default());
    let router = RuntimeRouter::every_kind(runtime);
    let loaded = LoadedConfig {
        config,
        catalog,
        source: "bench.toml".into(),
    };
    let slack = Arc::new(TimedSlack::default());
    let app = App::start_with_sinks(
        &loaded,
        router,
        Arc::new(HealthyProber),
        vec![slack.clone()],
    )
    .await
    .expect("opsbot starts");
    let http = server::router(app.server_state(&loaded.config));
    let mut first_words = Vec::new();
    let mut rounds = Vec::new();
    for n in 0..incidents {
        model.script([
            Scripted::ToolCalls(vec![("health".into(), json!({"service": "ollama"}).to_string())]),
            Scripted::ToolCalls(vec![("logs".into(), json!({"service": "ollama"}).to_string())]),
            Scripted::Answer(format!(
                "{FIRST_WORDS}: ollama {n} is down.\nCONFIDENCE: high\nACTION: restart ollama\nACTION: logs ollama"
            )),
        ]);
        let requests_before = model.arrivals().len();
        let calls_before = slack.calls.lock().unwrap().len();
        let name = format!("OllamaDown{n}");
        let body = json!({
            "receiver": "opsbot", "status": "firing", "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
            "alerts": [{"status": "firing",
                "labels": {"alertname": name, "service": "ollama", "severity": "critical"},
                "annotations": {"summary": "Ollama is not answering"},
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": format!("bench-{n}")}],
            "groupLabels": {"alertname": name}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093"
        });
        let opened = Instant::now();
        let response = http
            .clone()
            .oneshot(
                Request::post("/alerts/alertmanager")
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(response.status().is_success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let seen = loop {
            let found = slack.calls.lock().unwrap()[calls_before..]
                .iter()
                .find(|(_, text)| text.contains(FIRST_WORDS))
                .map(|(at, _)| *at);
            if let Some(at) = found {
                break at;
            }
            assert!(Instant::now() < deadline, "incident {n}: no answer in chat");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        first_words.push(seen - opened);
        let arrivals = model.arrivals();
        assert_eq!(
            arrivals.len(),
            requests_before + 3,
            "three requests per investigation"
        );
        for pair in arrivals[requests_before..].windows(2) {
            rounds.push(pair[1] - pair[0]);
        }
        // Let the investigation finish (its audit record) before the next one.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report(
        "incident opened → first streamed words in chat",
        first_words,
    );
    report("opsbot time per tool round (zero-latency model)", rounds);
    app.shutdown().await;
}

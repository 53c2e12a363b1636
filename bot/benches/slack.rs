//! Benchmark: signed Slack slash commands through the real router, in process (tower
//! `oneshot` on the axum router `opsbot serve` builds, no sockets): signature check, form
//! parsing, the immediate acknowledgement, then in the background the whole pipeline
//! (user groups, parse → RBAC → execute → durable hash-chained audit) and the reply
//! queued in the outbox and delivered by the real `SlackSink` to the fake Slack of
//! `opsbot-fakes` over loopback HTTP (through each command's response URL, as Slack
//! hands them out, or `chat.postMessage`).
//!
//! Two runs on a fresh SQLite store:
//! 1. **max**: `BENCH_COMMANDS` (default 20,000) commands from `BENCH_CLIENTS` (64)
//!    concurrent clients as fast as they go: acknowledgements per second, commands per
//!    second through the pipeline (audit entries written), replies per second delivered;
//! 2. **steady**: `BENCH_RATE` (500) commands per second for `BENCH_SECONDS` (10): p50,
//!    p99 and max acknowledgement latency, and whether the pipeline kept up.
//!
//! Run: `cargo bench -p opsbot --bench slack`. Not a test: it asserts nothing about time,
//! it reports.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use opsbot::{
    app::App,
    config::{self, LoadedConfig},
    runtime::RuntimeRouter,
    server::{self, ServerState},
};
use opsbot_commands::Catalog;
use opsbot_fakes::slack::FakeSlack;
use opsbot_slack::SigningSecret;
use tower::ServiceExt as _;

const SECRET: &str = "bench-signing-secret";
const BOT_TOKEN: &str = "xoxb-bench";
/// What responders type: cheap reads and a health check, every reply for the channel.
const MIX: &[(&str, &str)] = &[
    ("/ops", "services"),
    ("/health", "wrkhrs-gateway"),
    ("/ops", "help restart"),
    ("/services", "--env prod"),
];
/// Replies spread over this many channels (Slack paces per channel; so does the outbox).
const CHANNELS: usize = 32;

use opsbot_fakes::HealthyProber;

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

fn config_text(api_url: &str) -> String {
    let prefix = format!("{}/response/", api_url.trim_end_matches("/api"));
    format!(
        r#"
[outbox]
channel_rate = 0

[slack]
bot_token = "${{SLACK_BOT_TOKEN}}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
api_url = "{api_url}"
response_url_prefix = "{prefix}"
rate_control = false

[[services]]
name = "wrkhrs-gateway"
environment = "prod"
target = {{ kind = "none" }}
health = [{{ kind = "http", name = "health", url = "http://gateway.invalid/health" }}]

[roles.responder]
allow = [{{ commands = ["help", "services", "health"] }}]

[[bindings]]
role = "responder"
subjects = ["slack:U0BENCH"]
"#
    )
}

struct Bench {
    app: App,
    router: Router,
    slack: FakeSlack,
    secret: SigningSecret,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Bench {
        let slack = FakeSlack::start(BOT_TOKEN, "xapp-unused").await;
        let dir = tempfile::tempdir().expect("temp dir");
        let env = |name: &str| match name {
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            "SLACK_SIGNING_SECRET" => Some(SECRET.to_string()),
            _ => None,
        };
        let mut config =
            config::parse(&config_text(&slack.api_url()), "bench.toml", &env).expect("config");
        config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
        let catalog = Catalog::new(config.services.clone()).expect("catalog");
        let loaded = LoadedConfig {
            config,
            catalog,
            source: "bench.toml".into(),
        };
        let app =
            App::start_with_prober(&loaded, RuntimeRouter::default(), Arc::new(HealthyProber))
                .await
                .expect("opsbot starts");
        let router = server::router(ServerState {
            store: app.store.clone(),
            metrics: app.metrics.clone(),
            alerts: None,
            chat: app.chat_routes(),
            chat_body_limit: opsbot::config::ServerConfig::default().chat_body_limit,
            web: axum::Router::new(),
        });
        Bench {
            app,
            router,
            slack,
            secret: SigningSecret::new(SECRET),
            _dir: dir,
        }
    }

    /// A signed slash command request, as Slack sends it.
    fn request(&self, n: usize) -> Request<Body> {
        let (command, text) = MIX[n % MIX.len()];
        let channel = format!("C{:04}", n % CHANNELS);
        let trigger = format!("{n}.1000.bench");
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("team_id", "T0001")
            .append_pair("channel_id", &channel)
            .append_pair("user_id", "U0BENCH")
            .append_pair("user_name", "bench")
            .append_pair("command", command)
            .append_pair("text", text)
            .append_pair(
                "response_url",
                &self.slack.response_url(&channel, "U0BENCH"),
            )
            .append_pair("trigger_id", &trigger)
            .finish();
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            .to_string();
        let signature = self.secret.sign(&timestamp, body.as_bytes());
        Request::post("/slack/commands")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(Body::from(body))
            .expect("request")
    }

    async fn audited(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log")
            .fetch_one(self.app.store.pool())
            .await
            .expect("count audit entries")
    }

    /// Waits until `count` audit entries exist; the instant it saw them.
    async fn wait_audited(&self, count: i64) -> Instant {
        loop {
            if self.audited().await >= count {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until `count` messages were posted to the fake Slack.
    async fn wait_posted(&self, count: usize) -> Instant {
        loop {
            if self.slack.calls("chat.postMessage")
                + self.slack.calls("chat.postEphemeral")
                + self.slack.calls("response_url")
                >= count
            {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn send(router: &Router, request: Request<Body>) -> Duration {
    let started = Instant::now();
    let response = router.clone().oneshot(request).await.expect("router");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK, "acknowledged");
    elapsed
}

async fn max_run(bench: &Bench, commands: usize, clients: usize, offset: usize) {
    let before = bench.audited().await;
    let requests: Vec<Request<Body>> = (0..commands).map(|n| bench.request(offset + n)).collect();
    let queue = Arc::new(std::sync::Mutex::new(requests));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let queue = queue.clone();
        let router = bench.router.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().expect("queue").pop();
                let Some(request) = next else { break };
                latencies.push(send(&router, request).await.as_micros() as u64);
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(commands);
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    let acked = started.elapsed();
    let audited = bench.wait_audited(before + commands as i64).await - started;
    let posted = bench.wait_posted(offset + commands).await - started;
    latencies.sort_unstable();
    println!(
        "max      {commands} signed commands, {clients} clients: acks {:.0}/s (p50 {:.2} ms, p99 {:.2} ms); \
         pipeline+audit {:.0} commands/s; replies delivered {:.0}/s",
        commands as f64 / acked.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        commands as f64 / audited.as_secs_f64(),
        commands as f64 / posted.as_secs_f64(),
    );
}

async fn steady_run(bench: &Bench, rate: usize, seconds: usize, offset: usize) {
    let before = bench.audited().await;
    let total = rate * seconds;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        tokio::time::sleep_until((started + period * n as u32).into()).await;
        let request = bench.request(offset + n);
        let router = bench.router.clone();
        tasks.push(tokio::spawn(async move {
            send(&router, request).await.as_micros() as u64
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        latencies.push(task.await.expect("client"));
    }
    let sent = started.elapsed();
    let audited = bench.wait_audited(before + total as i64).await;
    let behind = audited.saturating_duration_since(started + sent);
    latencies.sort_unstable();
    println!(
        "steady   {rate} commands/s for {seconds} s ({total}): ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         last audit entry {:.0} ms after the last request",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        behind.as_secs_f64() * 1000.0,
    );
}

fn main() {
    let commands = env_usize("BENCH_COMMANDS", 20_000);
    let clients = env_usize("BENCH_CLIENTS", 64);
    let rate = env_usize("BENCH_RATE", 500);
    let seconds = env_usize("BENCH_SECONDS", 10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bench = Bench::start().await;
        // Warm up: connections, statement caches, the fake's keep-alive connections.
        max_run(&bench, 500, 16, 0).await;
        let warmed = 500;
        steady_run(&bench, rate, seconds, warmed).await;
        max_run(&bench, commands, clients, warmed + rate * seconds).await;
        bench.app.shutdown().await;
    });
}

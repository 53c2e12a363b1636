//! Benchmark: signed Discord interactions through the real router, in process (tower
//! `oneshot` on the axum router `opsbot serve` builds, no sockets): Ed25519 signature
//! check, interaction parsing, the immediate deferred answer (type 5), then in the
//! background the whole pipeline (parse → RBAC → execute → durable hash-chained audit)
//! and the result queued in the outbox and delivered by the real `DiscordSink`
//! (serenity's HTTP layer) to the fake Discord REST API of `opsbot-fakes` over loopback
//! HTTP, as an edit of the original response.
//!
//! Two runs on a fresh SQLite store:
//! 1. **max**: `BENCH_COMMANDS` (default 20,000) interactions from `BENCH_CLIENTS` (64)
//!    concurrent clients as fast as they go: acknowledgements per second (p50, p99),
//!    commands per second through the pipeline (audit entries written), results per
//!    second delivered;
//! 2. **steady**: `BENCH_RATE` (500) interactions per second for `BENCH_SECONDS` (10):
//!    p50, p99 and max acknowledgement latency, and whether the pipeline kept up.
//!
//! Run: `cargo bench -p opsbot --bench discord`. Not a test: it asserts nothing about
//! time, it reports.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use ed25519_dalek::{Signer as _, SigningKey};
use http_body_util::BodyExt as _;
use opsbot::{
    app::App,
    config::{self, LoadedConfig},
    runtime::RuntimeRouter,
    server::{self, ServerState},
};
use opsbot_commands::Catalog;
use opsbot_fakes::discord::FakeDiscord;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const TOKEN: &str = "bench-bot-token";
const APPLICATION: &str = "1200000000000000000";
const USER: &str = "80351110224678912";
/// What responders type: cheap reads and a health check, every result for the channel.
const MIX: &[(&str, &str)] = &[
    ("services", "[]"),
    (
        "health",
        r#"[{"name":"service","type":3,"value":"wrkhrs-gateway"}]"#,
    ),
    ("help", r#"[{"name":"command","type":3,"value":"restart"}]"#),
    ("services", r#"[{"name":"env","type":3,"value":"prod"}]"#),
];
/// Interactions spread over this many channels.
const CHANNELS: u64 = 32;

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

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn config_text(api_url: &str) -> String {
    let public_key = hex::encode(key().verifying_key().to_bytes());
    format!(
        r#"
[outbox]
channel_rate = 0

[discord]
application_id = "{APPLICATION}"
token = "${{DISCORD_BOT_TOKEN}}"
public_key = "{public_key}"
api_url = "{api_url}"

[[services]]
name = "wrkhrs-gateway"
environment = "prod"
target = {{ kind = "none" }}
health = [{{ kind = "http", name = "health", url = "http://gateway.invalid/health" }}]

[roles.responder]
allow = [{{ commands = ["help", "services", "health"] }}]

[[bindings]]
role = "responder"
subjects = ["discord:{USER}"]
"#
    )
}

/// One prepared interaction: the signed request, and what the fake must be told.
struct Prepared {
    request: Request<Body>,
    id: String,
    token: String,
}

struct Bench {
    app: App,
    router: Router,
    discord: Arc<FakeDiscord>,
    key: SigningKey,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Bench {
        let discord = FakeDiscord::start(TOKEN, APPLICATION).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let env = |name: &str| (name == "DISCORD_BOT_TOKEN").then(|| TOKEN.to_string());
        let mut config =
            config::parse(&config_text(&discord.url()), "bench.toml", &env).expect("config");
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
            discord: Arc::new(discord),
            key: key(),
            _dir: dir,
        }
    }

    /// A signed application command interaction, as Discord sends it.
    fn prepare(&self, n: usize) -> Prepared {
        let (name, options) = MIX[n % MIX.len()];
        let id = (1_300_000_000_000_000_000u64 + n as u64).to_string();
        let token = format!("bench-token-{n}");
        let channel = (1_000_000_000_000_000_000u64 + n as u64 % CHANNELS).to_string();
        let options: Value = serde_json::from_str(options).expect("options");
        let body = json!({
            "type": 2, "id": id, "application_id": APPLICATION, "token": token, "version": 1,
            "guild_id": "1100000000000000000", "channel_id": channel,
            "channel": {"id": channel, "type": 0},
            "member": {"user": {"id": USER, "username": "bench"}, "roles": [],
                       "deaf": false, "mute": false, "flags": 0},
            "locale": "en-GB", "entitlements": [], "attachment_size_limit": 10485760,
            "data": {"id": "1", "name": name, "type": 1, "options": options},
        })
        .to_string();
        let timestamp = jiff::Timestamp::now().as_second().to_string();
        let signature = hex::encode(
            self.key
                .sign(&[timestamp.as_bytes(), body.as_bytes()].concat())
                .to_bytes(),
        );
        let request = Request::post("/discord/interactions")
            .header("content-type", "application/json")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", timestamp)
            .body(Body::from(body))
            .expect("request");
        Prepared { request, id, token }
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

    /// Waits until `count` results were delivered to the fake Discord.
    async fn wait_delivered(&self, count: usize) -> Instant {
        loop {
            if self.discord.delivered_answers() >= count {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Sends one interaction; the time to its answer. Discord (the fake) is then handed the
/// answer, as the real one receives it with the HTTP response.
async fn send(router: &Router, discord: &FakeDiscord, prepared: Prepared) -> Duration {
    let started = Instant::now();
    let response = router
        .clone()
        .oneshot(prepared.request)
        .await
        .expect("router");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK, "acknowledged");
    let answer: Value = serde_json::from_slice(&body).expect("an interaction response");
    assert_eq!(answer["type"], 5, "deferred");
    discord.acknowledge(&prepared.id, &prepared.token, &answer);
    elapsed
}

async fn max_run(bench: &Bench, commands: usize, clients: usize, offset: usize) {
    let before = bench.audited().await;
    let prepared: Vec<Prepared> = (0..commands).map(|n| bench.prepare(offset + n)).collect();
    let queue = Arc::new(std::sync::Mutex::new(prepared));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let queue = queue.clone();
        let router = bench.router.clone();
        let discord = bench.discord.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().expect("queue").pop();
                let Some(prepared) = next else { break };
                latencies.push(send(&router, &discord, prepared).await.as_micros() as u64);
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
    let delivered = bench.wait_delivered(offset + commands).await - started;
    latencies.sort_unstable();
    println!(
        "max      {commands} signed interactions, {clients} clients: acks {:.0}/s (p50 {:.2} ms, p99 {:.2} ms); \
         pipeline+audit {:.0} commands/s; results delivered {:.0}/s",
        commands as f64 / acked.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        commands as f64 / audited.as_secs_f64(),
        commands as f64 / delivered.as_secs_f64(),
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
        let prepared = bench.prepare(offset + n);
        let router = bench.router.clone();
        let discord = bench.discord.clone();
        tasks.push(tokio::spawn(async move {
            send(&router, &discord, prepared).await.as_micros() as u64
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
        "steady   {rate} interactions/s for {seconds} s ({total}): ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
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

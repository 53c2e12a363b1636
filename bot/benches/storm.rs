//! Benchmark: an alert storm against chat platforms that allow one message per second
//! per channel. 10,000 alerts over 200 Alertmanager groups arrive in 60 s (each group
//! notified five times, its alerts growing as Alertmanager resends them), through the
//! real `/alerts/alertmanager` endpoint into the example configuration on a fresh SQLite
//! store. Every chat call goes through the outbox to fake platforms (Slack, Discord and
//! the console mirror) that refuse a second call within a second on the same channel,
//! with a `Retry-After`, as Slack's `chat.postMessage` does. Meanwhile a responder types
//! `incident list` into the busiest channel every two seconds.
//!
//! Reports: lost alerts (must be 0), batches refused, chat calls made and refused,
//! time until every thread is up to date after the storm, the lower bound that the
//! channel rate puts on it, and command reply latency (typed → reply posted) p50/p99.
//!
//! Run: `cargo bench -p opsbot --bench storm` (env `BENCH_ALERTS`, `BENCH_GROUPS`,
//! `BENCH_STORM_SECS`). Not a test: it asserts only that no alert was lost.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::{body::Body, http::Request};
use opsbot::{
    app::App,
    config::{self, Overrides},
    outbox::{ChatSink, DeliveryError, Lane, MessageRef, Operation, Outbox, OutboxMessage},
    runtime::RuntimeRouter,
    server,
};
use opsbot_commands::{Actor, Invocation, Platform, Reply, context::NoProgress};
use tokio::sync::mpsc;
use tower::ServiceExt as _;

const SERVICES: &[&str] = &[
    "wrkhrs-gateway",
    "wrkhrs-rag",
    "wrkhrs-asr",
    "ai-assistant",
    "ollama",
    "alice-backend",
    "ai-orchestration",
];
/// Alertmanager notifies each group this many times during the storm.
const NOTIFICATIONS_PER_GROUP: usize = 5;
/// Where the responder types (the channel of the wrkhrs services).
const BUSY_CHANNEL: &str = "#ai-operations";
const COMMAND_MARK: &str = "[bench-command ";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One channel as the fake platform sees it.
#[derive(Default)]
struct ChannelLog {
    last_call: Option<Instant>,
    calls: u64,
    refused: u64,
}

/// A chat platform that accepts one call per second per channel and answers the rest
/// like Slack's 429: "retry after the rest of the second".
struct OneMessagePerSecond {
    platform: Platform,
    channels: Mutex<HashMap<String, ChannelLog>>,
    next_ts: AtomicU64,
    posts: AtomicU64,
    edits: AtomicU64,
    /// Titles of posted command replies, with when they were posted.
    commands: mpsc::UnboundedSender<(String, Instant)>,
}

impl OneMessagePerSecond {
    fn new(platform: Platform, commands: mpsc::UnboundedSender<(String, Instant)>) -> Self {
        Self {
            platform,
            channels: Mutex::default(),
            next_ts: AtomicU64::new(1),
            posts: AtomicU64::new(0),
            edits: AtomicU64::new(0),
            commands,
        }
    }

    fn admit(&self, channel: &str) -> Result<(), DeliveryError> {
        let now = Instant::now();
        if self.platform == Platform::Console {
            let mut channels = self.channels.lock().unwrap();
            channels.entry(channel.to_string()).or_default().calls += 1;
            return Ok(());
        }
        let mut channels = self.channels.lock().unwrap();
        let log = channels.entry(channel.to_string()).or_default();
        if let Some(last) = log.last_call {
            let since = now.duration_since(last);
            if since < Duration::from_secs(1) {
                log.refused += 1;
                return Err(DeliveryError::Retry {
                    reason: "429 rate_limited".into(),
                    retry_after: Some(Duration::from_secs(1) - since),
                });
            }
        }
        log.last_call = Some(now);
        log.calls += 1;
        Ok(())
    }

    fn totals(&self) -> (u64, u64, usize) {
        let channels = self.channels.lock().unwrap();
        (
            channels.values().map(|c| c.calls).sum(),
            channels.values().map(|c| c.refused).sum(),
            channels.len(),
        )
    }
}

#[async_trait]
impl ChatSink for OneMessagePerSecond {
    fn platform(&self) -> Platform {
        self.platform
    }

    /// The console mirror is a terminal: unlimited, like the real console sink.
    fn rate_limited(&self) -> bool {
        self.platform != Platform::Console
    }

    async fn post(
        &self,
        channel: &str,
        _thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        self.admit(channel)?;
        self.posts.fetch_add(1, Ordering::Relaxed);
        if reply.title.contains(COMMAND_MARK) {
            let _ = self.commands.send((reply.title.clone(), Instant::now()));
        }
        Ok(MessageRef(format!(
            "{}.{}",
            self.platform,
            self.next_ts.fetch_add(1, Ordering::Relaxed)
        )))
    }

    async fn edit(
        &self,
        channel: &str,
        _message: &MessageRef,
        _reply: &Reply,
    ) -> Result<(), DeliveryError> {
        self.admit(channel)?;
        self.edits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Notification `round` of group `group`: its first `alerts_so_far` alerts, all firing.
fn notification(group: usize, alerts_so_far: usize) -> String {
    let service = SERVICES[group % SERVICES.len()];
    let alertname = format!("Storm{group}");
    let alerts: Vec<String> = (0..alerts_so_far)
        .map(|i| {
            let id = group * 10_000 + i;
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"{alertname}","service":"{service}","instance":"host-{i}","severity":"warning"}},"annotations":{{"summary":"storm alert {i}"}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"{id:016x}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"{alertname}\"}}","truncatedAlerts":0,"status":"firing","receiver":"opsbot","groupLabels":{{"alertname":"{alertname}"}},"commonLabels":{{"alertname":"{alertname}","service":"{service}"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","alerts":[{}]}}"#,
        alerts.join(",")
    )
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn pending(app: &App) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        .fetch_one(app.store.read_pool())
        .await
        .expect("count pending")
}

#[tokio::main]
async fn main() {
    let total_alerts = env_usize("BENCH_ALERTS", 10_000);
    let groups = env_usize("BENCH_GROUPS", 200);
    let storm = Duration::from_secs(env_usize("BENCH_STORM_SECS", 60) as u64);
    let per_group = total_alerts / groups;

    let dir = tempfile::tempdir().unwrap();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml");
    let overrides = Overrides {
        database_url: Some(format!(
            "sqlite://{}",
            dir.path().join("storm.db").display()
        )),
        listen: None,
    };
    let loaded = config::load(&example, &overrides).expect("example config loads");
    let (commands_tx, mut commands_rx) = mpsc::unbounded_channel();
    let fakes: Vec<Arc<OneMessagePerSecond>> =
        [Platform::Slack, Platform::Discord, Platform::Console]
            .into_iter()
            .map(|p| Arc::new(OneMessagePerSecond::new(p, commands_tx.clone())))
            .collect();
    let prober = Arc::new(opsbot_probes::HttpProber::new().expect("prober"));
    let app = App::start_with_sinks(
        &loaded,
        RuntimeRouter::default(),
        prober,
        fakes
            .iter()
            .map(|f| f.clone() as Arc<dyn ChatSink>)
            .collect(),
    )
    .await
    .expect("app starts");
    let router = server::router(app.server_state(&loaded.config));

    // The schedule: every group's notifications spread evenly over the storm.
    let notifications = groups * NOTIFICATIONS_PER_GROUP;
    let gap = storm / notifications as u32;
    let started = Instant::now();
    let responder = {
        let engine = app.engine.clone();
        let store = app.store.clone();
        let user = loaded.config.console.user.clone();
        tokio::spawn(async move {
            let mut typed = HashMap::new();
            let mut n = 0u64;
            while started.elapsed() < storm {
                n += 1;
                let invocation = Invocation::new(
                    Actor::new(Platform::Console, user.clone(), "responder"),
                    "console",
                    "incident list",
                );
                let at = Instant::now();
                let mut reply = engine.handle(&invocation, &NoProgress).await;
                reply.title = format!("{} {COMMAND_MARK}{n}]", reply.title);
                typed.insert(reply.title.clone(), at);
                Outbox::send(
                    &store,
                    &OutboxMessage {
                        platform: Platform::Slack,
                        channel: BUSY_CHANNEL.to_string(),
                        thread_key: None,
                        operation: Operation::Post,
                        lane: Lane::Interactive,
                        reply,
                        dedupe_key: format!("bench:command:{n}"),
                    },
                )
                .await
                .expect("reply queued");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            typed
        })
    };
    let mut refused = 0usize;
    let mut batch_latencies = Vec::with_capacity(notifications);
    for k in 0..notifications {
        let due = started + gap * k as u32;
        tokio::time::sleep_until(due.into()).await;
        let group = k % groups;
        let round = k / groups;
        let alerts_so_far = per_group * (round + 1) / NOTIFICATIONS_PER_GROUP;
        let request = Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(notification(group, alerts_so_far)))
            .unwrap();
        let t = Instant::now();
        let response = router.clone().oneshot(request).await.unwrap();
        batch_latencies.push(t.elapsed());
        if !response.status().is_success() {
            refused += 1;
        }
    }
    let storm_took = started.elapsed();
    let typed = responder.await.unwrap();

    // Drain: until no message waits.
    let storm_end = Instant::now();
    let drain_limit = Duration::from_secs(1800);
    while pending(&app).await > 0 && storm_end.elapsed() < drain_limit {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caught_up = storm_end.elapsed();

    let stored: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT fingerprint) FROM incident_alerts")
        .fetch_one(app.store.read_pool())
        .await
        .unwrap();
    let incidents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
        .fetch_one(app.store.read_pool())
        .await
        .unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(app.store.read_pool())
        .await
        .unwrap();
    let mut reply_latencies = Vec::new();
    while let Ok((title, posted)) = commands_rx.try_recv() {
        if let Some(at) = typed.get(&title) {
            reply_latencies.push(posted.duration_since(*at));
        }
    }
    reply_latencies.sort();
    batch_latencies.sort();
    let lost = total_alerts as i64 - stored;

    println!(
        "storm: {total_alerts} alerts over {groups} groups in {notifications} notifications, {:.1} s; \
         batches refused {refused}; batch p50 {:.2} ms p99 {:.2} ms",
        storm_took.as_secs_f64(),
        percentile(&batch_latencies, 0.5),
        percentile(&batch_latencies, 0.99),
    );
    println!("stored: {stored} distinct alerts in {incidents} incidents; lost alerts: {lost}");
    let mut calls_total = 0;
    let mut bound = 0.0f64;
    for fake in &fakes {
        let (calls, refused, channels) = fake.totals();
        calls_total += calls;
        println!(
            "{:<8} {channels} channels: {calls} chat calls ({} posts, {} edits), {refused} refused with Retry-After",
            fake.platform.as_str(),
            fake.posts.load(Ordering::Relaxed),
            fake.edits.load(Ordering::Relaxed),
        );
        let busiest = fake
            .channels
            .lock()
            .unwrap()
            .values()
            .map(|c| c.calls)
            .max()
            .unwrap_or(0);
        if fake.rate_limited() {
            bound = bound.max(busiest as f64);
        }
    }
    println!(
        "outbox: {queued} messages queued, delivered in {calls_total} chat calls (digests and coalesced edits)"
    );
    println!(
        "threads up to date {:.1} s after the storm ({:.1} s after it began); the busiest channel needed {bound:.0} calls at 1/s",
        caught_up.as_secs_f64(),
        (storm_end - started + caught_up).as_secs_f64(),
    );
    println!(
        "command replies during the storm: {} typed, {} posted; typed → posted p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        typed.len(),
        reply_latencies.len(),
        percentile(&reply_latencies, 0.5),
        percentile(&reply_latencies, 0.99),
        percentile(&reply_latencies, 1.0),
    );
    assert_eq!(lost, 0, "alerts were lost");
    assert_eq!(refused, 0, "batches were refused");
    app.shutdown().await;
}

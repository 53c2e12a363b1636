//! Benchmark: an alert storm against chat platforms that allow one message per second
//! per channel. 10,000 alerts over 200 Alertmanager groups arrive in 60 s (each group
//! notified five times, its alerts growing as Alertmanager resends them), through the
//! real `/alerts/alertmanager` endpoint into the example configuration on a fresh SQLite
//! store. Every chat call goes through the outbox. Slack is the real `SlackSink`
//! (slack-morphism over loopback HTTP) against the fake Slack of `opsbot-fakes` in rate
//! mode: `chat.postMessage`/`chat.update` refused with 429 and `Retry-After` within a
//! second of the last one on the same channel, as Slack limits posting. Discord and the
//! console mirror are in-process fakes with the same limit (the console unlimited).
//! Meanwhile a responder types `/incident list` into the busiest Slack channel every two
//! seconds: a signed slash command into the app's router, as Slack sends it, answered
//! the way a real one is (through the command's `response_url`, which Slack does not
//! count against the channel's budget).
//!
//! Reports: lost alerts (must be 0), batches refused, chat calls made and refused,
//! duplicate posts (identical posts in one thread, counted by the fake Slack),
//! every incident visible in its Slack channel (its own root or a line on the storm
//! board, `[outbox.storm]` of the example) within N s of its first alert (p50/p99/max),
//! all roots, boards and threads current within N s after the last alert (every
//! incident's root or board line shows its final firing count, and no thread update
//! queued during the storm is still waiting), the time until the outbox is empty (folded
//! incidents given their own threads as the channel drained), the lower bound that the
//! channel rate puts on it, and command reply latency (request sent → reply taken by the
//! fake Slack) p50/p99.
//!
//! Run: `cargo bench -p opsbot --bench storm` (env `BENCH_ALERTS`, `BENCH_GROUPS`,
//! `BENCH_STORM_SECS`; `BENCH_STORM_SLOW=1` names incidents shown after 10 s,
//! `BENCH_STORM_TRACE=30` lists the Slack calls of the storm's first 30 s). Not a test: it asserts only that no alert was lost and every
//! command was answered. The same storm against three replicas on PostgreSQL:
//! `storm_replicas.rs`; what both share: `storm_support/`.

mod storm_support;

use std::{
    collections::HashMap,
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
    outbox::{ChatSink, DeliveryError, MessageRef},
    runtime::RuntimeRouter,
    server,
};
use opsbot_commands::{Platform, Reply};
use opsbot_fakes::slack::FakeSlack;
use storm_support::{
    BOT_TOKEN, SIGNING_SECRET, StoreView, StormSize, Visibility, percentile, print_figures,
};
use tower::ServiceExt as _;

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
}

impl OneMessagePerSecond {
    fn new(platform: Platform) -> Self {
        Self {
            platform,
            channels: Mutex::default(),
            next_ts: AtomicU64::new(1),
            posts: AtomicU64::new(0),
            edits: AtomicU64::new(0),
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
        _reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        self.admit(channel)?;
        self.posts.fetch_add(1, Ordering::Relaxed);
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

#[tokio::main]
async fn main() {
    let size = StormSize::from_env();
    let dir = tempfile::tempdir().unwrap();
    let example_text = storm_support::example_config();

    // The fake Slack, limiting each channel to one post or edit a second; every `#name`
    // of the example is a channel id there.
    let slack = FakeSlack::start(BOT_TOKEN, "xapp-unused").await;
    slack.limit_channel_rate();
    let busy_channel_id = storm_support::name_slack_channels(&example_text, &slack);
    // The example with `[slack]` filled in (HTTP mode, the fake's API; slack-morphism's
    // rate control on, as in production: per-channel limit and method tiers, under the
    // outbox's own pacing).
    let config_path = dir.path().join("opsbot.toml");
    std::fs::write(
        &config_path,
        format!("{example_text}{}", storm_support::slack_section(&slack)),
    )
    .expect("write the bench config");
    let overrides = Overrides {
        database_url: Some(format!(
            "sqlite://{}",
            dir.path().join("storm.db").display()
        )),
        listen: None,
    };
    let env = |name: &str| match name {
        "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
        "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
        _ => std::env::var(name).ok(),
    };
    let loaded = config::load_with(&config_path, &overrides, &env).expect("bench config loads");
    let fakes: Vec<Arc<OneMessagePerSecond>> = [Platform::Discord, Platform::Console]
        .into_iter()
        .map(|p| Arc::new(OneMessagePerSecond::new(p)))
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

    let notifications = size.notifications();
    let gap = size.gap();
    let storm = size.storm;
    let started = Instant::now();
    let responder = {
        let router = router.clone();
        let slack = slack.clone_handle();
        let channel = busy_channel_id.clone();
        tokio::spawn(async move {
            // Response URL → when its command was sent.
            let mut typed = HashMap::new();
            let mut n = 0u64;
            while started.elapsed() < storm {
                n += 1;
                let response_url = slack.response_url(&channel, storm_support::RESPONDER);
                let (body, headers) =
                    storm_support::incident_list_command(&channel, &response_url, n);
                let request =
                    opsbot_fakes::slack_request::request("/slack/commands", &body, &headers);
                typed.insert(response_url, Instant::now());
                let response = router.clone().oneshot(request).await.unwrap();
                assert!(response.status().is_success(), "slash command refused");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            typed
        })
    };
    // Samples what the fake Slack shows, four times a second, until told to stop.
    let (stop_sampling, sampling_stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(Visibility::sample_until(
        slack.clone_handle(),
        sampling_stopped,
    ));
    // Group → when its first notification was sent.
    let mut first_alert: HashMap<usize, Instant> = HashMap::new();
    let mut refused = 0usize;
    let mut batch_latencies = Vec::with_capacity(notifications);
    for k in 0..notifications {
        let due = started + gap * k as u32;
        tokio::time::sleep_until(due.into()).await;
        let (group, body) = size.notification(k);
        let request = Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let t = Instant::now();
        first_alert.entry(group).or_insert(t);
        let response = router.clone().oneshot(request).await.unwrap();
        batch_latencies.push(t.elapsed());
        if !response.status().is_success() {
            refused += 1;
        }
    }
    let storm_took = started.elapsed();
    let typed = responder.await.unwrap();

    // Current: every incident's root or board line shows its final firing count, and
    // nothing queued during the storm waits. Then drained: no message waits at all.
    let storm_end = Instant::now();
    let storm_end_us = jiff::Timestamp::now().as_microsecond();
    let drain_limit = Duration::from_secs(1800);
    let view = StoreView {
        pool: app.store.read_pool(),
    };
    let (current_after, caught_up) = view
        .wait_current_and_drained(&slack, storm_end, storm_end_us, drain_limit)
        .await;
    let _ = stop_sampling.send(true);
    let visibility = sampler.await.unwrap();
    let (visible_after, never_visible) =
        visibility.after_first_alert(&view.titles().await, &first_alert);
    let (stored, incidents, queued, boards, folded) = view.totals().await;
    let messages = slack.messages();
    let (reply_latencies, fallbacks) = storm_support::reply_latencies(&messages, &typed);
    batch_latencies.sort();
    let total_alerts = size.alerts;
    let lost = total_alerts as i64 - stored;

    println!(
        "storm: {total_alerts} alerts over {} groups in {notifications} notifications, {:.1} s; \
         batches refused {refused}; batch p50 {:.2} ms p99 {:.2} ms (load {})",
        size.groups,
        storm_took.as_secs_f64(),
        percentile(&batch_latencies, 0.5),
        percentile(&batch_latencies, 0.99),
        storm_support::load(),
    );
    println!("stored: {stored} distinct alerts in {incidents} incidents; lost alerts: {lost}");
    let slack_channels = slack.channel_calls();
    let slack_calls: usize = slack_channels.values().map(|c| c.taken).sum();
    let slack_refused: usize = slack_channels.values().map(|c| c.refused).sum();
    let slack_posts = messages.iter().filter(|m| m.response_url.is_none()).count();
    println!(
        "{:<8} {} channels: {slack_calls} chat calls ({slack_posts} posts, {} edits), {slack_refused} refused with Retry-After; {} command replies through response URLs; {} duplicate posts",
        "slack",
        slack_channels.len(),
        slack_calls.saturating_sub(slack_posts),
        slack.calls("response_url"),
        slack.duplicate_posts(),
    );
    let mut calls_total = slack_calls as u64;
    let mut bound = slack_channels.values().map(|c| c.taken).max().unwrap_or(0) as f64;
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
    println!("storm boards: {boards} opened, {folded} incidents folded into them",);
    if let Some(secs) = std::env::var("BENCH_STORM_TRACE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        storm_support::print_call_log(&slack.call_log(), started, secs);
    }
    print_figures(
        &visible_after,
        never_visible,
        current_after,
        drain_limit,
        &reply_latencies,
        typed.len(),
        fallbacks,
    );
    println!(
        "outbox drained (folded incidents given their own threads) {:.1} s after the storm ({:.1} s after it began); the busiest channel needed {bound:.0} calls at 1/s",
        caught_up.as_secs_f64(),
        (storm_end - started + caught_up).as_secs_f64(),
    );
    assert_eq!(lost, 0, "alerts were lost");
    assert_eq!(refused, 0, "batches were refused");
    assert_eq!(
        fallbacks, 0,
        "commands were not answered through their response URL"
    );
    app.shutdown().await;
}

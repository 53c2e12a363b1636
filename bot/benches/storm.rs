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
//! `BENCH_STORM_SECS`). Not a test: it asserts only that no alert was lost and every
//! command was answered.

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
    outbox::{ChatSink, DeliveryError, MessageRef},
    runtime::RuntimeRouter,
    server,
};
use opsbot_commands::{Platform, Reply};
use opsbot_fakes::slack::FakeSlack;
use opsbot_slack::SigningSecret;
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
/// The responder: a platform admin of the example configuration.
const RESPONDER: &str = "U0PLATFORMADMIN";
const BOT_TOKEN: &str = "xoxb-bench";
const SIGNING_SECRET: &str = "bench-signing-secret";

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

/// When each incident first became visible in its Slack channel: its own root
/// (`Incident #N` in the fallback text) or a line on a storm board (`#N ` in its
/// blocks), as sampled from the fake Slack.
#[derive(Default)]
struct Visibility {
    first_seen: HashMap<i64, Instant>,
}

/// `#N ` incident ids in a board's content.
fn board_ids(content: &str) -> Vec<i64> {
    content
        .split(" #")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

/// The incident id of a root's fallback text (`… Incident #N: …`).
fn root_id(text: &str) -> Option<i64> {
    let at = text.find("Incident #")?;
    text[at + "Incident #".len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

impl Visibility {
    fn sample(&mut self, messages: &[opsbot_fakes::slack::PostedMessage]) {
        let now = Instant::now();
        for message in messages
            .iter()
            .filter(|m| m.thread_ts.is_none() && m.response_url.is_none())
        {
            let text = message.text();
            if text.contains("Storm board") {
                for id in board_ids(&message.content()) {
                    self.first_seen.entry(id).or_insert(now);
                }
            } else if let Some(id) = root_id(text) {
                let at = self.first_seen.entry(id).or_insert(message.posted_at);
                *at = (*at).min(message.posted_at);
            }
        }
    }
}

/// Whether every incident of `firing` (id → final firing count) shows that count in its
/// Slack channel: on its own root (`N firing of M`) or its board line (`· N firing`).
fn all_current(
    messages: &[opsbot_fakes::slack::PostedMessage],
    firing: &HashMap<i64, i64>,
) -> bool {
    let mut current: HashMap<i64, bool> = HashMap::new();
    for message in messages
        .iter()
        .filter(|m| m.thread_ts.is_none() && m.response_url.is_none())
    {
        let text = message.text();
        let content = message.content();
        if text.contains("Storm board") && !text.contains("continued: nothing") {
            for (id, n) in firing {
                if content.contains(&format!(" #{id} ")) {
                    let line_current = content
                        .split(&format!(" #{id} "))
                        .nth(1)
                        .and_then(|rest| rest.split("\\n").next())
                        .is_some_and(|line| line.contains(&format!("· {n} firing")));
                    *current.entry(*id).or_default() |= line_current;
                }
            }
        } else if let Some(id) = root_id(text)
            && let Some(n) = firing.get(&id)
        {
            *current.entry(id).or_default() |= content.contains(&format!("\\n{n} firing of "));
        }
    }
    firing
        .keys()
        .all(|id| current.get(id).copied().unwrap_or(false))
}

/// Alerts-lane messages queued at or before `before_us` and not yet delivered.
async fn pending_since(app: &App, before_us: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND lane = 'alerts' \
         AND created_at_us <= $1",
    )
    .bind(before_us)
    .fetch_one(app.store.read_pool())
    .await
    .expect("count pending")
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
    let example_text = std::fs::read_to_string(&example).expect("example config");

    // The fake Slack, limiting each channel to one post or edit a second; every `#name`
    // of the example is a channel id there.
    let slack = FakeSlack::start(BOT_TOKEN, "xapp-unused").await;
    slack.limit_channel_rate();
    let mut names: Vec<&str> = example_text
        .match_indices("slack = \"#")
        .filter_map(|(at, _)| {
            let name = &example_text[at + "slack = \"".len()..];
            name.split('"').next()
        })
        .filter(|name| name.len() > 1 && !name.contains('.'))
        .collect();
    names.sort_unstable();
    names.dedup();
    for (n, name) in names.iter().enumerate() {
        slack.name_channel(name, &format!("C0BENCH{n:02}"));
    }
    let busy_channel_id = format!(
        "C0BENCH{:02}",
        names
            .iter()
            .position(|n| *n == BUSY_CHANNEL)
            .expect("the busy channel is in the example")
    );
    for group in ["S0ENGINEERS", "S0AIOPSONCALL"] {
        slack.set_usergroup(group, &[]);
    }
    // The example with `[slack]` filled in (HTTP mode, the fake's API; slack-morphism's
    // rate control on, as in production: per-channel limit and method tiers, under the
    // outbox's own pacing).
    let config_path = dir.path().join("opsbot.toml");
    std::fs::write(
        &config_path,
        format!(
            "{example_text}\n[slack]\nmode = \"http\"\nbot_token = \"${{SLACK_BOT_TOKEN}}\"\n\
             signing_secret = \"${{SLACK_SIGNING_SECRET}}\"\napi_url = \"{}\"\nresponse_url_prefix = \"{}\"\nrate_control = true\n",
            slack.api_url(),
            slack.response_url_prefix()
        ),
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

    // The schedule: every group's notifications spread evenly over the storm.
    let notifications = groups * NOTIFICATIONS_PER_GROUP;
    let gap = storm / notifications as u32;
    let started = Instant::now();
    let responder = {
        let router = router.clone();
        let secret = SigningSecret::new(SIGNING_SECRET);
        let slack = slack.clone_handle();
        let channel = busy_channel_id.clone();
        tokio::spawn(async move {
            // Response URL → when its command was sent.
            let mut typed = HashMap::new();
            let mut n = 0u64;
            while started.elapsed() < storm {
                n += 1;
                let response_url = slack.response_url(&channel, RESPONDER);
                let body = form_urlencoded::Serializer::new(String::new())
                    .append_pair("team_id", "T0001")
                    .append_pair("channel_id", &channel)
                    .append_pair("channel_name", "ai-operations")
                    .append_pair("user_id", RESPONDER)
                    .append_pair("user_name", "responder")
                    .append_pair("command", "/incident")
                    .append_pair("text", "list")
                    .append_pair("api_app_id", "A0OPSBOT")
                    .append_pair("response_url", &response_url)
                    .append_pair("trigger_id", &format!("{n}.1000.storm"))
                    .finish();
                let timestamp = opsbot_slack::signature::unix_now().to_string();
                let signature = secret.sign(&timestamp, body.as_bytes());
                let request = Request::post("/slack/commands")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-slack-request-timestamp", timestamp)
                    .header("x-slack-signature", signature)
                    .body(Body::from(body))
                    .unwrap();
                typed.insert(response_url, Instant::now());
                let response = router.clone().oneshot(request).await.unwrap();
                assert!(response.status().is_success(), "slash command refused");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            typed
        })
    };
    // Samples what the fake Slack shows, four times a second, until told to stop.
    let (stop_sampling, mut sampling_stopped) = tokio::sync::watch::channel(false);
    let sampler = {
        let slack = slack.clone_handle();
        tokio::spawn(async move {
            let mut visibility = Visibility::default();
            loop {
                visibility.sample(&slack.messages());
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = sampling_stopped.changed() => {
                        visibility.sample(&slack.messages());
                        return visibility;
                    }
                }
            }
        })
    };
    // Group → when its first notification was sent.
    let mut first_alert: HashMap<usize, Instant> = HashMap::new();
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
    let final_firing: HashMap<i64, i64> = sqlx::query(
        "SELECT incident_id, COUNT(*) FROM incident_alerts WHERE status = 'firing' \
         GROUP BY incident_id",
    )
    .fetch_all(app.store.read_pool())
    .await
    .unwrap()
    .iter()
    .map(|row| (sqlx::Row::get(row, 0), sqlx::Row::get(row, 1)))
    .collect();
    let mut current_after = None;
    while storm_end.elapsed() < drain_limit {
        if current_after.is_none()
            && pending_since(&app, storm_end_us).await == 0
            && all_current(&slack.messages(), &final_firing)
        {
            current_after = Some(storm_end.elapsed());
        }
        // Drained: nothing waits and no board is open (folded incidents all unfolded).
        let open_boards: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM storm_boards WHERE closed_at_us IS NULL")
                .fetch_one(app.store.read_pool())
                .await
                .unwrap();
        if open_boards == 0 && pending(&app).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caught_up = storm_end.elapsed();
    let _ = stop_sampling.send(true);
    let visibility = sampler.await.unwrap();
    // Incident → its group (`Storm{group}` is its alert): visible after its first alert.
    let titles: Vec<(i64, String)> = sqlx::query("SELECT id, title FROM incidents")
        .fetch_all(app.store.read_pool())
        .await
        .unwrap()
        .iter()
        .map(|row| (sqlx::Row::get(row, 0), sqlx::Row::get(row, 1)))
        .collect();
    let mut visible_after = Vec::new();
    let mut never_visible = 0usize;
    for (id, title) in &titles {
        let group = title
            .strip_prefix("Storm")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|g| g.parse::<usize>().ok());
        let Some(sent) = group.and_then(|g| first_alert.get(&g)) else {
            continue;
        };
        match visibility.first_seen.get(id) {
            Some(seen) => visible_after.push(seen.saturating_duration_since(*sent)),
            None => never_visible += 1,
        }
    }
    visible_after.sort();
    let boards: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM storm_boards")
        .fetch_one(app.store.read_pool())
        .await
        .unwrap();
    let folded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM incident_messages WHERE storm_board IS NOT NULL")
            .fetch_one(app.store.read_pool())
            .await
            .unwrap();

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
    let mut fallbacks = 0usize;
    let messages = slack.messages();
    for (url, at) in &typed {
        match messages
            .iter()
            .find(|m| m.response_url.as_deref() == Some(url.as_str()))
        {
            Some(reply) => reply_latencies.push(reply.posted_at.duration_since(*at)),
            None => fallbacks += 1,
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
    let slack_channels = slack.channel_calls();
    let slack_calls: usize = slack_channels.values().map(|c| c.taken).sum();
    let slack_refused: usize = slack_channels.values().map(|c| c.refused).sum();
    let slack_posts = messages.iter().filter(|m| m.response_url.is_none()).count();
    println!(
        "{:<8} {} channels: {slack_calls} chat calls ({slack_posts} posts, {} edits), {slack_refused} refused with Retry-After; {} command replies through response URLs",
        "slack",
        slack_channels.len(),
        slack_calls.saturating_sub(slack_posts),
        slack.calls("response_url"),
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
    println!(
        "every incident visible in its channel (own root or board line) after its first alert: p50 {:.1} s  p99 {:.1} s  max {:.1} s ({} incidents; {never_visible} never seen)",
        percentile(&visible_after, 0.5) / 1000.0,
        percentile(&visible_after, 0.99) / 1000.0,
        percentile(&visible_after, 1.0) / 1000.0,
        visible_after.len(),
    );
    match current_after {
        Some(after) => println!(
            "all roots, boards and threads current {:.1} s after the last alert",
            after.as_secs_f64()
        ),
        None => println!(
            "roots, boards and threads NOT found current before the outbox drained ({} s limit)",
            drain_limit.as_secs()
        ),
    }
    println!(
        "outbox drained (folded incidents given their own threads) {:.1} s after the storm ({:.1} s after it began); the busiest channel needed {bound:.0} calls at 1/s",
        caught_up.as_secs_f64(),
        (storm_end - started + caught_up).as_secs_f64(),
    );
    println!(
        "command replies during the storm: {} typed, {} answered through their response URL ({fallbacks} not); sent → answered p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        typed.len(),
        reply_latencies.len(),
        percentile(&reply_latencies, 0.5),
        percentile(&reply_latencies, 0.99),
        percentile(&reply_latencies, 1.0),
    );
    assert_eq!(lost, 0, "alerts were lost");
    assert_eq!(refused, 0, "batches were refused");
    assert_eq!(
        fallbacks, 0,
        "commands were not answered through their response URL"
    );
    app.shutdown().await;
}

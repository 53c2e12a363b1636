//! What the two storm benchmarks share (`storm.rs`: one process on SQLite;
//! `storm_replicas.rs`: three `opsbot serve` processes on one PostgreSQL): the storm's
//! alerts, the example configuration's Slack channels on the fake Slack, the responder's
//! signed slash command, and the figures read from the fake Slack and the store
//! (visibility of every incident, whether every root and board line is current, what is
//! still queued).
#![allow(
    dead_code,
    reason = "each storm benchmark uses its part of this module"
)]

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use opsbot_fakes::slack::{FakeSlack, PostedMessage};

pub const SERVICES: &[&str] = &[
    "wrkhrs-gateway",
    "wrkhrs-rag",
    "wrkhrs-asr",
    "ai-assistant",
    "ollama",
    "alice-backend",
    "ai-orchestration",
];
/// Alertmanager notifies each group this many times during the storm.
pub const NOTIFICATIONS_PER_GROUP: usize = 5;
/// Where the responder types (the channel of the wrkhrs services).
pub const BUSY_CHANNEL: &str = "#ai-operations";
/// The responder: a platform admin of the example configuration.
pub const RESPONDER: &str = "U0PLATFORMADMIN";
pub const BOT_TOKEN: &str = "xoxb-bench";
pub const SIGNING_SECRET: &str = "bench-signing-secret";

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// The storm's size: `BENCH_ALERTS` alerts over `BENCH_GROUPS` groups in
/// `BENCH_STORM_SECS` seconds (10,000 / 200 / 60 by default).
pub struct StormSize {
    pub alerts: usize,
    pub groups: usize,
    pub storm: Duration,
}

impl StormSize {
    pub fn from_env() -> Self {
        Self {
            alerts: env_usize("BENCH_ALERTS", 10_000),
            groups: env_usize("BENCH_GROUPS", 200),
            storm: Duration::from_secs(env_usize("BENCH_STORM_SECS", 60) as u64),
        }
    }

    pub fn notifications(&self) -> usize {
        self.groups * NOTIFICATIONS_PER_GROUP
    }

    /// Notification `k` of the schedule (every group's notifications spread evenly over
    /// the storm): its group and body.
    pub fn notification(&self, k: usize) -> (usize, String) {
        let group = k % self.groups;
        let round = k / self.groups;
        let per_group = self.alerts / self.groups;
        let alerts_so_far = per_group * (round + 1) / NOTIFICATIONS_PER_GROUP;
        (group, notification(group, alerts_so_far))
    }

    /// The time between two notifications.
    pub fn gap(&self) -> Duration {
        self.storm / self.notifications() as u32
    }
}

/// Notification of group `group` with its first `alerts_so_far` alerts, all firing.
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

/// The example configuration's text; with `BENCH_STORM_HORIZON` set (`10s`, `off`),
/// its `[outbox.storm] horizon` replaced by that.
pub fn example_config() -> String {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml");
    let text = std::fs::read_to_string(&path).expect("example config");
    match std::env::var("BENCH_STORM_HORIZON") {
        Ok(horizon) if !horizon.is_empty() => {
            let default = "\nhorizon = \"20s\"\n";
            assert!(text.contains(default), "the example's storm horizon moved");
            text.replacen(default, &format!("\nhorizon = \"{horizon}\"\n"), 1)
        }
        _ => text,
    }
}

/// Names every Slack `#channel` of the example on the fake Slack (as `C0BENCHnn`) and
/// returns the id of [`BUSY_CHANNEL`].
pub fn name_slack_channels(example_text: &str, slack: &FakeSlack) -> String {
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
    for group in ["S0ENGINEERS", "S0AIOPSONCALL"] {
        slack.set_usergroup(group, &[]);
    }
    format!(
        "C0BENCH{:02}",
        names
            .iter()
            .position(|n| *n == BUSY_CHANNEL)
            .expect("the busy channel is in the example")
    )
}

/// The `[slack]` table pointing at `slack` (HTTP mode; slack-morphism's rate control on,
/// as in production), tokens from `SLACK_BOT_TOKEN` / `SLACK_SIGNING_SECRET`.
pub fn slack_section(slack: &FakeSlack) -> String {
    format!(
        "\n[slack]\nmode = \"http\"\nbot_token = \"${{SLACK_BOT_TOKEN}}\"\n\
         signing_secret = \"${{SLACK_SIGNING_SECRET}}\"\napi_url = \"{}\"\nresponse_url_prefix = \"{}\"\nrate_control = true\n",
        slack.api_url(),
        slack.response_url_prefix()
    )
}

/// The responder's `n`th `/incident list` in `channel`, answered through `response_url`:
/// the form body and its Slack signature headers.
pub fn incident_list_command(
    channel: &str,
    response_url: &str,
    n: u64,
) -> (String, [(&'static str, String); 2]) {
    let trigger = format!("{n}.1000.storm");
    let body = opsbot_fakes::slack_request::form(&[
        ("team_id", "T0001"),
        ("channel_id", channel),
        ("channel_name", "ai-operations"),
        ("user_id", RESPONDER),
        ("user_name", "responder"),
        ("command", "/incident"),
        ("text", "list"),
        ("api_app_id", "A0OPSBOT"),
        ("response_url", response_url),
        ("trigger_id", &trigger),
    ]);
    let timestamp = opsbot_fakes::slack_request::now();
    let signature = opsbot_fakes::slack_request::slack_signature(SIGNING_SECRET, timestamp, &body);
    (
        body,
        [
            ("x-slack-request-timestamp", timestamp.to_string()),
            ("x-slack-signature", signature),
        ],
    )
}

/// When each incident first became visible in its Slack channel: its own root
/// (`Incident #N` in the fallback text) or a line on a storm board (`#N ` in its
/// blocks), as sampled from the fake Slack.
#[derive(Default)]
pub struct Visibility {
    pub first_seen: HashMap<i64, Instant>,
    /// How each incident first showed: `board` or `root`, and in which channel.
    pub shown_by: HashMap<i64, (&'static str, String)>,
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
    pub fn sample(&mut self, messages: &[PostedMessage]) {
        let now = Instant::now();
        for message in messages
            .iter()
            .filter(|m| m.thread_ts.is_none() && m.response_url.is_none())
        {
            let text = message.text();
            if text.contains("Storm board") {
                for id in board_ids(&message.content()) {
                    self.first_seen.entry(id).or_insert(now);
                    self.shown_by
                        .entry(id)
                        .or_insert(("board", message.channel.clone()));
                }
            } else if let Some(id) = root_id(text) {
                let at = self.first_seen.entry(id).or_insert(message.posted_at);
                if message.posted_at <= *at {
                    self.shown_by.insert(id, ("root", message.channel.clone()));
                }
                *at = (*at).min(message.posted_at);
            }
        }
    }

    /// Samples the fake Slack four times a second until `stop` says so.
    pub async fn sample_until(
        slack: opsbot_fakes::slack::FakeSlackHandle,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Visibility {
        let mut visibility = Visibility::default();
        loop {
            visibility.sample(&slack.messages());
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stop.changed() => {
                    visibility.sample(&slack.messages());
                    return visibility;
                }
            }
        }
    }

    /// For every incident (`id`, `title` as `Storm{group} …`): how long after its group's
    /// first alert it became visible, sorted; and how many never did.
    pub fn after_first_alert(
        &self,
        titles: &[(i64, String)],
        first_alert: &HashMap<usize, Instant>,
    ) -> (Vec<Duration>, usize) {
        let mut visible_after = Vec::new();
        let mut never_visible = 0usize;
        for (id, title) in titles {
            let group = title
                .strip_prefix("Storm")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|g| g.parse::<usize>().ok());
            let Some(sent) = group.and_then(|g| first_alert.get(&g)) else {
                continue;
            };
            match self.first_seen.get(id) {
                Some(seen) => {
                    let after = seen.saturating_duration_since(*sent);
                    if std::env::var_os("BENCH_STORM_SLOW").is_some()
                        && after > Duration::from_secs(10)
                    {
                        let (by, channel) = self
                            .shown_by
                            .get(id)
                            .cloned()
                            .unwrap_or(("?", String::new()));
                        eprintln!(
                            "slow: incident {id} ({title}) shown by {by} in {channel} after {after:?}"
                        );
                    }
                    visible_after.push(after)
                }
                None => never_visible += 1,
            }
        }
        visible_after.sort();
        (visible_after, never_visible)
    }
}

/// Whether every incident of `firing` (id → final firing count) shows that count in its
/// Slack channel: on its own root (`N firing of M`) or its board line (`· N firing`).
pub fn all_current(messages: &[PostedMessage], firing: &HashMap<i64, i64>) -> bool {
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

/// What the store says about a storm.
pub struct StoreView<'p> {
    pub pool: &'p sqlx::AnyPool,
}

impl StoreView<'_> {
    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.pool)
            .await
            .expect(sql)
    }

    /// Alerts-lane messages queued at or before `before_us` and not yet delivered.
    pub async fn pending_since(&self, before_us: i64) -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND lane = 'alerts' \
             AND created_at_us <= $1",
        )
        .bind(before_us)
        .fetch_one(self.pool)
        .await
        .expect("count pending")
    }

    /// Drained: no message waits and no board is open (folded incidents all unfolded).
    pub async fn drained(&self) -> bool {
        self.count("SELECT COUNT(*) FROM storm_boards WHERE closed_at_us IS NULL")
            .await
            == 0
            && self
                .count("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .await
                == 0
    }

    /// Incident id → alerts firing now, for the incidents with a Slack channel (those
    /// of Discord-only services never show there).
    pub async fn firing(&self) -> HashMap<i64, i64> {
        sqlx::query(
            "SELECT a.incident_id, COUNT(*) FROM incident_alerts a WHERE a.status = 'firing' \
             AND EXISTS (SELECT 1 FROM incident_messages m WHERE m.incident_id = a.incident_id \
               AND m.platform = 'slack') \
             GROUP BY a.incident_id",
        )
        .fetch_all(self.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| (sqlx::Row::get(row, 0), sqlx::Row::get(row, 1)))
        .collect()
    }

    /// The incidents with a Slack channel: id and title.
    pub async fn titles(&self) -> Vec<(i64, String)> {
        sqlx::query(
            "SELECT i.id, i.title FROM incidents i WHERE EXISTS (SELECT 1 FROM \
             incident_messages m WHERE m.incident_id = i.id AND m.platform = 'slack')",
        )
        .fetch_all(self.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| (sqlx::Row::get(row, 0), sqlx::Row::get(row, 1)))
        .collect()
    }

    /// (distinct alerts stored, incidents, outbox messages, boards, incidents folded).
    pub async fn totals(&self) -> (i64, i64, i64, i64, i64) {
        (
            self.count("SELECT COUNT(DISTINCT fingerprint) FROM incident_alerts")
                .await,
            self.count("SELECT COUNT(*) FROM incidents").await,
            self.count("SELECT COUNT(*) FROM outbox").await,
            self.count("SELECT COUNT(*) FROM storm_boards").await,
            self.count("SELECT COUNT(*) FROM incident_messages WHERE storm_board IS NOT NULL")
                .await,
        )
    }

    /// After the storm ended (at `storm_end`, unix µs `storm_end_us`): polls until the
    /// outbox is drained (or `limit`), returning when everything queued by then was
    /// delivered and every root and board line was current (if it happened), and when
    /// it drained.
    pub async fn wait_current_and_drained(
        &self,
        slack: &FakeSlack,
        storm_end: Instant,
        storm_end_us: i64,
        limit: Duration,
    ) -> (Option<Duration>, Duration) {
        let final_firing = self.firing().await;
        let mut current_after = None;
        while storm_end.elapsed() < limit {
            if current_after.is_none()
                && self.pending_since(storm_end_us).await == 0
                && all_current(&slack.messages(), &final_firing)
            {
                current_after = Some(storm_end.elapsed());
            }
            if self.drained().await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (current_after, storm_end.elapsed())
    }
}

/// Command replies: (latencies from sending to the fake taking the answer, sorted;
/// commands not answered through their response URL).
pub fn reply_latencies(
    messages: &[PostedMessage],
    typed: &HashMap<String, Instant>,
) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::new();
    let mut unanswered = 0usize;
    for (url, at) in typed {
        match messages
            .iter()
            .find(|m| m.response_url.as_deref() == Some(url.as_str()))
        {
            Some(reply) => latencies.push(reply.posted_at.duration_since(*at)),
            None => unanswered += 1,
        }
    }
    latencies.sort();
    (latencies, unanswered)
}

/// The lines both benchmarks print about visibility, currency and replies.
pub fn print_figures(
    visible_after: &[Duration],
    never_visible: usize,
    current_after: Option<Duration>,
    limit: Duration,
    replies: &[Duration],
    typed: usize,
    unanswered: usize,
) {
    println!(
        "every incident visible in its channel (own root or board line) after its first alert: p50 {:.1} s  p99 {:.1} s  max {:.1} s ({} incidents; {never_visible} never seen)",
        percentile(visible_after, 0.5) / 1000.0,
        percentile(visible_after, 0.99) / 1000.0,
        percentile(visible_after, 1.0) / 1000.0,
        visible_after.len(),
    );
    match current_after {
        Some(after) => println!(
            "all roots, boards and threads current {:.1} s after the last alert",
            after.as_secs_f64()
        ),
        None => println!(
            "roots, boards and threads NOT found current before the outbox drained ({} s limit)",
            limit.as_secs()
        ),
    }
    println!(
        "command replies during the storm: {typed} typed, {} answered through their response URL ({unanswered} not); sent → answered p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        replies.len(),
        percentile(replies, 0.5),
        percentile(replies, 0.99),
        percentile(replies, 1.0),
    );
}

/// The machine's load average (1, 5, 15 min), printed beside the figures.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Prints the Slack chat calls taken in the first `secs` seconds after `started`, one
/// line each (for `BENCH_STORM_TRACE`: what a channel spent its calls on).
pub fn print_call_log(log: &[opsbot_fakes::slack::TakenCall], started: Instant, secs: f64) {
    for call in log {
        let at = call.at.saturating_duration_since(started).as_secs_f64();
        if at > secs {
            break;
        }
        let kind = match (call.method.as_str(), &call.thread) {
            ("chat.update", _) => "edit ",
            (_, Some(_)) => "reply",
            _ => "post ",
        };
        println!("trace {at:7.2} s {} {kind} {}", call.channel, call.text);
    }
}

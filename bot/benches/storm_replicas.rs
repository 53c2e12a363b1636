//! Benchmark: the alert storm of `storm.rs` against three `opsbot serve` processes (the
//! real binary) sharing one PostgreSQL over TCP (`OPSBOT_BENCH_POSTGRES_URL`, a scratch
//! database per run), the fake Slack of `opsbot-fakes` in rate mode (one
//! `chat.postMessage`/`chat.update` per second per channel, 429 with `Retry-After`
//! beyond) and the fake Discord, on TCP ports all three use. The example configuration,
//! `[slack]` and `[discord]` pointed at the fakes; every replica paces each channel
//! through the store (`outbox_pace`).
//!
//! The storm's notifications go round-robin to the replicas over HTTP, as a load balancer
//! would spread them; the responder's `/incident list` (every 2 s, signed, into the
//! busiest channel) too. A notification whose replica is gone is sent to the next one,
//! as Alertmanager retries.
//!
//! Two runs (`BENCH_RUNS`, default `plain,kill`): all three replicas throughout; and one
//! where, halfway through the storm, the replica holding the outbox lease on the busiest
//! channel's delivery (its `claimed_by`, matched to the process by its "outbox
//! dispatcher started" debug line) is killed with SIGKILL.
//!
//! Reports per run: lost alerts, every incident visible in its Slack channel (own root or
//! board line) within N s of its first alert (p50/p99/max), all roots, boards and threads
//! current N s after the last alert, command replies p50/p99, Slack calls refused with
//! 429, and duplicate posts (identical posts in one thread, counted by the fake).
//!
//! Run: `OPSBOT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p
//! opsbot --bench storm_replicas` (env `BENCH_ALERTS`, `BENCH_GROUPS`, `BENCH_STORM_SECS`,
//! `BENCH_REPLICAS`, `BENCH_RUNS`; a short run for iteration: `BENCH_ALERTS=1000
//! BENCH_GROUPS=40 BENCH_STORM_SECS=15`; `BENCH_STORM_SLOW=1` and `BENCH_STORM_TRACE=SECS` as
//! in `storm.rs`). Not a test: it asserts only that no alert was lost and nothing was
//! posted twice.

mod storm_support;

use std::{
    collections::HashMap,
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use opsbot::store::scratch;
use opsbot_fakes::{discord::FakeDiscord, free_port, slack::FakeSlack};
use storm_support::{
    BOT_TOKEN, BUSY_CHANNEL, SIGNING_SECRET, StoreView, StormSize, Visibility, percentile,
    print_figures,
};

const DISCORD_TOKEN: &str = "MTIwMDAwMDAwMDAwMDAwMDAwMA.bench.bot-token";
const DISCORD_APPLICATION: &str = "1200000000000000000";
/// The Discord channel of the example.
const DISCORD_CHANNEL: &str = "1200000000000000001";
/// A bound for a replica that does not start, not a measurement.
const START_WAIT: Duration = Duration::from_secs(60);

/// One `opsbot serve` process.
struct Replica {
    child: Child,
    port: u16,
    /// Its outbox dispatchers' lease holder names, from its log.
    dispatchers: Arc<Mutex<Vec<String>>>,
    alive: bool,
}

impl Replica {
    fn start(index: usize, config: &Path, database_url: &str) -> Replica {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
            .args(["serve", "-c"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url"])
            .arg(database_url)
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("BENCH_DISCORD_BOT_TOKEN", DISCORD_TOKEN)
            .env("RUST_LOG", "warn,opsbot::outbox::dispatcher=debug")
            .env("NO_COLOR", "1")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start opsbot");
        let dispatchers = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        {
            let dispatchers = dispatchers.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(at) = line.find("dispatcher=dispatcher-") {
                        let id = line[at + "dispatcher=".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or_default();
                        dispatchers.lock().unwrap().push(id.to_string());
                        continue;
                    }
                    eprintln!("[replica {index}] {line}");
                }
            });
        }
        Replica {
            child,
            port,
            dispatchers,
            alive: true,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
        self.alive = false;
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if self.alive {
            self.kill();
        }
    }
}

/// The replicas, and a client to reach them.
struct Fleet {
    replicas: Vec<Replica>,
    http: reqwest::Client,
}

impl Fleet {
    async fn ready(&self) {
        for replica in &self.replicas {
            let deadline = Instant::now() + START_WAIT;
            loop {
                let ready = self
                    .http
                    .get(replica.url("/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    break;
                }
                assert!(Instant::now() < deadline, "a replica did not get ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// POSTs `body` to replica `first` (or the next alive one when it is gone): the
    /// status, and how many replicas refused the connection first.
    async fn post(
        &self,
        first: usize,
        path: &str,
        body: &str,
        headers: &[(&'static str, String)],
        content_type: &str,
    ) -> (u16, usize) {
        let n = self.replicas.len();
        let mut failovers = 0;
        for k in 0..n {
            let replica = &self.replicas[(first + k) % n];
            if !replica.alive {
                continue;
            }
            let mut request = self
                .http
                .post(replica.url(path))
                .header("content-type", content_type)
                .body(body.to_string());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            match request.send().await {
                Ok(response) => return (response.status().as_u16(), failovers),
                Err(_) => failovers += 1,
            }
        }
        (0, failovers)
    }

    /// The replica whose dispatcher holds a lease on a Slack delivery to `channel` now.
    async fn owner_of(&self, pool: &sqlx::AnyPool, channel: &str) -> Option<usize> {
        let holders: Vec<String> = sqlx::query_scalar(
            "SELECT claimed_by FROM outbox WHERE platform = 'slack' AND channel = $1 \
             AND state = 'pending' AND claimed_by LIKE 'dispatcher-%'",
        )
        .bind(channel)
        .fetch_all(pool)
        .await
        .ok()?;
        self.replicas.iter().position(|r| {
            r.alive
                && r.dispatchers
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|d| holders.contains(d))
        })
    }
}

async fn run(base_url: &str, kill_owner: bool) {
    let size = StormSize::from_env();
    let replicas = storm_support::env_usize("BENCH_REPLICAS", 3);
    let (store, database) = scratch::scratch_postgres(base_url)
        .await
        .expect("a scratch database on OPSBOT_BENCH_POSTGRES_URL");
    let dir = tempfile::tempdir().unwrap();
    let example_text = storm_support::example_config();
    let slack = FakeSlack::start(BOT_TOKEN, "xapp-unused").await;
    slack.limit_channel_rate();
    let busy_channel_id = storm_support::name_slack_channels(&example_text, &slack);
    let discord = FakeDiscord::start(DISCORD_TOKEN, DISCORD_APPLICATION).await;
    discord.add_channel(DISCORD_CHANNEL);
    let config_path = dir.path().join("opsbot.toml");
    std::fs::write(
        &config_path,
        format!(
            "{example_text}{}\n[discord]\nmode = \"http\"\napplication_id = \"{DISCORD_APPLICATION}\"\n\
             token = \"${{BENCH_DISCORD_BOT_TOKEN}}\"\n\
             public_key = \"ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c\"\n\
             api_url = \"{}\"\n",
            storm_support::slack_section(&slack),
            discord.url(),
        ),
    )
    .expect("write the bench config");
    let mut fleet = Fleet {
        replicas: (0..replicas)
            .map(|i| Replica::start(i, &config_path, database.url()))
            .collect(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client"),
    };
    fleet.ready().await;

    let notifications = size.notifications();
    let gap = size.gap();
    let started = Instant::now();
    let (stop_sampling, sampling_stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(Visibility::sample_until(
        slack.clone_handle(),
        sampling_stopped,
    ));
    let mut first_alert: HashMap<usize, Instant> = HashMap::new();
    let mut typed: HashMap<String, Instant> = HashMap::new();
    let mut refused = 0usize;
    let mut failovers = 0usize;
    let mut batch_latencies = Vec::with_capacity(notifications);
    let mut next_command = started;
    let mut commands = 0u64;
    let mut killed: Option<(usize, bool)> = None;
    for k in 0..notifications {
        let due = started + gap * k as u32;
        tokio::time::sleep_until(due.into()).await;
        if kill_owner && killed.is_none() && k >= notifications / 2 {
            // Halfway: kill the replica delivering the busiest channel (looked for up to
            // 5 s; if none holds a lease then, the first alive one).
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut owner = None;
            while owner.is_none() && Instant::now() < deadline {
                owner = fleet.owner_of(store.read_pool(), BUSY_CHANNEL).await;
                if owner.is_none() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            let victim = owner.unwrap_or(0);
            fleet.replicas[victim].kill();
            killed = Some((victim, owner.is_some()));
        }
        if Instant::now() >= next_command {
            commands += 1;
            let response_url = slack.response_url(&busy_channel_id, storm_support::RESPONDER);
            let (body, headers) =
                storm_support::incident_list_command(&busy_channel_id, &response_url, commands);
            typed.insert(response_url, Instant::now());
            let (status, _) = fleet
                .post(
                    commands as usize,
                    "/slack/commands",
                    &body,
                    &headers,
                    "application/x-www-form-urlencoded",
                )
                .await;
            assert!(
                (200..300).contains(&status),
                "slash command refused: {status}"
            );
            next_command += Duration::from_secs(2);
        }
        let (group, body) = size.notification(k);
        let t = Instant::now();
        first_alert.entry(group).or_insert(t);
        let (status, failed_over) = fleet
            .post(k, "/alerts/alertmanager", &body, &[], "application/json")
            .await;
        failovers += failed_over;
        batch_latencies.push(t.elapsed());
        if !(200..300).contains(&status) {
            refused += 1;
        }
    }
    let storm_took = started.elapsed();

    let storm_end = Instant::now();
    let storm_end_us = jiff::Timestamp::now().as_microsecond();
    let drain_limit = Duration::from_secs(1800);
    let view = StoreView {
        pool: store.read_pool(),
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
    let (reply_latencies, unanswered) = storm_support::reply_latencies(&messages, &typed);
    batch_latencies.sort();
    let lost = size.alerts as i64 - stored;
    let slack_channels = slack.channel_calls();
    let slack_calls: usize = slack_channels.values().map(|c| c.taken).sum();
    let slack_refused: usize = slack_channels.values().map(|c| c.refused).sum();
    let busiest = slack_channels.values().map(|c| c.taken).max().unwrap_or(0);
    let duplicates = slack.duplicate_posts();
    let discord_duplicates = {
        let mut seen = std::collections::HashSet::new();
        discord
            .messages()
            .iter()
            .filter(|m| {
                let first = m.edits.first().unwrap_or(&m.body).to_string();
                !seen.insert((m.channel_id.clone(), first))
            })
            .count()
    };
    drop(fleet);

    println!(
        "replicas: {replicas} × opsbot serve on PostgreSQL over TCP{}; load {}",
        match killed {
            Some((victim, true)) => format!(
                "; replica {victim} (holding the busiest channel's delivery) killed with SIGKILL halfway"
            ),
            Some((victim, false)) => format!(
                "; replica {victim} killed with SIGKILL halfway (no lease on the busiest channel was held then)"
            ),
            None => String::new(),
        },
        storm_support::load(),
    );
    println!(
        "storm: {} alerts over {} groups in {notifications} notifications, {:.1} s; batches refused {refused}, sent again to another replica {failovers}; batch p50 {:.2} ms p99 {:.2} ms",
        size.alerts,
        size.groups,
        storm_took.as_secs_f64(),
        percentile(&batch_latencies, 0.5),
        percentile(&batch_latencies, 0.99),
    );
    println!("stored: {stored} distinct alerts in {incidents} incidents; lost alerts: {lost}");
    println!(
        "slack    {} channels: {slack_calls} chat calls, {slack_refused} refused with 429 (Retry-After); {} command replies through response URLs; duplicate posts {duplicates}",
        slack_channels.len(),
        slack.calls("response_url"),
    );
    println!(
        "discord  {} messages; duplicate posts {discord_duplicates} (identical first versions in one channel)",
        discord.messages().len(),
    );
    println!(
        "outbox: {queued} messages queued; storm boards: {boards} opened, {folded} incidents folded into them"
    );
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
        unanswered,
    );
    println!(
        "outbox drained {:.1} s after the storm ({:.1} s after it began); the busiest Slack channel took {busiest} calls",
        caught_up.as_secs_f64(),
        (storm_end - started + caught_up).as_secs_f64(),
    );
    store.close().await;
    database
        .drop_database()
        .await
        .expect("drop the scratch database");
    assert_eq!(lost, 0, "alerts were lost");
    assert_eq!(duplicates + discord_duplicates, 0, "posts were repeated");
}

#[tokio::main]
async fn main() {
    let Some(base_url) = std::env::var("OPSBOT_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("storm_replicas: set OPSBOT_BENCH_POSTGRES_URL (a PostgreSQL server over TCP)");
        return;
    };
    let runs = std::env::var("BENCH_RUNS").unwrap_or_else(|_| "plain,kill".into());
    for run_name in runs.split(',').map(str::trim) {
        match run_name {
            "plain" => run(&base_url, false).await,
            "kill" => run(&base_url, true).await,
            other => panic!("BENCH_RUNS: unknown run {other:?} (plain, kill)"),
        }
        println!();
    }
}

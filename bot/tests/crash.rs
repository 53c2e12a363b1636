//! `kill -9` in the middle of an alert storm. The real `opsbot` binary takes Alertmanager
//! notifications over HTTP and posts incident threads to a fake Slack Web API
//! (`opsbot_fakes::slack`) that answers every chat call slowly, so the kill lands while
//! posts are in flight (Slack has them, opsbot has not recorded them yet). Two scenarios:
//! one process on SQLite, killed and restarted; two replicas on one PostgreSQL, both
//! taking notifications (the same ones, as retries, too), one of them killed.
//!
//! Checked once the outbox has drained:
//! * every alert of every acknowledged notification is in the store (acknowledged means
//!   committed; a notification cut off by the kill is sent again, as Alertmanager does);
//! * every message Slack holds is one the outbox recorded as delivered: nothing was
//!   posted twice, including the posts that were in flight at the kill (the restarted
//!   dispatcher finds them by their outbox tag instead of posting again);
//! * each incident has exactly one root, edited to resolved at the end;
//! * nothing was parked as failed.

use opsbot_fakes::free_port;
use std::{
    collections::{BTreeSet, HashMap},
    io::{Read as _, Write as _},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use opsbot::store::scratch;
use opsbot_fakes::slack::FakeSlack;
use sqlx::Row as _;

const BOT_TOKEN: &str = "xoxb-crash-test-token";
const SIGNING_SECRET: &str = "crash-test-signing-secret";
const SERVICES: &[(&str, &str)] = &[
    ("svc-a", "C0CRASHA"),
    ("svc-b", "C0CRASHB"),
    ("svc-c", "C0CRASHC"),
    ("svc-d", "C0CRASHD"),
];
const GROUPS: usize = 24;
const ROUNDS: usize = 3;
const ALERTS_PER_ROUND: usize = 10;
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(90);

fn config_text(api_url: &str) -> String {
    let mut text = format!(
        r#"
[outbox]
channel_rate = 0
lease = "2s"
retry_base = "100ms"
poll_interval = "50ms"

[slack]
mode = "http"
bot_token = "${{CRASH_SLACK_BOT_TOKEN}}"
signing_secret = "${{CRASH_SLACK_SIGNING_SECRET}}"
api_url = "{api_url}"
rate_control = false

[alerts]
default_channel = {{ slack = "C0CRASHDEFAULT" }}

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"
"#
    );
    for (name, channel) in SERVICES {
        text.push_str(&format!(
            "\n[[services]]\nname = \"{name}\"\nenvironment = \"prod\"\nchannels = {{ slack = \"{channel}\" }}\n"
        ));
    }
    text
}

fn start(config: &Path, database_url: &str, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "-c"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url"])
        .arg(database_url)
        .env("CRASH_SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("CRASH_SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start opsbot");
    let deadline = Instant::now() + WAIT;
    // Any HTTP answer means it is up (a POST to `/healthz` is a 405).
    while post(port, "/healthz", "").is_none() {
        assert!(Instant::now() < deadline, "opsbot did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// POSTs `body`; the status, or `None` when the connection failed (opsbot down).
fn post(port: u16, path: &str, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// Notification `round` of group `group`: its alerts so far, firing (or all resolved).
fn notification(group: usize, round: usize, resolved: bool) -> (String, Vec<String>) {
    let (service, _) = SERVICES[group % SERVICES.len()];
    let alertname = format!("Crash{group}");
    let status = if resolved { "resolved" } else { "firing" };
    let count = ALERTS_PER_ROUND * (round + 1);
    let fingerprints: Vec<String> = (0..count)
        .map(|i| format!("{:016x}", group * 1000 + i))
        .collect();
    let alerts: Vec<String> = fingerprints
        .iter()
        .enumerate()
        .map(|(i, fingerprint)| {
            format!(
                r#"{{"status":"{status}","labels":{{"alertname":"{alertname}","service":"{service}","instance":"host-{i}","severity":"critical"}},"annotations":{{"summary":"crash alert {i}"}},"startsAt":"2026-11-21T08:00:00Z","fingerprint":"{fingerprint}"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"{alertname}\"}}","status":"{status}","receiver":"opsbot","groupLabels":{{"alertname":"{alertname}"}},"commonLabels":{{}},"commonAnnotations":{{}},"alerts":[{}]}}"#,
        alerts.join(",")
    );
    (body, fingerprints)
}

/// Sends a notification until opsbot acknowledges it (as Alertmanager retries 5xx and
/// connection errors); the caller restarts opsbot when `down` says it is gone.
fn deliver(port: u16, body: &str) -> bool {
    matches!(post(port, "/alerts/alertmanager", body), Some(200..=299))
}

/// Where the opsbot processes of a scenario store their state.
struct Replicas {
    config: std::path::PathBuf,
    database_url: String,
    ports: Vec<u16>,
}

impl Replicas {
    fn start(&self, replica: usize) -> Child {
        start(&self.config, &self.database_url, self.ports[replica])
    }
}

/// Runs the storm against `replicas` (notification `i` goes to replica `i % n`, and
/// every third one is sent to the next replica too, as a retry would be), kills replica
/// 0 with `kill -9` a third of the way in, restarts it when `restart`, then resolves
/// everything and checks the store and Slack.
async fn storm_with_a_kill(slack: FakeSlack, replicas: Replicas, restart: bool) {
    let mut schedule: Vec<(String, Vec<String>)> = Vec::new();
    for round in 0..ROUNDS {
        for group in 0..GROUPS {
            schedule.push(notification(group, round, false));
        }
    }
    let kill_after = schedule.len() / 3;
    let slack_calls = slack.clone_handle();
    let database_url = replicas.database_url.clone();
    let run = tokio::task::spawn_blocking(move || {
        let n = replicas.ports.len();
        let mut children: Vec<Option<Child>> = (0..n).map(|r| Some(replicas.start(r))).collect();
        let mut sent = BTreeSet::new();
        let mut posts_at_kill = 0;
        for (index, (body, fingerprints)) in schedule.iter().enumerate() {
            if index == kill_after {
                // Wait until posts are flowing, then kill -9 in the middle of them.
                let deadline = Instant::now() + WAIT;
                while slack_calls.calls("chat.postMessage") < 10 {
                    assert!(Instant::now() < deadline, "nothing was posted");
                    std::thread::sleep(Duration::from_millis(10));
                }
                let mut victim = children[0].take().unwrap();
                victim.kill().unwrap();
                victim.wait().unwrap();
                posts_at_kill = slack_calls.calls("chat.postMessage");
                if restart {
                    children[0] = Some(replicas.start(0));
                }
            }
            let up: Vec<usize> = (0..n).filter(|r| children[*r].is_some()).collect();
            let first = up[index % up.len()];
            let deadline = Instant::now() + WAIT;
            while !deliver(replicas.ports[first], body) {
                assert!(
                    Instant::now() < deadline,
                    "a notification was never acknowledged"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            if index % 3 == 0 && up.len() > 1 {
                // The same notification again, at another replica.
                let other = up[(index + 1) % up.len()];
                assert!(deliver(replicas.ports[other], body), "a retry was refused");
            }
            sent.extend(fingerprints.iter().cloned());
        }
        // Everything resolves: every root is edited to say so.
        for group in 0..GROUPS {
            let (body, _) = notification(group, ROUNDS - 1, true);
            let up: Vec<usize> = (0..n).filter(|r| children[*r].is_some()).collect();
            assert!(
                deliver(replicas.ports[up[group % up.len()]], &body),
                "resolution refused"
            );
        }
        (children, sent, posts_at_kill)
    });
    let (children, sent, posts_at_kill) = run.await.unwrap();

    // Drain: every outbox message delivered.
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&database_url)
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} messages never delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for mut child in children.into_iter().flatten() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(posts_at_kill >= 10, "the kill came after posts had started");

    // No alert lost.
    let stored: BTreeSet<String> =
        sqlx::query_scalar("SELECT DISTINCT fingerprint FROM incident_alerts")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let missing: Vec<&String> = sent.difference(&stored).collect();
    assert!(missing.is_empty(), "alerts lost: {missing:?}");
    let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'failed'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(failed, 0, "messages parked as failed");

    // Nothing posted twice: every message Slack holds is recorded as delivered.
    let recorded: BTreeSet<String> = sqlx::query(
        "SELECT message_ref FROM outbox WHERE state = 'delivered' AND message_ref IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|row| row.get::<String, _>(0))
    .collect();
    let messages = slack.messages();
    let unrecorded: Vec<String> = messages
        .iter()
        .filter(|m| !recorded.contains(&m.ts))
        .map(|m| format!("{} {} {:?}", m.channel, m.ts, m.text()))
        .collect();
    assert!(
        unrecorded.is_empty(),
        "posted but not recorded (posted twice): {unrecorded:#?}"
    );

    // One root per incident, resolved at the end.
    let incidents: Vec<i64> = sqlx::query_scalar("SELECT id FROM incidents ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(incidents.len(), GROUPS);
    let mut roots: HashMap<i64, usize> = HashMap::new();
    for message in messages.iter().filter(|m| m.thread_ts.is_none()) {
        for id in &incidents {
            if message.content().contains(&format!("Incident #{id}:")) {
                *roots.entry(*id).or_default() += 1;
                assert!(
                    message.content().contains("resolved"),
                    "root of incident {id} not edited to resolved: {}",
                    message.text()
                );
            }
        }
    }
    for id in &incidents {
        assert_eq!(roots.get(id), Some(&1), "roots of incident {id}");
    }
    slack.shutdown();
}

/// A fake Slack whose chat calls take 150 ms after Slack took them (posts are in flight
/// at the kill), and a config pointing at it.
async fn slow_slack(dir: &Path) -> (FakeSlack, std::path::PathBuf) {
    let slack = FakeSlack::start(BOT_TOKEN, "xapp-unused").await;
    slack.set_answer_delay(Duration::from_millis(150));
    let config = dir.join("opsbot.toml");
    std::fs::write(&config, config_text(&slack.api_url())).unwrap();
    (slack, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_storm_loses_no_alert_and_posts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (slack, config) = slow_slack(dir.path()).await;
    let replicas = Replicas {
        config,
        database_url: format!("sqlite://{}", dir.path().join("crash.db").display()),
        ports: vec![free_port()],
    };
    storm_with_a_kill(slack, replicas, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_share_the_storm_and_survive_losing_one() {
    let Some(base) = scratch::postgres_url_or_skip("two_replicas_on_postgres") else {
        return;
    };
    let (store, database) = scratch::scratch_postgres(&base).await.unwrap();
    store.close().await;
    let dir = tempfile::tempdir().unwrap();
    let (slack, config) = slow_slack(dir.path()).await;
    let replicas = Replicas {
        config,
        database_url: database.url().to_string(),
        ports: vec![free_port(), free_port()],
    };
    storm_with_a_kill(slack, replicas, false).await;
    database.drop_database().await.unwrap();
}

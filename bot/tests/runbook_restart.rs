//! `kill -9` in the middle of a runbook run. The real `opsbot` binary runs a runbook of
//! three `http` steps against a local endpoint (written here) that counts requests per
//! path: the first answers, the second takes the connection and never answers (so the
//! step is certainly in flight), the third must never be reached. The test kills opsbot
//! while step 2 is in flight, starts it again on the same store, and checks:
//! * the run's thread says the run was interrupted, and `runbook status` says so too;
//! * step 2 is `interrupted`, step 3 still `pending`, the run `interrupted`;
//! * nothing ran twice or by itself: one request to each of the first two paths, none
//!   to the third.

use std::{
    collections::HashMap,
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use opsbot_fakes::{
    free_port,
    slack::FakeSlack,
    slack_request::{form, slack_signature},
};
use serde_json::json;
use sqlx::Row as _;

const BOT_TOKEN: &str = "xoxb-runbook-restart-token";
const SIGNING_SECRET: &str = "runbook-restart-signing-secret";
const CHANNEL: &str = "C0RUNBOOK";
const ALICE: &str = "U0ALICE";
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(60);

/// A child process killed (and reaped) when dropped, so a failing test leaves no
/// `opsbot serve` behind.
struct KillOnDrop(Child);

impl KillOnDrop {
    /// `kill -9` now (SIGKILL on Unix), and reap it.
    fn kill_9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Counts requests per path; `/hang` is held open and never answered.
fn admin_endpoint() -> (u16, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let counted = counts.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let path = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            *counted.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
            if path == "/hang" {
                held.push(stream); // in flight until the process dies
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        }
    });
    (port, counts)
}

fn config_text(slack_url: &str, admin_port: u16) -> String {
    let root = slack_url.trim_end_matches("/api");
    format!(
        r#"
[outbox]
channel_rate = 0
lease = "1s"
retry_base = "100ms"
poll_interval = "50ms"

[slack]
mode = "http"
bot_token = "${{RESTART_SLACK_BOT_TOKEN}}"
signing_secret = "${{RESTART_SLACK_SIGNING_SECRET}}"
api_url = "{slack_url}"
response_url_prefix = "{root}/response/"
rate_control = false
progress_after = "10m"

[roles.responder]
allow = [{{ commands = ["runbook", "confirm", "cancel"] }}]

[[bindings]]
role = "responder"
subjects = ["slack:{ALICE}"]

[[runbooks]]
name = "three-calls"
description = "Three admin calls; the second never answers"
steps = [
  {{ kind = "http", method = "POST", url = "http://127.0.0.1:{admin_port}/first" }},
  {{ kind = "http", method = "POST", url = "http://127.0.0.1:{admin_port}/hang", timeout = "5m" }},
  {{ kind = "http", method = "POST", url = "http://127.0.0.1:{admin_port}/after" }},
]
"#
    )
}

fn start(config: &Path, database_url: &str, port: u16) -> KillOnDrop {
    let child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "-c"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url"])
        .arg(database_url)
        .env("RESTART_SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("RESTART_SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start opsbot");
    let child = KillOnDrop(child);
    let deadline = Instant::now() + WAIT;
    while post(port, "/healthz", "application/json", &[], "").is_none() {
        assert!(Instant::now() < deadline, "opsbot did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// POSTs a request; the status, or `None` when the connection failed.
fn post(
    port: u16,
    path: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// POSTs a form body signed the way Slack signs.
fn post_signed(port: u16, path: &str, body: &str) {
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = slack_signature(SIGNING_SECRET, timestamp, body);
    let status = post(
        port,
        path,
        "application/x-www-form-urlencoded",
        &[
            ("x-slack-request-timestamp", timestamp.to_string()),
            ("x-slack-signature", signature),
        ],
        body,
    );
    assert_eq!(status, Some(200), "{path}");
}

fn slash(port: u16, text: &str, response_url: &str, trigger: usize) {
    let body = form(&[
        ("team_id", "T0001"),
        ("channel_id", CHANNEL),
        ("channel_name", "ops"),
        ("user_id", ALICE),
        ("user_name", "alice"),
        ("command", "/ops"),
        ("text", text),
        ("api_app_id", "A0OPSBOT"),
        ("response_url", response_url),
        ("trigger_id", &format!("{trigger}.47445629121.803a0bc887")),
    ]);
    post_signed(port, "/slack/commands", &body);
}

fn press(port: u16, message_ts: &str, command: &str, response_url: &str) {
    let payload = json!({
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": ALICE, "username": "alice", "team_id": "T0001"},
        "api_app_id": "A0OPSBOT",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "9.47445629121.e1b9",
        "channel": {"id": CHANNEL, "name": "ops"},
        "message": {"type": "message", "ts": message_ts, "text": "confirm"},
        "response_url": response_url,
        "actions": [{
            "type": "button", "action_id": "opsbot:0", "block_id": "b0",
            "text": {"type": "plain_text", "text": "Confirm"},
            "value": command, "action_ts": "1700000100.000001"
        }]
    });
    post_signed(
        port,
        "/slack/interactions",
        &form(&[("payload", &payload.to_string())]),
    );
}

fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_by_kill_9_is_reported_interrupted_and_nothing_runs_twice() {
    let slack = FakeSlack::start(BOT_TOKEN, "xapp-unused").await;
    let (admin_port, counts) = admin_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    std::fs::write(&config, config_text(&slack.api_url(), admin_port)).unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
    let count = |path: &str| counts.lock().unwrap().get(path).copied().unwrap_or(0);

    let port = free_port();
    let mut first = start(&config, &database_url, port);
    let response_url = slack.response_url(CHANNEL, ALICE);
    slash(port, "runbook run three-calls", &response_url, 1);
    let ask = {
        let slack = &slack;
        let response_url = response_url.clone();
        let found = move || {
            slack.messages().into_iter().find(|m| {
                m.response_url.as_deref() == Some(response_url.as_str())
                    && m.content().contains("Confirm")
            })
        };
        wait_for("the confirmation", || found().is_some());
        found().unwrap()
    };
    let confirm = ask
        .button_values()
        .into_iter()
        .find(|v| v.starts_with("confirm "))
        .expect("a Confirm button");
    press(port, &ask.ts, &confirm, &slack.response_url(CHANNEL, ALICE));
    wait_for("step 2 in flight", || count("/hang") == 1);
    assert_eq!(count("/first"), 1);
    first.kill_9();

    let port = free_port();
    let _second = start(&config, &database_url, port);
    let root = {
        let found = || {
            slack
                .messages_in(CHANNEL)
                .into_iter()
                .find(|m| m.thread_ts.is_none() && m.content().contains("run #1"))
        };
        wait_for("the run's message", || found().is_some());
        found().unwrap()
    };
    wait_for("the thread to say interrupted", || {
        slack
            .thread(&root.ts)
            .iter()
            .any(|m| m.content().contains("was interrupted"))
    });
    let status_url = slack.response_url(CHANNEL, ALICE);
    slash(port, "runbook status 1", &status_url, 2);
    wait_for("the status answer", || {
        slack.messages().iter().any(|m| {
            m.response_url.as_deref() == Some(status_url.as_str())
                && m.content().contains("interrupted")
        })
    });
    assert_eq!(count("/first"), 1, "step 1 ran once");
    assert_eq!(count("/hang"), 1, "the interrupted step was not run again");
    assert_eq!(count("/after"), 0, "nothing after it ran by itself");

    let store = opsbot::store::Store::connect(&database_url, 2)
        .await
        .unwrap();
    let run_state: String = sqlx::query("SELECT state FROM runbook_runs WHERE id = 1")
        .fetch_one(store.read_pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(run_state, "interrupted");
    let steps: Vec<String> =
        sqlx::query("SELECT state FROM runbook_run_steps WHERE run_id = 1 ORDER BY position")
            .fetch_all(store.read_pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert_eq!(steps, ["ok", "interrupted", "pending"]);
    store.close().await;
    slack.shutdown();
}

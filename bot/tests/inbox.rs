//! `kill -9` with chat commands acknowledged and in flight. The real `opsbot` binary
//! takes signed Slack slash commands and Discord interactions over HTTP; some are quick
//! (`whoami`, answered before the kill), the others check the health of a service whose
//! health endpoint (a listener in this test) accepts connections and never answers, so
//! they are certainly running — acknowledged, not finished — when the test has seen
//! every one of them connect and kills opsbot. Then opsbot is started again on the same
//! store, every request is sent again (the identical signed bodies, still inside the
//! signature window: a replay), and a last fresh command of each platform is answered.
//!
//! Checked, on SQLite and on PostgreSQL (there the restarted process takes the dead
//! one's invocations over once their lease lapsed):
//! * every acknowledged invocation got exactly one answer where the user sees it (its
//!   Slack `response_url`, its Discord interaction's original response): its result, or
//!   "opsbot restarted before … finished" for those in flight;
//! * every one has exactly one audit record (the interrupted ones `cancelled`);
//! * no replay ran anything (no second answer or audit record; the health endpoint was
//!   reached only by the first runs) and none is left open in the inbox.

use std::{
    collections::HashMap,
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use ed25519_dalek::{Signer as _, SigningKey};
use opsbot::store::scratch;
use opsbot_fakes::slack_request::slack_signature;
use opsbot_fakes::{
    discord::{FakeDiscord, Origin},
    free_port,
    slack::FakeSlack,
};
use serde_json::{Value, json};

const SLACK_BOT_TOKEN: &str = "xoxb-inbox-test-token";
const SLACK_SIGNING_SECRET: &str = "inbox-test-signing-secret";
const DISCORD_TOKEN: &str = "discord-inbox-test-token";
const APPLICATION: &str = "1100000000000000000";
const GUILD: &str = "1200000000000000000";
const DISCORD_CHANNEL: &str = "1300000000000000001";
const DISCORD_ROLE: &str = "1400000000000000001";
const SLACK_CHANNEL: &str = "C0INBOX";
const KEY_SEED: [u8; 32] = [7; 32];
/// Invocations of each platform answered before the kill, and in flight at the kill.
const QUICK: usize = 4;
const SLOW: usize = 4;
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(90);

fn slack_user(n: usize) -> String {
    format!("U0INBOX{n:03}")
}

fn discord_user(n: usize) -> String {
    format!("{}", 1_500_000_000_000_000_000u64 + n as u64)
}

fn config_text(slack_url: &str, discord_url: &str, health_port: u16) -> String {
    // The fake's response URLs live beside its Web API (`http://ADDR/response/…`).
    let slack_url_root = slack_url.trim_end_matches("/api");
    let public_key = hex::encode(SigningKey::from_bytes(&KEY_SEED).verifying_key().to_bytes());
    let users: Vec<String> = (0..QUICK + SLOW + 1)
        .map(|n| format!("\"slack:{}\"", slack_user(n)))
        .collect();
    format!(
        r#"
[outbox]
channel_rate = 0
lease = "1s"
retry_base = "100ms"
poll_interval = "50ms"

[slack]
mode = "http"
bot_token = "${{INBOX_SLACK_BOT_TOKEN}}"
signing_secret = "${{INBOX_SLACK_SIGNING_SECRET}}"
api_url = "{slack_url}"
response_url_prefix = "{slack_url_root}/response/"
rate_control = false
progress_after = "10m"

[discord]
mode = "http"
application_id = "{APPLICATION}"
token = "${{INBOX_DISCORD_TOKEN}}"
public_key = "{public_key}"
api_url = "{discord_url}"
guild_id = "{GUILD}"

[[services]]
name = "stuck"
environment = "prod"
health = [{{ kind = "http", name = "health", url = "http://127.0.0.1:{health_port}/health", timeout = "50s" }}]

[roles.operator]
allow = [{{ commands = ["whoami", "health"] }}]

[[bindings]]
role = "operator"
subjects = [{}, "discord-role:{DISCORD_ROLE}"]
"#,
        users.join(", ")
    )
}

/// A health endpoint that takes connections and never answers; counts them.
fn hanging_endpoint() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            held.push(stream); // kept open, never answered
        }
    });
    (port, connections)
}

fn start(config: &Path, database_url: &str, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "-c"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url"])
        .arg(database_url)
        .env("INBOX_SLACK_BOT_TOKEN", SLACK_BOT_TOKEN)
        .env("INBOX_SLACK_SIGNING_SECRET", SLACK_SIGNING_SECRET)
        .env("INBOX_DISCORD_TOKEN", DISCORD_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start opsbot");
    let deadline = Instant::now() + WAIT;
    while post(port, &Signed::empty("/healthz")).is_none() {
        assert!(Instant::now() < deadline, "opsbot did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A request as a platform signed it (sent again unchanged to replay it).
#[derive(Clone)]
struct Signed {
    path: &'static str,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Signed {
    fn empty(path: &'static str) -> Self {
        Self {
            path,
            content_type: "application/json",
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// A slash command by `user`, answering through `response_url`, signed now.
    fn slack(user: &str, text: &str, response_url: &str, trigger: usize) -> Self {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("team_id", "T0001"),
            ("channel_id", SLACK_CHANNEL),
            ("channel_name", "ops"),
            ("user_id", user),
            ("user_name", &user.to_lowercase()),
            ("command", "/ops"),
            ("text", text),
            ("api_app_id", "A0OPSBOT"),
            ("response_url", response_url),
            (
                "trigger_id",
                &format!("{trigger}.47445629121.803a0bc887a14d10d2c447fce8b6703c"),
            ),
        ] {
            form.append_pair(key, value);
        }
        let body = form.finish();
        let timestamp = jiff::Timestamp::now().as_second();
        let signature = slack_signature(SLACK_SIGNING_SECRET, timestamp, &body);
        Self {
            path: "/slack/commands",
            content_type: "application/x-www-form-urlencoded",
            headers: vec![
                ("x-slack-request-timestamp", timestamp.to_string()),
                ("x-slack-signature", signature),
            ],
            body,
        }
    }

    /// A slash command interaction `/name options` by `user`, signed now.
    fn discord(id: &str, token: &str, user: &str, name: &str, options: Value) -> Self {
        let body = json!({
            "type": 2,
            "id": id,
            "application_id": APPLICATION,
            "token": token,
            "version": 1,
            "guild_id": GUILD,
            "channel_id": DISCORD_CHANNEL,
            "channel": { "id": DISCORD_CHANNEL, "type": 0, "guild_id": GUILD, "name": "ops" },
            "member": {
                "user": { "id": user, "username": "member", "global_name": "member",
                          "discriminator": "0", "avatar": null },
                "roles": [DISCORD_ROLE],
                "nick": null,
                "joined_at": "2026-01-05T10:00:00.000000+00:00",
                "deaf": false, "mute": false, "flags": 0, "pending": false,
                "permissions": "2248473465835073",
            },
            "app_permissions": "2248473465835073",
            "locale": "en-GB",
            "entitlements": [],
            "authorizing_integration_owners": { "0": GUILD },
            "context": 0,
            "data": { "id": "1250000000000000000", "name": name, "type": 1, "options": options },
        })
        .to_string();
        let timestamp = jiff::Timestamp::now().as_second().to_string();
        let signature = hex::encode(
            SigningKey::from_bytes(&KEY_SEED)
                .sign(&[timestamp.as_bytes(), body.as_bytes()].concat())
                .to_bytes(),
        );
        Self {
            path: "/discord/interactions",
            content_type: "application/json",
            headers: vec![
                ("x-signature-ed25519", signature),
                ("x-signature-timestamp", timestamp),
            ],
            body,
        }
    }
}

/// POSTs `request`; the status and body, or `None` when the connection failed.
fn post(port: u16, request: &Signed) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.path,
        request.content_type,
        request.body.len()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}\r\n{}", request.body).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Some((status, body))
}

fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One invocation the test sent: how to replay it and where its answer shows.
struct Sent {
    request: Signed,
    /// Slack: its response URL; Discord: its interaction token.
    answer_at: String,
    actor: String,
    slow: bool,
}

/// The answers the user sees for `sent`: Slack messages posted through its response
/// URL; the edits of its Discord original response.
fn answers(slack: &FakeSlack, discord: &FakeDiscord, sent: &Sent) -> Vec<String> {
    if sent.request.path == "/slack/commands" {
        slack
            .messages()
            .into_iter()
            .filter(|m| m.response_url.as_deref() == Some(sent.answer_at.as_str()))
            .map(|m| m.content())
            .collect()
    } else {
        discord
            .interaction_messages(&sent.answer_at)
            .into_iter()
            .flat_map(|m| match m.origin {
                Origin::Followup(_) => vec![m.body.to_string()],
                // The original: every edit replaced the previous body; the first body
                // is the deferral ("thinking…").
                _ => {
                    let mut bodies: Vec<String> =
                        m.edits.iter().skip(1).map(Value::to_string).collect();
                    if !m.edits.is_empty() {
                        bodies.push(m.body.to_string());
                    }
                    bodies
                }
            })
            .collect()
    }
}

async fn kill_9_with_commands_in_flight(database_url: String, dir: &Path) {
    let slack = FakeSlack::start(SLACK_BOT_TOKEN, "xapp-unused").await;
    let discord = FakeDiscord::start(DISCORD_TOKEN, APPLICATION).await;
    discord.add_channel(DISCORD_CHANNEL);
    let (health_port, connections) = hanging_endpoint();
    let config = dir.join("opsbot.toml");
    std::fs::write(
        &config,
        config_text(&slack.api_url(), &discord.url(), health_port),
    )
    .unwrap();
    let port = free_port();
    let slack_handle = slack.clone_handle();
    let database = database_url.clone();
    let reached = connections.clone();
    let (slack, discord, sent, mut child) = tokio::task::spawn_blocking(move || {
        let mut child = start(&config, &database, port);
        let mut sent: Vec<Sent> = Vec::new();
        let mut invoke = |n: usize, slow: bool| {
            let (text, name, options) = if slow {
                (
                    "health stuck",
                    "health",
                    json!([{ "name": "service", "type": 3, "value": "stuck" }]),
                )
            } else {
                ("whoami", "whoami", json!([]))
            };
            let user = slack_user(n);
            let url = slack_handle.response_url(SLACK_CHANNEL, &user);
            let request = Signed::slack(&user, text, &url, 1000 + n);
            let (status, body) = post(port, &request).expect("opsbot answers");
            assert_eq!(status, 200, "{body}");
            assert!(body.contains('⏳'), "acknowledged: {body}");
            sent.push(Sent {
                request,
                answer_at: url,
                actor: user,
                slow,
            });
            let id = format!("{}", 1_600_000_000_000_000_000u64 + n as u64);
            let token = format!("aW50ZXJhY3Rpb24tdG9rZW4-inbox-{n}");
            let user = discord_user(n);
            let request = Signed::discord(&id, &token, &user, name, options);
            let (status, body) = post(port, &request).expect("opsbot answers");
            assert_eq!(status, 200, "{body}");
            let answer: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(answer, json!({"type": 5}), "deferred");
            discord.acknowledge(&id, &token, &answer);
            sent.push(Sent {
                request,
                answer_at: token,
                actor: user,
                slow,
            });
        };
        for n in 0..QUICK {
            invoke(n, false);
        }
        for n in QUICK..QUICK + SLOW {
            invoke(n, true);
        }
        for one in sent.iter().filter(|s| !s.slow) {
            wait_for("the quick answers", || {
                !answers(&slack, &discord, one).is_empty()
            });
        }
        // Every slow command is running: its health check is connected and waiting.
        wait_for("every slow command to reach the health endpoint", || {
            reached.load(Ordering::SeqCst) == 2 * SLOW
        });
        child.kill().unwrap();
        child.wait().unwrap();

        let child = start(&config, &database, port);
        for one in sent.iter().filter(|s| s.slow) {
            wait_for("the report of an interrupted command", || {
                !answers(&slack, &discord, one).is_empty()
            });
        }
        // The identical signed requests again, after the restart: refused, acknowledged.
        for one in &sent {
            let (status, body) = post(port, &one.request).expect("opsbot answers");
            assert_eq!(status, 200, "a replay is acknowledged: {body}");
            assert!(!body.contains('⏳'), "a replay is not taken as new: {body}");
        }
        // A fresh command of each platform, answered after the replays were refused.
        let n = QUICK + SLOW;
        let user = slack_user(n);
        let url = slack_handle.response_url(SLACK_CHANNEL, &user);
        let request = Signed::slack(&user, "whoami", &url, 1000 + n);
        assert_eq!(post(port, &request).unwrap().0, 200);
        let last_slack = Sent {
            request,
            answer_at: url,
            actor: user,
            slow: false,
        };
        let id = format!("{}", 1_600_000_000_000_000_000u64 + n as u64);
        let token = format!("aW50ZXJhY3Rpb24tdG9rZW4-inbox-{n}");
        let user = discord_user(n);
        let request = Signed::discord(&id, &token, &user, "whoami", json!([]));
        let (status, body) = post(port, &request).unwrap();
        assert_eq!(status, 200);
        discord.acknowledge(&id, &token, &serde_json::from_str(&body).unwrap());
        let last_discord = Sent {
            request,
            answer_at: token,
            actor: user,
            slow: false,
        };
        for one in [&last_slack, &last_discord] {
            wait_for("the last answers", || {
                !answers(&slack, &discord, one).is_empty()
            });
        }
        sent.push(last_slack);
        sent.push(last_discord);
        (slack, discord, sent, child)
    })
    .await
    .unwrap();

    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&database_url)
        .await
        .unwrap();
    let audit: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor_id, decision, outcome FROM audit_log ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut records: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for (actor, decision, outcome) in &audit {
        records
            .entry(actor.as_str())
            .or_default()
            .push((decision.as_str(), outcome.as_str()));
    }
    for one in &sent {
        let seen = answers(&slack, &discord, one);
        assert_eq!(
            seen.len(),
            1,
            "exactly one answer for {}: {seen:#?}",
            one.actor
        );
        let recorded = records.get(one.actor.as_str()).cloned().unwrap_or_default();
        assert_eq!(
            recorded.len(),
            1,
            "exactly one audit record for {}",
            one.actor
        );
        if one.slow {
            assert!(
                seen[0].contains("opsbot restarted before `health stuck` finished"),
                "{}",
                seen[0]
            );
            assert_eq!(recorded[0], ("cancelled", "failed"));
        } else {
            assert!(!seen[0].contains("opsbot restarted"), "{}", seen[0]);
            assert_eq!(recorded[0], ("allowed", "ok"));
        }
    }
    assert_eq!(audit.len(), sent.len(), "no other audit record");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2 * SLOW,
        "nothing was run again"
    );
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE state <> 'done'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(open, 0, "every accepted invocation was finished");
    child.kill().unwrap();
    child.wait().unwrap();
    slack.shutdown();
    discord.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_command_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    kill_9_with_commands_in_flight(url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_command_on_postgres() {
    let Some(base) = scratch::postgres_url_or_skip("kill_9_loses_no_acknowledged_command") else {
        return;
    };
    let (store, database) = scratch::scratch_postgres(&base).await.unwrap();
    store.close().await;
    let dir = tempfile::tempdir().unwrap();
    kill_9_with_commands_in_flight(database.url().to_string(), dir.path()).await;
    database.drop_database().await.unwrap();
}

//! The storm roll-up end to end, against the fake Slack in rate mode (one
//! `chat.postMessage`/`chat.update` per second per channel, the rest refused with 429):
//! alerts through the real `/alerts/alertmanager` endpoint, the outbox paced at one call
//! per second, the real `SlackSink`, button presses and slash commands signed as Slack
//! signs them.
//!
//! A channel falls behind by a backlog the test holds back (chat calls queued for an
//! hour from now, counted by the backlog estimate but not yet due), so the storm lasts
//! exactly as long as the test wants; "draining" it marks them delivered.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use http_body_util::BodyExt as _;
use opsbot::{
    app::App,
    config::{self, LoadedConfig},
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    runtime::RuntimeRouter,
    server,
};
use opsbot_commands::{Catalog, Platform, Reply};
use opsbot_fakes::slack_request::{self as slack_request, form, next_id};
use opsbot_fakes::{
    HealthyProber, RecordingRuntime,
    slack::{FakeSlack, PostedMessage},
};
use serde_json::json;
use tower::ServiceExt as _;

const BOT_TOKEN: &str = "xoxb-test-bot-token";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const OPS: &str = "C0OPS";
const ALERTS: &str = "C0ALERTS";
const ALICE: &str = "U0ALICE";
/// How long anything may take to arrive (a bound for a hung test, not a measurement):
/// a storm's worth of calls at one per second.
const WAIT: Duration = Duration::from_secs(60);

fn config_text(api_url: &str, storm: &str) -> String {
    let response_url_prefix = format!("{}/response/", api_url.trim_end_matches("/api"));
    format!(
        r#"
[outbox]
channel_rate = 1
retry_base = "100ms"
poll_interval = "50ms"

[outbox.storm]
{storm}

[slack]
mode = "http"
bot_token = "${{SLACK_BOT_TOKEN}}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
api_url = "{api_url}"
response_url_prefix = "{response_url_prefix}"
rate_control = false

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[[services]]
name = "gateway"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
target = {{ kind = "kubernetes", namespace = "wrkhrs", deployment = "gateway" }}

[[services]]
name = "rag"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
target = {{ kind = "kubernetes", namespace = "wrkhrs", deployment = "rag" }}

[roles.operator]
allow = [{{ commands = ["help", "incident"] }}]

[[bindings]]
role = "operator"
subjects = ["slack:{ALICE}"]
"#
    )
}

struct Harness {
    app: App,
    router: Router,
    slack: FakeSlack,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(storm: &str) -> Harness {
        let slack = FakeSlack::start(BOT_TOKEN, "xapp-unused").await;
        slack.limit_channel_rate();
        let text = config_text(&slack.api_url(), storm);
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| match name {
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
            _ => None,
        };
        let mut config = config::parse(&text, "test.toml", &env).expect("test config is valid");
        config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
        let catalog = Catalog::new(config.services.clone()).unwrap();
        let runtime = Arc::new(RecordingRuntime::with_rollout(Duration::from_millis(10)));
        let router = RuntimeRouter::every_kind(runtime);
        let loaded = LoadedConfig {
            config,
            catalog,
            source: "test.toml".into(),
        };
        let app = App::start_with_prober(&loaded, router, Arc::new(HealthyProber))
            .await
            .expect("opsbot starts");
        let router = server::router(app.server_state(&loaded.config));
        Harness {
            app,
            router,
            slack,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Holds back `n` chat calls in `channel`: queued, due only in an hour.
    async fn hold_backlog(&self, channel: &str, n: usize) {
        // Queued and deferred in one transaction: the dispatcher must never see one of
        // them due (it would post it, and the backlog would be one call short).
        let mut tx = self.app.store.pool().begin().await.unwrap();
        for k in 0..n {
            let message = OutboxMessage {
                platform: Platform::Slack,
                channel: channel.to_string(),
                thread_key: Some(format!("held:{k}")),
                operation: Operation::Reply,
                lane: Lane::Alerts,
                reply: Reply::info("held back"),
                dedupe_key: format!("held:{channel}:{k}"),
            };
            Outbox::enqueue(&mut tx, &message).await.unwrap();
        }
        let later = jiff::Timestamp::now().as_microsecond() + 3_600_000_000;
        sqlx::query("UPDATE outbox SET next_attempt_at_us = $1 WHERE dedupe_key LIKE 'held:%'")
            .bind(later)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// The held-back calls are done: the channel drains.
    async fn drain(&self) {
        sqlx::query(
            "UPDATE outbox SET state = 'delivered' WHERE dedupe_key LIKE 'held:%' \
             AND state = 'pending'",
        )
        .execute(self.app.store.pool())
        .await
        .unwrap();
    }

    async fn alert(&self, name: &str, service: &str, severity: &str) {
        let body = json!({
            "receiver": "opsbot", "status": "firing", "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": name, "service": service, "severity": severity},
                "annotations": {"summary": format!("{name} fires")},
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": format!("{:016x}", name.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))))
            }],
            "groupLabels": {"alertname": name}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093"
        })
        .to_string();
        let request = Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// `/incident TEXT` by Alice in #ops; the answer through its response URL.
    async fn incident_command(&self, text: &str) -> PostedMessage {
        let response_url = self.slack.response_url(OPS, ALICE);
        let body = form(&[
            ("team_id", "T0001"),
            ("channel_id", OPS),
            ("channel_name", "ops"),
            ("user_id", ALICE),
            ("user_name", "alice"),
            ("command", "/incident"),
            ("text", text),
            ("api_app_id", "A0OPSBOT"),
            ("response_url", &response_url),
            ("trigger_id", &format!("{}.1.storm", next_id())),
        ]);
        let (status, _) = self.send(signed("/slack/commands", &body)).await;
        assert_eq!(status, StatusCode::OK);
        self.wait_for("the command's answer", |m| {
            m.response_url.as_deref() == Some(response_url.as_str())
        })
        .await
    }

    /// Alice presses the button whose value is `command` on `message`.
    async fn press(&self, message: &PostedMessage, command: &str) {
        assert!(
            message.button_values().iter().any(|v| v == command),
            "no `{command}` button on {}",
            message.content()
        );
        let response_url = self.slack.response_url(&message.channel, ALICE);
        let id = next_id();
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "T0001", "domain": "example"},
            "user": {"id": ALICE, "username": "alice", "team_id": "T0001"},
            "api_app_id": "A0OPSBOT",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
            "trigger_id": format!("{id}.1.press"),
            "channel": {"id": message.channel, "name": "alerts"},
            "message": {"type": "message", "ts": message.ts, "text": message.text(), "bot_id": "B0FAKE"},
            "response_url": response_url,
            "actions": [{
                "type": "button", "action_id": "opsbot:0", "block_id": "b0",
                "text": {"type": "plain_text", "text": "press"},
                "value": command, "action_ts": format!("1700000100.{id:06}")
            }]
        });
        let body = form(&[("payload", &payload.to_string())]);
        let (status, _) = self.send(signed("/slack/interactions", &body)).await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn wait_for(&self, what: &str, found: impl Fn(&PostedMessage) -> bool) -> PostedMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(message) = self.slack.messages().into_iter().find(|m| found(m)) {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message {what} arrived; posted: {:#?}",
                self.slack.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The storm board's first message in #alerts, once `condition` holds for it.
    async fn board_when(&self, what: &str, condition: impl Fn(&str) -> bool) -> PostedMessage {
        self.wait_for(what, |m| {
            m.channel == ALERTS
                && m.thread_ts.is_none()
                && m.text().contains("Storm board")
                && condition(&m.content())
        })
        .await
    }

    /// Incident ids with a root message of their own in #alerts.
    fn roots(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .slack
            .messages_in(ALERTS)
            .iter()
            .filter(|m| m.thread_ts.is_none())
            .filter_map(|m| {
                let text = m.text();
                let at = text.find("Incident #")?;
                text[at + "Incident #".len()..]
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    async fn stop(self) {
        self.app.shutdown().await;
        self.slack.shutdown();
    }
}

/// Incident ids named `#N ` in a message (board lines, `incident list` lines).
fn ids_in(content: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = content
        .split(" #")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `body` to `path`, signed now with this app's signing secret.
fn signed(path: &str, body: &str) -> Request<Body> {
    slack_request::signed(SIGNING_SECRET, path, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_folds_incidents_into_a_board_that_agrees_with_the_store_until_it_drains() {
    let bot = Harness::start("horizon = \"3s\"\nboard_interval = \"1s\"").await;
    // Four calls held back in #alerts: 4 s of work at one a second, past the horizon.
    bot.hold_backlog(ALERTS, 4).await;
    for (name, service, severity) in [
        ("GatewayDown", "gateway", "critical"),
        ("GatewaySlow", "gateway", "warning"),
        ("RagSlow", "rag", "warning"),
        ("RagDown", "rag", "critical"),
    ] {
        bot.alert(name, service, severity).await;
    }
    // One board, listing every open incident `incident list` knows; no root each.
    let board = bot
        .board_when("listing four incidents", |c| {
            c.contains("4 incidents folded")
        })
        .await;
    let listed = bot.incident_command("list").await;
    let open = ids_in(&listed.content());
    assert_eq!(open.len(), 4, "{}", listed.content());
    assert_eq!(ids_in(&board.content()), open, "{}", board.content());
    assert!(
        bot.roots().is_empty(),
        "folded incidents got roots: {:?}",
        bot.roots()
    );
    let content = board.content();
    let critical = content.find("RagDown").unwrap();
    let warning = content.find("RagSlow").unwrap();
    assert!(critical < warning, "most severe first: {content}");

    // Its button opens a thread for one incident.
    let rag_down = open
        .iter()
        .copied()
        .find(|id| content.contains(&format!("#{id} rag · RagDown")))
        .expect("RagDown on the board");
    bot.press(&board, &format!("incident show {rag_down}"))
        .await;
    let root = bot
        .wait_for("with RagDown's own root", |m| {
            m.channel == ALERTS
                && m.thread_ts.is_none()
                && m.text().contains(&format!("Incident #{rag_down}"))
        })
        .await;
    bot.wait_for("catching up in its thread", |m| {
        m.thread_ts.as_deref() == Some(root.ts.as_str())
            && m.content().contains("was on the storm board")
    })
    .await;
    let board = bot
        .board_when("without RagDown", |c| c.contains("3 incidents folded"))
        .await;
    assert!(!ids_in(&board.content()).contains(&rag_down));

    // Ack by service: the gateway's incidents are acknowledged, still on the board.
    bot.press(&board, "incident ack --service gateway").await;
    let board = bot
        .board_when("with the gateway acknowledged", |c| {
            c.matches("· acknowledged").count() == 2
        })
        .await;
    let acked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM incidents WHERE service = 'gateway' AND status = 'acknowledged'",
    )
    .fetch_one(bot.app.store.read_pool())
    .await
    .unwrap();
    assert_eq!(acked, 2);
    assert_eq!(bot.roots(), [rag_down], "acknowledging posted no roots");
    let listed = bot.incident_command("list").await;
    assert_eq!(ids_in(&listed.content()), open);
    let mut shown = ids_in(&board.content());
    shown.extend(bot.roots());
    shown.sort_unstable();
    assert_eq!(
        shown, open,
        "each open incident on the board or in its own thread"
    );

    // The channel drains: the rest get their own threads, the board a closing summary.
    bot.drain().await;
    bot.wait_for("with the closing summary", |m| {
        m.channel == ALERTS && m.thread_ts.is_none() && m.text().contains("is over")
    })
    .await;
    assert_eq!(bot.roots(), open, "every incident has its own root");
    // Normal behaviour resumes: the next incident gets a root of its own.
    bot.alert("AfterTheStorm", "rag", "warning").await;
    bot.wait_for("with the next incident's root", |m| {
        m.channel == ALERTS && m.thread_ts.is_none() && m.text().contains("AfterTheStorm")
    })
    .await;
    let boards: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM storm_boards")
        .fetch_one(bot.app.store.read_pool())
        .await
        .unwrap();
    assert_eq!(boards, 1, "no new storm");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_keeps_a_root_per_incident_whatever_the_backlog() {
    let bot = Harness::start(&format!(
        "horizon = \"3s\"\nchannels = {{ \"slack:{ALERTS}\" = \"off\" }}"
    ))
    .await;
    bot.hold_backlog(ALERTS, 4).await;
    for (name, severity) in [("One", "critical"), ("Two", "warning"), ("Three", "info")] {
        bot.alert(name, "gateway", severity).await;
    }
    let listed = bot.incident_command("list").await;
    let open = ids_in(&listed.content());
    assert_eq!(open.len(), 3);
    let deadline = tokio::time::Instant::now() + WAIT;
    while bot.roots() != open {
        assert!(
            tokio::time::Instant::now() < deadline,
            "roots {:?} of {open:?}",
            bot.roots()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !bot.slack
            .messages()
            .iter()
            .any(|m| m.content().contains("Storm board")),
        "no board when the channel is off"
    );
    bot.stop().await;
}

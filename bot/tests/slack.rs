//! Slack end to end: requests signed the way Slack signs them go into the real router
//! (`/slack/commands`, `/slack/interactions`, `/slack/events`, `/alerts/alertmanager`),
//! through the engine (RBAC, confirmation, two-person approval, audit) and the durable
//! outbox, and come out of the real `SlackSink` (slack-morphism's client) into a fake
//! Slack Web API written from Slack's documentation (`opsbot_fakes::slack`). Slash
//! commands and button presses carry response URLs the fake handed out, so answers
//! through them land in the fake too.
//!
//! Runtimes are recorded instead of performed and every health check passes
//! (`opsbot_fakes::RecordingRuntime` and `HealthyProber`).

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
    runtime::RuntimeRouter,
    server,
};
use opsbot_commands::Catalog;
use opsbot_fakes::{
    slack::{Failure, FakeSlack, PostedMessage},
    slack_socket::FakeSocketMode,
};
use serde_json::{Value, json};
use sqlx::Row as _;
use tower::ServiceExt as _;

use opsbot_fakes::slack_request::{
    self as slack_request, button_body, next_id, now, request, slack_signature, slash_body,
};
use opsbot_fakes::{HealthyProber, RecordingRuntime};

const BOT_TOKEN: &str = "xoxb-test-bot-token";
const APP_TOKEN: &str = "xapp-test-app-token";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const OPS: &str = "C0OPS";
const ALERTS: &str = "C0ALERTS";
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const CAROL: &str = "U0CAROL";
const DAVE: &str = "U0DAVE";
const ONCALL_GROUP: &str = "S0ONCALL";
/// How long anything may take to arrive (a bound for a hung test, not a measurement).
const WAIT: Duration = Duration::from_secs(20);

fn config_text(api_url: &str, mode: &str) -> String {
    // The fake's response URLs are `http://ADDR/response/ID` (Slack's: hooks.slack.com).
    let response_url_prefix = format!("{}/response/", api_url.trim_end_matches("/api"));
    format!(
        r#"
[outbox]
channel_rate = 0
retry_base = "100ms"
poll_interval = "50ms"

[slack]
mode = "{mode}"
bot_token = "${{SLACK_BOT_TOKEN}}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
app_token = "${{SLACK_APP_TOKEN}}"
api_url = "{api_url}"
response_url_prefix = "{response_url_prefix}"
rate_control = false
progress_after = "300ms"

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[[services]]
name = "wrkhrs-gateway"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
target = {{ kind = "kubernetes", namespace = "wrkhrs", deployment = "gateway" }}
health = [{{ kind = "http", name = "health", url = "http://gateway.invalid/health" }}]

[roles.operator]
allow = [{{ commands = ["help", "whoami", "services", "health", "restart", "incident", "confirm", "cancel"] }}]

[roles.lead]
inherits = ["operator"]
allow = [{{ commands = ["approve", "deny"] }}]

[[bindings]]
role = "operator"
subjects = ["slack:{ALICE}", "slack-group:{ONCALL_GROUP}"]

[[bindings]]
role = "lead"
subjects = ["slack:{BOB}"]

[[approvals]]
name = "prod-restarts"
commands = ["restart"]
environments = ["prod"]
approver_roles = ["lead"]
"#
    )
}

// --- harness ----------------------------------------------------------------------------

struct Harness {
    app: App,
    router: Router,
    slack: FakeSlack,
    runtime: Arc<RecordingRuntime>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Self::start_in("http").await
    }

    async fn start_in(mode: &str) -> Harness {
        let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
        Self::start_with(slack, mode).await
    }

    async fn start_with(slack: FakeSlack, mode: &str) -> Harness {
        let text = config_text(&slack.api_url(), mode);
        Self::start_configured(slack, text).await
    }

    async fn start_configured(slack: FakeSlack, text: String) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| match name {
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            "SLACK_APP_TOKEN" => Some(APP_TOKEN.to_string()),
            "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
            _ => None,
        };
        let mut config = config::parse(&text, "test.toml", &env).expect("test config is valid");
        config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
        let catalog = Catalog::new(config.services.clone()).unwrap();
        let runtime = Arc::new(RecordingRuntime::with_rollout(Duration::from_millis(500)));
        let router = RuntimeRouter {
            kubernetes: Some(runtime.clone()),
            compose: Some(runtime.clone()),
            systemd: Some(runtime.clone()),
        };
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
            runtime,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// A slash command by `user` in `channel`, signed now, with a new response URL.
    async fn slash(
        &self,
        user: &str,
        channel: &str,
        command: &str,
        text: &str,
    ) -> (StatusCode, String) {
        let response_url = self.slack.response_url(channel, user);
        self.slash_answering(user, channel, command, text, &response_url)
            .await
    }

    /// A slash command whose response URL is `response_url`.
    async fn slash_answering(
        &self,
        user: &str,
        channel: &str,
        command: &str,
        text: &str,
        response_url: &str,
    ) -> (StatusCode, String) {
        self.send(signed(
            "/slack/commands",
            &slash_body(user, channel, command, text, response_url),
            now(),
        ))
        .await
    }

    /// `@opsbot TEXT` by `user` in `channel` (in the thread of `thread_ts`).
    async fn mention(&self, user: &str, channel: &str, text: &str, thread_ts: Option<&str>) {
        let id = next_id();
        let mut event = json!({"type": "app_mention", "user": user, "text": format!("<@U0OPSBOT> {text}"),
                  "ts": format!("1700000600.{id:06}"), "channel": channel,
                  "event_ts": format!("1700000600.{id:06}")});
        if let Some(thread) = thread_ts {
            event["thread_ts"] = json!(thread);
        }
        let mention = json!({
            "token": "t", "team_id": "T0001", "api_app_id": "A0OPSBOT", "type": "event_callback",
            "event_id": format!("Ev0M{id}"), "event_time": now(), "event": event
        })
        .to_string();
        let (status, _) = self.send(signed("/slack/events", &mention, now())).await;
        assert_eq!(status, StatusCode::OK);
    }

    /// `user` presses the button whose value is `command` on `message`.
    async fn press(&self, user: &str, message: &PostedMessage, command: &str) -> StatusCode {
        assert!(
            message.button_values().iter().any(|v| v == command),
            "no `{command}` button on {}",
            message.content()
        );
        let response_url = self.slack.response_url(&message.channel, user);
        let (status, body) = self
            .send(signed(
                "/slack/interactions",
                &button_body(user, message, command, &response_url),
                now(),
            ))
            .await;
        assert_eq!(body, "");
        status
    }

    /// Waits until a message satisfying `found` was posted.
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
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `condition` holds.
    async fn wait_until(&self, what: &str, condition: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !condition() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `(actor, command, decision, outcome, approver)` of every audit entry, in order.
    async fn audit(&self) -> Vec<(String, String, String, String, Option<String>)> {
        let rows = sqlx::query(
            "SELECT actor_id, COALESCE(command, ''), decision, outcome, approver \
             FROM audit_log ORDER BY seq",
        )
        .fetch_all(self.app.store.pool())
        .await
        .unwrap();
        rows.iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    r.get::<String, _>(1),
                    r.get::<String, _>(2),
                    r.get::<String, _>(3),
                    r.get::<Option<String>, _>(4),
                )
            })
            .collect()
    }

    fn metrics(&self) -> String {
        self.app.metrics.encode()
    }

    async fn stop(self) {
        self.app.shutdown().await;
        self.slack.shutdown();
    }
}

/// Posts the firing alert of [`alertmanager`]; the incident's root message.
async fn open_incident(bot: &Harness) -> PostedMessage {
    let (status, body) = bot
        .send(request(
            "/alerts/alertmanager",
            &alertmanager("firing"),
            &[],
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    bot.wait_for("with the incident root", |m| {
        m.channel == ALERTS && m.thread_ts.is_none()
    })
    .await
}

fn alertmanager(status: &str) -> String {
    let ends = if status == "firing" {
        "0001-01-01T00:00:00Z"
    } else {
        "2026-11-21T10:05:00Z"
    };
    json!({
        "receiver": "opsbot", "status": status, "version": "4",
        "groupKey": "{}:{alertname=\"GatewayDown\"}",
        "alerts": [{
            "status": status,
            "labels": {"alertname": "GatewayDown", "service": "wrkhrs-gateway", "severity": "critical"},
            "annotations": {"summary": "WrkHrs gateway is down"},
            "startsAt": "2026-11-21T10:00:00Z", "endsAt": ends,
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": "8c1a2b3c4d5e6f70"
        }],
        "groupLabels": {"alertname": "GatewayDown"},
        "commonLabels": {"alertname": "GatewayDown", "service": "wrkhrs-gateway", "severity": "critical"},
        "commonAnnotations": {"summary": "WrkHrs gateway is down"},
        "externalURL": "http://alertmanager:9093"
    })
    .to_string()
}

// --- tests ------------------------------------------------------------------------------

/// `body` to `path`, signed with this app's signing secret at `timestamp`.
fn signed(path: &str, body: &str, timestamp: i64) -> Request<Body> {
    slack_request::signed_at(SIGNING_SECRET, path, body, timestamp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_slash_command_is_acknowledged_then_answered_in_the_channel() {
    let bot = Harness::start().await;
    let (status, body) = bot.slash(ALICE, OPS, "/health", "wrkhrs-gateway").await;
    assert_eq!(status, StatusCode::OK);
    let ack: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ack["response_type"], "ephemeral");
    assert_eq!(ack["text"], "⏳ `health wrkhrs-gateway`");
    let reply = bot
        .wait_for("with the health of wrkhrs-gateway", |m| {
            m.channel == OPS && m.text().contains("wrkhrs-gateway is healthy")
        })
        .await;
    assert_eq!(reply.thread_ts, None);
    assert_eq!(reply.only_user, None);
    // Answered through the command's response_url, for everyone in the channel; not
    // with chat.postMessage, so not on the channel's one-message-per-second budget.
    assert!(reply.response_url.is_some());
    assert_eq!(reply.body["response_type"], "in_channel");
    assert_eq!(reply.body["replace_original"], false);
    // Block Kit: a coloured attachment with blocks, buttons carrying command text.
    assert!(reply.body["attachments"][0]["color"].is_string());
    assert!(reply.body["attachments"][0]["blocks"].is_array());
    // The umbrella form runs the same command.
    let (status, _) = bot.slash(ALICE, OPS, "/ops", "whoami").await;
    assert_eq!(status, StatusCode::OK);
    let whoami = bot
        .wait_for("answering whoami", |m| {
            m.only_user.as_deref() == Some(ALICE)
        })
        .await;
    assert!(
        whoami.content().contains("operator"),
        "{}",
        whoami.content()
    );
    assert!(whoami.response_url.is_some());
    assert_eq!(whoami.body["response_type"], "ephemeral");
    assert_eq!(bot.slack.calls("chat.postMessage"), 0);
    assert_eq!(bot.slack.calls("chat.postEphemeral"), 0);
    assert_eq!(bot.slack.calls("response_url"), 2);
    let audit = bot.audit().await;
    assert_eq!(audit[0].0, ALICE);
    assert_eq!(audit[0].1, "health");
    assert_eq!(audit[1].1, "whoami");
    assert!(
        bot.metrics()
            .contains(r#"opsbot_slack_requests_total{endpoint="commands",outcome="accepted"} 2"#)
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_missing_and_stale_signatures_are_refused_with_401() {
    let bot = Harness::start().await;
    let body = slash_body(
        ALICE,
        OPS,
        "/restart",
        "wrkhrs-gateway",
        "https://hooks.slack.com/commands/1234/5678",
    );
    let at = now();
    let cases = [
        (
            "wrong secret",
            request(
                "/slack/commands",
                &body,
                &[
                    ("x-slack-request-timestamp", at.to_string()),
                    (
                        "x-slack-signature",
                        slack_signature("not-the-secret", at, &body),
                    ),
                ],
            ),
        ),
        (
            "missing signature",
            request(
                "/slack/commands",
                &body,
                &[("x-slack-request-timestamp", at.to_string())],
            ),
        ),
        ("stale", signed("/slack/commands", &body, at - 301)),
        (
            "from the future",
            signed("/slack/interactions", &body, at + 400),
        ),
        (
            "stale event",
            signed(
                "/slack/events",
                r#"{"type":"url_verification","challenge":"x"}"#,
                at - 3600,
            ),
        ),
    ];
    for (what, request) in cases {
        let (status, text) = bot.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {text}");
        assert!(!text.contains(SIGNING_SECRET), "{what}: {text}");
        assert!(
            !text.contains("wrkhrs-gateway"),
            "{what} echoes the body: {text}"
        );
    }
    let metrics = bot.metrics();
    assert!(
        metrics.contains(r#"opsbot_slack_signature_failures_total{reason="mismatch"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"opsbot_slack_signature_failures_total{reason="missing"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"opsbot_slack_signature_failures_total{reason="stale"} 3"#),
        "{metrics}"
    );
    // A well-signed but malformed body is a 400 with the reason.
    let (status, text) = bot
        .send(signed("/slack/commands", "user_id=U1", now()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("not a Slack slash command"), "{text}");
    // Nothing ran, nothing was posted.
    assert!(bot.audit().await.is_empty());
    assert_eq!(bot.slack.calls("chat.postMessage"), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_is_confirmed_by_button_and_approved_by_someone_else() {
    let bot = Harness::start().await;
    bot.slash(ALICE, OPS, "/restart", "wrkhrs-gateway").await;
    let ask = bot
        .wait_for("asking to confirm", |m| m.content().contains("Confirm"))
        .await;
    assert_eq!(ask.channel, OPS);
    // The destructive button asks "are you sure?" in Slack before it is sent.
    let confirm = &ask.button_value("confirm ");
    let attachment = ask.body["attachments"][0].to_string();
    assert!(attachment.contains(r#""confirm":{"#), "{attachment}");
    assert_eq!(bot.press(ALICE, &ask, confirm).await, StatusCode::OK);
    let approval = bot
        .wait_for("asking for approval", |m| {
            m.button_values().iter().any(|v| v.starts_with("approve "))
        })
        .await;
    assert_eq!(
        approval.thread_ts.as_deref(),
        Some(ask.ts.as_str()),
        "answers in the thread of the pressed message"
    );
    let approve = &approval.button_value("approve ");
    // The requester cannot approve their own request: told privately, nothing runs.
    assert_eq!(bot.press(ALICE, &approval, approve).await, StatusCode::OK);
    let refusal = bot
        .wait_for("refusing self-approval", |m| {
            m.only_user.as_deref() == Some(ALICE)
        })
        .await;
    assert_eq!(refusal.thread_ts.as_deref(), Some(ask.ts.as_str()));
    assert!(bot.runtime.actions().is_empty());
    // Bob, a lead, approves: it runs, progress and the result land in the thread.
    assert_eq!(bot.press(BOB, &approval, approve).await, StatusCode::OK);
    bot.wait_for("with the restart's result", |m| {
        m.thread_ts.as_deref() == Some(ask.ts.as_str()) && m.content().contains("done")
    })
    .await;
    assert_eq!(bot.runtime.actions(), ["restart wrkhrs-gateway"]);
    let progress: Vec<_> = bot
        .slack
        .thread(&ask.ts)
        .into_iter()
        .filter(|m| m.text().contains("rolling out"))
        .collect();
    assert_eq!(progress.len(), 2, "{progress:#?}");
    let audit = bot.audit().await;
    let approved = audit
        .iter()
        .find(|(actor, command, decision, outcome, _)| {
            actor == ALICE && command == "restart" && decision == "allowed" && outcome == "ok"
        })
        .unwrap_or_else(|| panic!("no executed restart in {audit:#?}"));
    assert_eq!(
        approved.4.as_deref(),
        Some(format!("slack:{BOB}").as_str()),
        "{audit:#?}"
    );
    assert!(
        audit
            .iter()
            .any(|(actor, _, decision, _, _)| actor == ALICE && decision == "pending")
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_opens_a_threaded_incident_whose_buttons_work_and_whose_root_is_updated() {
    let bot = Harness::start().await;
    let root = open_incident(&bot).await;
    assert!(root.text().contains("Incident #"), "{}", root.text());
    let ack = &root.button_value("incident ack ");
    assert!(
        root.button_values()
            .contains(&"restart wrkhrs-gateway".to_string())
    );
    // Acknowledge from the root: a thread reply and the root edited in place.
    assert_eq!(bot.press(ALICE, &root, ack).await, StatusCode::OK);
    bot.wait_until("the root to say acknowledged", || {
        bot.slack
            .messages_in(ALERTS)
            .iter()
            .any(|m| m.ts == root.ts && !m.edits.is_empty() && m.content().contains("acknowledged"))
    })
    .await;
    bot.wait_for("acknowledging in the thread", |m| {
        m.thread_ts.as_deref() == Some(root.ts.as_str())
            && m.content().to_lowercase().contains("acknowledged")
    })
    .await;
    // `@opsbot restart` in the incident thread applies to the incident's service.
    let mention = json!({
        "token": "t", "team_id": "T0001", "api_app_id": "A0OPSBOT", "type": "event_callback",
        "event_id": "Ev0MENTION1", "event_time": now(),
        "event": {"type": "app_mention", "user": ALICE, "text": "<@U0OPSBOT> restart",
                  "ts": "1700000200.000100", "channel": ALERTS, "thread_ts": root.ts,
                  "event_ts": "1700000200.000100"}
    })
    .to_string();
    let (status, _) = bot.send(signed("/slack/events", &mention, now())).await;
    assert_eq!(status, StatusCode::OK);
    let ask = bot
        .wait_for("confirming the restart in the thread", |m| {
            m.thread_ts.as_deref() == Some(root.ts.as_str()) && m.content().contains("Confirm")
        })
        .await;
    assert!(ask.content().contains("wrkhrs-gateway"));
    // Resolved in Alertmanager: the root says so.
    let (status, _) = bot
        .send(request(
            "/alerts/alertmanager",
            &alertmanager("resolved"),
            &[],
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    bot.wait_until("the root to say resolved", || {
        bot.slack
            .messages_in(ALERTS)
            .iter()
            .any(|m| m.ts == root.ts && m.content().contains("resolved"))
    })
    .await;
    // One root only, every update an edit of it.
    let roots: Vec<_> = bot
        .slack
        .messages_in(ALERTS)
        .into_iter()
        .filter(|m| m.thread_ts.is_none())
        .collect();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    assert!(bot.slack.calls("chat.update") >= 2);
    // One action, one answer: the press's own reply is the thread's only word on the
    // acknowledgement (no `Incident #N is acknowledged` update besides it). A thread's
    // messages are delivered in order, so once the resolution is in the thread, an
    // update enqueued with the acknowledgement would be too.
    bot.wait_for("the resolution in the thread", |m| {
        m.thread_ts.as_deref() == Some(root.ts.as_str()) && m.content().contains("is resolved")
    })
    .await;
    let acks: Vec<_> = bot
        .slack
        .thread(&root.ts)
        .into_iter()
        .filter(|m| m.content().to_lowercase().contains("acknowledged"))
        .collect();
    assert_eq!(acks.len(), 1, "{acks:#?}");
    bot.stop().await;
}

/// `incident timeline` typed in an incident's thread: the record is uploaded into that
/// thread as a Markdown file, with the concise reply as the file share's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_timeline_is_uploaded_as_markdown_in_the_incident_thread() {
    let bot = Harness::start().await;
    let root = open_incident(&bot).await;
    let ack = &root.button_value("incident ack ");
    assert_eq!(bot.press(ALICE, &root, ack).await, StatusCode::OK);
    bot.wait_for("acknowledging in the thread", |m| {
        m.thread_ts.as_deref() == Some(root.ts.as_str())
            && m.content().to_lowercase().contains("acknowledged")
    })
    .await;
    bot.mention(ALICE, ALERTS, "incident timeline", Some(&root.ts))
        .await;
    bot.wait_until("the timeline file", || {
        bot.slack
            .files()
            .iter()
            .any(|f| f.channel.is_some() && f.bytes.is_some())
    })
    .await;
    let files = bot.slack.files();
    assert_eq!(files.len(), 1, "{files:#?}");
    let file = &files[0];
    assert_eq!(file.channel.as_deref(), Some(ALERTS));
    assert_eq!(file.thread_ts.as_deref(), Some(root.ts.as_str()));
    assert!(file.filename.ends_with("-timeline.md"), "{}", file.filename);
    let markdown = String::from_utf8(file.bytes.clone().unwrap()).unwrap();
    assert!(markdown.starts_with("# Incident #"), "{markdown}");
    for wanted in [
        "## Timeline",
        "GatewayDown",
        "WrkHrs gateway is down",
        "Acknowledged by",
    ] {
        assert!(
            markdown.contains(wanted),
            "the record lacks {wanted}: {markdown}"
        );
    }
    let shared = bot
        .wait_for("the file share message", |m| !m.body["files"].is_null())
        .await;
    assert_eq!(shared.thread_ts.as_deref(), Some(root.ts.as_str()));
    assert!(
        shared.body["blocks"].to_string().contains("timeline"),
        "{}",
        shared.body
    );
    bot.stop().await;
}

/// A modal submission, as Slack documents it
/// (https://api.slack.com/reference/interaction-payloads/views), whose view has
/// `"state": {}`: opsbot opens no modals, so it is acknowledged (200) and ignored, never
/// refused with a 400; nothing runs, nothing is posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_opsbot_does_not_use_are_acknowledged_whatever_their_shape() {
    let bot = Harness::start().await;
    let payload = json!({
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": ALICE, "username": "primary-owner", "name": "primary-owner", "team_id": "T0001"},
        "api_app_id": "A0OPSBOT",
        "token": "t",
        "trigger_id": "12466734323.1395872398",
        "view": {
            "id": "VNHU13V36", "type": "modal", "team_id": "T0001",
            "title": {"type": "plain_text", "text": "Modal"},
            "blocks": [{"type": "section", "block_id": "b1", "text": {"type": "mrkdwn", "text": "Hi"}}],
            "private_metadata": "", "callback_id": "modal-identifier", "state": {},
            "hash": "156663117.cd33ad1f", "clear_on_close": false, "notify_on_close": false,
            "root_view_id": "VNHU13V36", "app_id": "A0OPSBOT", "external_id": "", "bot_id": "B0FAKE"
        },
        "response_urls": []
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let (status, answer) = bot.send(signed("/slack/interactions", &body, now())).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let metrics = bot.app.metrics.encode();
    assert!(
        metrics.contains(
            r#"opsbot_slack_requests_total{endpoint="interactions",outcome="ignored"} 1"#
        ),
        "{metrics}"
    );
    assert!(bot.audit().await.is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_and_posted_exactly_once() {
    let bot = Harness::start().await;
    bot.slack.fail_next(
        1,
        Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    bot.slack.fail_next(1, Failure::ServerError);
    // A mention has no response_url: answered with chat.postMessage.
    bot.mention(ALICE, OPS, "health wrkhrs-gateway", None).await;
    bot.wait_for("with the health reply", |m| {
        m.channel == OPS && m.text().contains("wrkhrs-gateway is healthy")
    })
    .await;
    let posted = bot.slack.messages_in(OPS);
    assert_eq!(posted.len(), 1, "posted exactly once: {posted:#?}");
    assert_eq!(
        bot.slack.calls("chat.postMessage"),
        3,
        "429, 500, then posted"
    );
    let metrics = bot.metrics();
    assert!(
        metrics.contains(r#"opsbot_outbox_retried_total{lane="interactive"} 2"#),
        "{metrics}"
    );
    // A missing channel is permanent: parked as failed, not retried forever.
    bot.slack.remove_channel("C0GONE");
    bot.mention(ALICE, "C0GONE", "health wrkhrs-gateway", None)
        .await;
    bot.wait_until("the message to be parked", || {
        bot.metrics()
            .contains(r#"opsbot_outbox_failed_total{lane="interactive"} 1"#)
    })
    .await;
    assert_eq!(bot.slack.calls("chat.postMessage"), 4);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_group_members_hold_the_groups_roles() {
    let bot = Harness::start().await;
    bot.slack.set_usergroup(ONCALL_GROUP, &[CAROL]);
    bot.slash(CAROL, OPS, "/restart", "wrkhrs-gateway").await;
    let ask = bot
        .wait_for("asking Carol to confirm", |m| {
            m.content().contains("Confirm")
        })
        .await;
    assert_eq!(ask.channel, OPS);
    bot.slash(DAVE, OPS, "/restart", "wrkhrs-gateway").await;
    let denied = bot
        .wait_for("refusing Dave", |m| m.only_user.as_deref() == Some(DAVE))
        .await;
    assert!(
        denied.content().contains("Not allowed"),
        "{}",
        denied.content()
    );
    // Slack's way to answer only the person who typed: an ephemeral response.
    assert!(denied.response_url.is_some());
    assert_eq!(denied.body["response_type"], "ephemeral");
    assert_eq!(denied.channel, OPS);
    assert_eq!(bot.slack.calls("chat.postEphemeral"), 0);
    // Cached: the two commands (and Alice's below) looked the group up once.
    bot.slash(ALICE, OPS, "/whoami", "").await;
    bot.wait_for("answering Alice", |m| m.only_user.as_deref() == Some(ALICE))
        .await;
    assert_eq!(bot.slack.calls("usergroups.users.list"), 1);
    let audit = bot.audit().await;
    assert!(
        audit
            .iter()
            .any(|(a, c, d, _, _)| a == CAROL && c == "restart" && d == "pending")
    );
    assert!(
        audit
            .iter()
            .any(|(a, c, d, _, _)| a == DAVE && c == "restart" && d == "denied")
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_url_verification_is_answered() {
    let bot = Harness::start().await;
    // https://api.slack.com/events/url_verification
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, text) = bot.send(signed("/slack/events", body, now())).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_runs_commands_buttons_and_mentions_like_http() {
    let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
    let socket = FakeSocketMode::start().await;
    slack.set_socket_url(&socket.url());
    let bot = Harness::start_with(slack, "socket").await;
    // No public endpoint in Socket Mode.
    let (status, _) = bot
        .send(signed(
            "/slack/commands",
            &slash_body(
                ALICE,
                OPS,
                "/health",
                "",
                &bot.slack.response_url(OPS, ALICE),
            ),
            now(),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    bot.wait_until("the websocket to open", || socket.connections() >= 1)
        .await;
    assert!(bot.slack.calls("apps.connections.open") >= 1);
    // A slash command envelope: acknowledged with the same ephemeral answer, then run.
    socket.push(
        "env-command-1",
        "slash_commands",
        json!({
            "token": "t", "team_id": "T0001", "team_domain": "example",
            "channel_id": OPS, "channel_name": "ops", "user_id": ALICE, "user_name": "alice",
            "command": "/restart", "text": "wrkhrs-gateway", "api_app_id": "A0OPSBOT",
            "response_url": bot.slack.response_url(OPS, ALICE),
            "trigger_id": "991.47445629121.socket"
        }),
    );
    let ask = bot
        .wait_for("asking to confirm", |m| m.content().contains("Confirm"))
        .await;
    bot.wait_until("the command envelope to be acknowledged", || {
        socket.acks().iter().any(|a| {
            a["envelope_id"] == "env-command-1"
                && a["payload"]["text"] == "⏳ `restart wrkhrs-gateway`"
        })
    })
    .await;
    // A button press envelope goes through the same pipeline.
    let confirm = &ask.button_value("confirm ");
    let payload: Value = {
        let body = button_body(ALICE, &ask, confirm, &bot.slack.response_url(OPS, ALICE));
        let form: std::collections::HashMap<String, String> =
            form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
        serde_json::from_str(&form["payload"]).unwrap()
    };
    socket.push("env-button-1", "interactive", payload);
    bot.wait_for("asking for approval", |m| {
        m.button_values().iter().any(|v| v.starts_with("approve "))
    })
    .await;
    // A mention envelope.
    socket.push(
        "env-event-1",
        "events_api",
        json!({
            "token": "t", "team_id": "T0001", "api_app_id": "A0OPSBOT", "type": "event_callback",
            "event_id": "Ev0SOCKET1", "event_time": now(),
            "event": {"type": "app_mention", "user": ALICE, "text": "<@U0OPSBOT> health wrkhrs-gateway",
                      "ts": "1700000300.000100", "channel": OPS, "event_ts": "1700000300.000100"}
        }),
    );
    bot.wait_for("with the health reply", |m| {
        m.channel == OPS && m.text().contains("wrkhrs-gateway is healthy")
    })
    .await;
    let metrics = bot.metrics();
    assert!(
        metrics.contains(
            r#"opsbot_slack_requests_total{endpoint="socket_commands",outcome="accepted"} 1"#
        ),
        "{metrics}"
    );
    let audit = bot.audit().await;
    assert_eq!(
        audit.iter().map(|a| a.1.as_str()).collect::<Vec<_>>(),
        ["restart", "confirm", "health"]
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_url_outside_slacks_hooks_is_ignored_and_the_answer_goes_to_the_channel() {
    // The default prefix: only https://hooks.slack.com/…, so not even the fake's own URLs.
    let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
    let text = config_text(&slack.api_url(), "http")
        .lines()
        .filter(|line| !line.starts_with("response_url_prefix"))
        .collect::<Vec<_>>()
        .join("\n");
    let bot = Harness::start_configured(slack, text).await;
    let elsewhere = bot.slack.response_url(OPS, ALICE);
    for forged in ["file:///etc/passwd", elsewhere.as_str()] {
        let (status, _) = bot
            .slash_answering(ALICE, OPS, "/health", "wrkhrs-gateway", forged)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let answers = |bot: &Harness| {
        bot.slack
            .messages()
            .into_iter()
            .filter(|m| m.channel == OPS && m.text().contains("wrkhrs-gateway is healthy"))
            .count()
    };
    bot.wait_until("both answers in the channel", || answers(&bot) == 2)
        .await;
    for message in bot.slack.messages() {
        assert_eq!(message.response_url, None, "{}", message.content());
    }
    assert_eq!(bot.slack.calls("response_url"), 0);
    assert!(bot.slack.calls("chat.postMessage") >= 2);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_channel_given_by_name_is_still_edited_by_id() {
    let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
    slack.name_channel("#ops-alerts", ALERTS);
    let text = config_text(&slack.api_url(), "http")
        .replace(&format!("slack = \"{ALERTS}\""), "slack = \"#ops-alerts\"");
    let bot = Harness::start_configured(slack, text).await;
    let (status, _) = bot
        .send(request(
            "/alerts/alertmanager",
            &alertmanager("firing"),
            &[],
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let root = bot
        .wait_for("with the incident root", |m| {
            m.channel == ALERTS && m.thread_ts.is_none()
        })
        .await;
    let (status, _) = bot
        .send(request(
            "/alerts/alertmanager",
            &alertmanager("resolved"),
            &[],
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    bot.wait_until("the root to be edited", || {
        bot.slack
            .messages_in(ALERTS)
            .iter()
            .any(|m| m.ts == root.ts && !m.edits.is_empty())
    })
    .await;
    assert!(
        !bot.metrics()
            .contains(r#"opsbot_outbox_failed_total{lane="alerts"} 1"#)
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_runs_once() {
    let bot = Harness::start().await;
    let mention = json!({
        "token": "t", "team_id": "T0001", "api_app_id": "A0OPSBOT", "type": "event_callback",
        "event_id": "Ev0RETRIED", "event_time": now(),
        "event": {"type": "app_mention", "user": ALICE, "text": "<@U0OPSBOT> health wrkhrs-gateway",
                  "ts": "1700000400.000100", "channel": OPS, "event_ts": "1700000400.000100"}
    })
    .to_string();
    let (status, _) = bot.send(signed("/slack/events", &mention, now())).await;
    assert_eq!(status, StatusCode::OK);
    // Slack retries an event it thinks timed out, with X-Slack-Retry-Num.
    let mut retry = signed("/slack/events", &mention, now());
    retry
        .headers_mut()
        .insert("x-slack-retry-num", "1".parse().unwrap());
    let (status, _) = bot.send(retry).await;
    assert_eq!(status, StatusCode::OK);
    bot.wait_for("with the health reply", |m| {
        m.text().contains("wrkhrs-gateway is healthy")
    })
    .await;
    let audit = bot.audit().await;
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(bot.slack.messages_in(OPS).len(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_response_url_post_is_retried_and_answers_once() {
    let bot = Harness::start().await;
    bot.slack.fail_next_responses(1, Failure::ServerError);
    bot.slack.fail_next_responses(
        1,
        Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    bot.slash(ALICE, OPS, "/health", "wrkhrs-gateway").await;
    let reply = bot
        .wait_for("with the health reply", |m| {
            m.channel == OPS && m.text().contains("wrkhrs-gateway is healthy")
        })
        .await;
    assert!(reply.response_url.is_some());
    assert_eq!(bot.slack.calls("response_url"), 3, "500, 429, then taken");
    assert_eq!(bot.slack.messages_in(OPS).len(), 1, "answered once");
    assert_eq!(bot.slack.calls("chat.postMessage"), 0);
    let metrics = bot.metrics();
    assert!(
        metrics.contains(r#"opsbot_outbox_retried_total{lane="interactive"} 2"#),
        "{metrics}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_used_up_response_url_falls_back_to_the_channel() {
    let bot = Harness::start().await;
    // Expired (Slack answers 404 expired_url): the answer is posted in the channel.
    let expired = bot.slack.response_url(OPS, ALICE);
    bot.slack.expire_response_url(&expired);
    bot.slash_answering(ALICE, OPS, "/health", "wrkhrs-gateway", &expired)
        .await;
    let reply = bot
        .wait_for("with the health reply", |m| {
            m.text().contains("wrkhrs-gateway is healthy")
        })
        .await;
    assert_eq!(reply.channel, OPS);
    assert_eq!(reply.response_url, None);
    assert_eq!(reply.only_user, None);
    assert_eq!(bot.slack.calls("response_url"), 1);
    assert_eq!(bot.slack.calls("chat.postMessage"), 1);
    // An ephemeral answer falls back to chat.postEphemeral, still for the actor only.
    let expired = bot.slack.response_url(OPS, DAVE);
    bot.slack.expire_response_url(&expired);
    bot.slash_answering(DAVE, OPS, "/restart", "wrkhrs-gateway", &expired)
        .await;
    let denied = bot
        .wait_for("refusing Dave", |m| m.only_user.as_deref() == Some(DAVE))
        .await;
    assert_eq!(denied.response_url, None);
    assert_eq!(bot.slack.calls("chat.postEphemeral"), 1);
    // A response_url takes five posts; the sixth answer goes to the channel.
    let shared = bot.slack.response_url(OPS, ALICE);
    for n in 1..=6 {
        bot.slash_answering(ALICE, OPS, "/health", "wrkhrs-gateway", &shared)
            .await;
        bot.wait_until("the answer", || {
            bot.slack
                .messages_in(OPS)
                .iter()
                .filter(|m| m.text().contains("wrkhrs-gateway is healthy"))
                .count()
                == n + 1
        })
        .await;
    }
    let answers: Vec<bool> = bot
        .slack
        .messages_in(OPS)
        .iter()
        .filter(|m| m.text().contains("wrkhrs-gateway is healthy"))
        .map(|m| m.response_url.is_some())
        .collect();
    assert_eq!(answers, [false, true, true, true, true, true, false]);
    assert!(
        !bot.metrics()
            .contains("opsbot_outbox_failed_total{lane=\"interactive\"} 1")
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_chart_is_uploaded_with_its_reply_in_the_channel_and_in_threads() {
    use opsbot_fakes::cost::FakeCostApis;
    let costs = FakeCostApis::start("sk-admin-unused", "sk-ant-unused").await;
    let today = jiff::Zoned::now().date();
    for back in 0..7 {
        let day = today.checked_sub(jiff::Span::new().days(back)).unwrap();
        costs.set_prometheus_day(day, "3.25");
    }
    costs.set_prometheus_now(Some("3.25"));
    let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
    let text = config_text(&slack.api_url(), "http")
        .replace(
            r#""confirm", "cancel"]"#,
            r#""confirm", "cancel", "cost"]"#,
        )
        .replace(
            "health = [{ kind = \"http\", name = \"health\", url = \"http://gateway.invalid/health\" }]",
            &format!(
                "health = [{{ kind = \"http\", name = \"health\", url = \"http://gateway.invalid/health\" }}]\n\
                 budget = {{ daily = 10, currency = \"USD\" }}\n\
                 cost = [{{ kind = \"prometheus\", url = \"{}\", query = \"increase(gateway_cost_usd[1d])\" }}]",
                costs.prometheus_url()
            ),
        )
        + "\n[cost]\nbudget_check_interval = \"0s\"\n";
    assert!(
        text.contains("gateway_cost_usd"),
        "the test config has the cost source"
    );
    let bot = Harness::start_configured(slack, text).await;
    // `/cost` in the channel: one message, the chart file with the reply's blocks.
    bot.slash(ALICE, OPS, "/cost", "wrkhrs-gateway --period 7d")
        .await;
    let shared = bot
        .wait_for("with the cost chart", |m| !m.body["files"].is_null())
        .await;
    assert_eq!(shared.channel, OPS);
    assert_eq!(shared.thread_ts, None);
    let blocks = shared.body["blocks"].to_string();
    assert!(blocks.contains("wrkhrs-gateway"), "{blocks}");
    assert!(!blocks.contains("not uploaded"), "{blocks}");
    let files = bot.slack.files();
    assert_eq!(files.len(), 1, "{files:#?}");
    let chart = &files[0];
    assert_eq!(chart.channel.as_deref(), Some(OPS));
    assert_eq!(chart.thread_ts, None);
    assert!(chart.filename.ends_with(".png"), "{}", chart.filename);
    assert!(
        chart
            .title
            .as_deref()
            .unwrap_or_default()
            .contains("daily spend"),
        "{chart:#?}"
    );
    let png = chart.bytes.as_deref().unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG was uploaded");
    assert_eq!(shared.body["files"][0]["id"], chart.id.as_str());
    // Not through the response_url, which cannot carry a file; no second message.
    assert_eq!(bot.slack.calls("response_url"), 0);
    assert_eq!(bot.slack.calls("chat.postMessage"), 0);
    // Asked in a thread: the chart goes into that thread.
    bot.mention(
        ALICE,
        OPS,
        "cost wrkhrs-gateway --period 7d",
        Some("1700000500.000100"),
    )
    .await;
    bot.wait_until("a second chart", || bot.slack.files().len() == 2)
        .await;
    bot.wait_until("the second chart to be shared", || {
        bot.slack.files()[1].channel.is_some()
    })
    .await;
    let threaded = &bot.slack.files()[1];
    assert_eq!(threaded.channel.as_deref(), Some(OPS));
    assert_eq!(threaded.thread_ts.as_deref(), Some("1700000500.000100"));
    bot.stop().await;
}

/// slack-morphism's rate control (on by default) paces `chat.postMessage` the way Slack
/// limits it, one message per second per channel, not one per second in the workspace
/// (its own `chat_post_message` keys the limit by method).
#[tokio::test]
async fn rate_control_paces_posts_per_channel_not_per_workspace() {
    use slack_morphism::prelude::SlackMessageContent;
    let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
    let settings = opsbot_slack::WebApiSettings {
        base_url: slack.api_url(),
        rate_control: true,
    };
    let api = opsbot_slack::WebApi::new(&settings, BOT_TOKEN).unwrap();
    let text = || SlackMessageContent::new().with_text("paced".into());
    let started = std::time::Instant::now();
    for channel in ["C0ONE", "C0TWO", "C0THREE", "C0FOUR"] {
        let destination = opsbot_slack::Destination::channel(channel);
        api.post(&destination, text()).await.unwrap();
    }
    let four_channels = started.elapsed();
    // One per second in the workspace would take at least 3 s.
    assert!(
        four_channels < Duration::from_millis(2500),
        "four channels took {four_channels:?}"
    );
    let started = std::time::Instant::now();
    for _ in 0..2 {
        let destination = opsbot_slack::Destination::channel("C0SAME");
        api.post(&destination, text()).await.unwrap();
    }
    let same_channel = started.elapsed();
    assert!(
        same_channel >= Duration::from_millis(900),
        "two posts in one channel took {same_channel:?}"
    );
    assert_eq!(slack.messages().len(), 6);
    slack.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_slash_command_runs_once_and_an_unavailable_store_answers_503() {
    let bot = Harness::start().await;
    let url = bot.slack.response_url(OPS, ALICE);
    let body = slash_body(ALICE, OPS, "/ops", "whoami", &url);
    let at = now();
    let (status, first) = bot.send(signed("/slack/commands", &body, at)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.contains("⏳"), "{first}");
    // The identical signed request twice more (within the signature window): a replay.
    for _ in 0..2 {
        let (status, again) = bot.send(signed("/slack/commands", &body, at)).await;
        assert_eq!(status, StatusCode::OK, "a replay is acknowledged");
        assert!(!again.contains("⏳"), "but not taken as new: {again}");
    }
    bot.wait_for("answering whoami", |m| {
        m.response_url.as_deref() == Some(url.as_str())
    })
    .await;
    // A last command, answered after the replays were refused.
    let last = bot.slack.response_url(OPS, ALICE);
    bot.slash_answering(ALICE, OPS, "/ops", "services", &last)
        .await;
    bot.wait_for("answering services", |m| {
        m.response_url.as_deref() == Some(last.as_str())
    })
    .await;
    let answers = bot
        .slack
        .messages()
        .into_iter()
        .filter(|m| m.response_url.as_deref() == Some(url.as_str()))
        .count();
    assert_eq!(answers, 1, "answered once");
    let whoami = bot
        .audit()
        .await
        .into_iter()
        .filter(|(_, command, ..)| command == "whoami")
        .count();
    assert_eq!(whoami, 1, "run once");
    assert!(
        bot.metrics()
            .contains(r#"opsbot_slack_requests_total{endpoint="commands",outcome="replayed"} 2"#),
        "{}",
        bot.metrics()
    );

    // With the store gone, a command is refused (Slack shows the user an error), never
    // acknowledged as if it would run.
    bot.app.store.close().await;
    let url = bot.slack.response_url(OPS, ALICE);
    let body = slash_body(ALICE, OPS, "/ops", "whoami", &url);
    let (status, text) = bot.send(signed("/slack/commands", &body, now())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("cannot take commands right now"), "{text}");
    bot.stop().await;
}

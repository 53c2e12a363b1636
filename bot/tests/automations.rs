//! Automated first response end to end: alerts POSTed to `/alerts/alertmanager` open
//! incidents whose threads are in the fake Slack (`opsbot_fakes::slack`); matching
//! `[[automations]]` start their runbook as `automation:NAME` through the real engine
//! (RBAC, runtime, audit), and say what they did in the incident thread.
//!
//! Covered: an alert for a matching incident restarts its service as the automation's
//! principal (audited under its name); an automation whose role lacks `restart` is
//! refused before anything runs, and the incident escalates; the cooldown and the rate
//! limit refuse a second firing; `automation pause` stops an automation and (confirmed)
//! `automation resume` restores it; a runbook that fails escalates the incident at once
//! (the next level is paged long before its timer).

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
use opsbot_fakes::slack::{FakeSlack, PostedMessage};
use serde_json::json;
use sqlx::Row as _;
use tower::ServiceExt as _;

use opsbot_fakes::slack_request::{self as slack_request, form, next_id};
use opsbot_fakes::{HealthyProber as Healthy, RecordingRuntime as Recorder};

const BOT_TOKEN: &str = "xoxb-automation-test-token";
const APP_TOKEN: &str = "xapp-automation-test-token";
const SIGNING_SECRET: &str = "automation-test-signing-secret";
const OPS: &str = "C0OPS";
const ALERTS: &str = "C0ALERTS";
const ALICE: &str = "U0ALICE";
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(30);

fn config_text(api_url: &str, dead_url: &str) -> String {
    let response_url_prefix = format!("{}/response/", api_url.trim_end_matches("/api"));
    format!(
        r#"
[outbox]
channel_rate = 0
retry_base = "100ms"
poll_interval = "50ms"

[slack]
mode = "http"
bot_token = "${{SLACK_BOT_TOKEN}}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
api_url = "{api_url}"
response_url_prefix = "{response_url_prefix}"
rate_control = false
progress_after = "10m"

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[[escalation]]
name = "oncall"
levels = [
  {{ name = "L1", mention = ["@l1-oncall"] }},
  {{ name = "L2", mention = ["@l2-oncall"], after = "1h" }},
]

[[services]]
name = "ai-orchestration"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "orchestration" }}
health = [{{ kind = "http", name = "health", url = "http://orchestration.invalid/health" }}]

[[services]]
name = "ai-rag"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "rag" }}
health = [{{ kind = "http", name = "health", url = "http://rag.invalid/health" }}]

[[services]]
name = "ai-gateway"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "gateway" }}

[[services]]
name = "ai-admin"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "admin" }}

[roles.responder]
allow = [{{ commands = ["automation", "runbook", "restart", "health", "confirm", "cancel"] }}]

[roles.watcher]
allow = [{{ commands = ["runbook", "health"] }}]

[[bindings]]
role = "responder"
subjects = ["slack:{ALICE}", "automation:restarter", "automation:limited", "automation:breaker"]

[[bindings]]
role = "watcher"
subjects = ["automation:unprivileged"]

[[runbooks]]
name = "restart-service"
description = "AI service down: restart, then wait for health"

[[runbooks.params]]
name = "service"
type = "service"

[[runbooks.steps]]
kind = "command"
command = "restart {{service}}"

[[runbooks.steps]]
kind = "wait_healthy"
service = "{{service}}"
timeout = "30s"

[[runbooks]]
name = "admin-offline"
description = "Switch the admin API offline (it is unreachable here)"

[[runbooks.steps]]
kind = "http"
url = "{dead_url}/api/admin/set-mode"
body = {{ mode = "offline" }}

[[automations]]
name = "restarter"
runbook = "restart-service"
on = "incident"
alerts = ["AIServiceDown"]
services = ["ai-orchestration"]
params = {{ service = "{{service}}" }}
max_runs = 2
window = "1h"
cooldown = "10m"

[[automations]]
name = "limited"
runbook = "restart-service"
on = "incident"
alerts = ["RagDown"]
services = ["ai-rag"]
params = {{ service = "{{service}}" }}
max_runs = 1
window = "1h"
cooldown = "1s"

[[automations]]
name = "unprivileged"
runbook = "restart-service"
on = "incident"
alerts = ["GatewayDown"]
services = ["ai-gateway"]
params = {{ service = "{{service}}" }}

[[automations]]
name = "breaker"
runbook = "admin-offline"
on = "incident"
alerts = ["AdminDown"]
services = ["ai-admin"]
"#
    )
}

struct Harness {
    app: App,
    router: Router,
    slack: FakeSlack,
    runtime: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
        // An address nothing listens on: the `http` step of `admin-offline` fails.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let text = config_text(&slack.api_url(), &dead_url);
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| match name {
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
            _ => None,
        };
        let mut config = config::parse(&text, "test.toml", &env).expect("test config is valid");
        config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
        let catalog = Catalog::new(config.services.clone()).unwrap();
        let runtime = Arc::new(Recorder::default());
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
        let app = App::start_with_prober(&loaded, router, Arc::new(Healthy))
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

    async fn send(&self, request: Request<Body>) -> StatusCode {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let _ = response.into_body().collect().await.unwrap();
        status
    }

    /// Alertmanager posts one firing alert (`instance` tells firings apart).
    async fn alert(&self, name: &str, service: &str, instance: &str) {
        let labels = json!({"alertname": name, "service": service, "severity": "critical",
                            "instance": instance});
        let body = json!({
            "receiver": "opsbot", "status": "firing", "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
            "alerts": [{
                "status": "firing", "labels": labels,
                "annotations": {"summary": format!("{service} is down")},
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": format!("{name}-{service}-{instance}")
            }],
            "groupLabels": {"alertname": name},
            "commonLabels": {"alertname": name, "service": service},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093"
        });
        let request = Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        assert_eq!(self.send(request).await, StatusCode::OK);
    }

    async fn slash(&self, user: &str, command: &str, text: &str) {
        let response_url = self.slack.response_url(OPS, user);
        let body = form(&[
            ("team_id", "T0001"),
            ("channel_id", OPS),
            ("channel_name", "ops"),
            ("user_id", user),
            ("user_name", &user.to_lowercase()),
            ("command", command),
            ("text", text),
            ("api_app_id", "A0OPSBOT"),
            ("response_url", &response_url),
            ("trigger_id", &format!("{}.1.x", next_id())),
        ]);
        assert_eq!(
            self.send(signed("/slack/commands", &body)).await,
            StatusCode::OK
        );
    }

    async fn press(&self, user: &str, message: &PostedMessage, command: &str) {
        assert!(
            message.button_values().iter().any(|v| v == command),
            "no `{command}` button on {}",
            message.content()
        );
        let response_url = self.slack.response_url(&message.channel, user);
        let mut posted = json!({"type": "message", "ts": message.ts, "text": message.text()});
        if let Some(thread) = &message.thread_ts {
            posted["thread_ts"] = json!(thread);
        }
        let id = next_id();
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "T0001", "domain": "example"},
            "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0001"},
            "api_app_id": "A0OPSBOT",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
            "trigger_id": format!("{id}.1.x"),
            "channel": {"id": message.channel, "name": "ops"},
            "message": posted,
            "response_url": response_url,
            "actions": [{
                "type": "button", "action_id": "opsbot:0", "block_id": "b0",
                "text": {"type": "plain_text", "text": "press"},
                "value": command, "action_ts": format!("1700000100.{id:06}")
            }]
        });
        let body = form(&[("payload", &payload.to_string())]);
        assert_eq!(
            self.send(signed("/slack/interactions", &body)).await,
            StatusCode::OK
        );
    }

    /// Waits for a message containing `text` (`nth` of them, 1-based) and returns it.
    async fn wait_for_text(&self, text: &str, nth: usize) -> PostedMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found: Vec<PostedMessage> = self
                .slack
                .messages()
                .into_iter()
                .filter(|m| m.content().contains(text))
                .collect();
            if found.len() >= nth {
                return found[nth - 1].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message saying {text:?} (#{nth}) arrived; posted: {:#?}",
                self.slack
                    .messages()
                    .iter()
                    .map(|m| m.content())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the first message with a Confirm button.
    async fn wait_for_confirmation(&self) -> PostedMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(found) = self.slack.messages().into_iter().find(|m| {
                m.button_values()
                    .iter()
                    .any(|value| value.starts_with("confirm "))
            }) {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no confirmation was asked"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every message containing `text`.
    fn count_text(&self, text: &str) -> usize {
        self.slack
            .messages()
            .iter()
            .filter(|m| m.content().contains(text))
            .count()
    }

    /// `(platform, actor, command, decision, outcome)` of every audit entry, in order.
    async fn audit(&self) -> Vec<(String, String, String, String, String)> {
        let rows = sqlx::query(
            "SELECT platform, actor_id, COALESCE(command, ''), decision, outcome \
             FROM audit_log ORDER BY seq",
        )
        .fetch_all(self.app.store.pool())
        .await
        .unwrap();
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect()
    }

    /// `(outcome, detail)` of every ledger row of `automation`, oldest first.
    async fn ledger(&self, automation: &str) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT outcome, detail FROM automation_runs WHERE automation = $1 ORDER BY id",
        )
        .bind(automation)
        .fetch_all(self.app.store.pool())
        .await
        .unwrap()
    }

    async fn stop(self) {
        self.app.shutdown().await;
        self.slack.shutdown();
    }
}

/// `body` to `path`, signed now with this app's signing secret.
fn signed(path: &str, body: &str) -> Request<Body> {
    slack_request::signed(SIGNING_SECRET, path, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_restarts_its_service_as_the_automation_and_the_cooldown_refuses_the_next() {
    let bot = Harness::start().await;
    bot.alert("AIServiceDown", "ai-orchestration", "a").await;
    bot.wait_for_text("started runbook `restart-service`", 1)
        .await;
    bot.wait_for_text("runbook `restart-service` (run 1) succeeded", 1)
        .await;
    assert_eq!(bot.runtime.actions(), vec!["restart ai-orchestration"]);
    let audit = bot.audit().await;
    assert!(
        audit
            .iter()
            .any(|(platform, actor, command, decision, outcome)| {
                platform == "automation"
                    && actor == "restarter"
                    && command == "restart"
                    && decision == "allowed"
                    && outcome == "ok"
            }),
        "the restart is audited as automation:restarter: {audit:#?}"
    );
    // The same incident fires again (another instance): within the cooldown, refused.
    bot.alert("AIServiceDown", "ai-orchestration", "b").await;
    let refused = bot.wait_for_text("did not start runbook", 1).await;
    assert!(
        refused.content().contains("cooldown"),
        "{}",
        refused.content()
    );
    assert_eq!(bot.runtime.actions().len(), 1, "nothing ran twice");
    let ledger = bot.ledger("restarter").await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(ledger[0].0, "started");
    assert_eq!(ledger[1].0, "refused");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_refuses_a_run_beyond_max_runs() {
    let bot = Harness::start().await;
    bot.alert("RagDown", "ai-rag", "a").await;
    bot.wait_for_text("runbook `restart-service` (run 1) succeeded", 1)
        .await;
    // `limited` allows one run per hour; its 1 s cooldown has passed once the run is
    // over and a further second went by, so only the rate limit can refuse now.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    bot.alert("RagDown", "ai-rag", "b").await;
    let refused = bot.wait_for_text("did not start runbook", 1).await;
    assert!(
        refused.content().contains("rate limit"),
        "{}",
        refused.content()
    );
    assert_eq!(bot.runtime.actions(), vec!["restart ai-rag"]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automation_whose_role_lacks_restart_is_refused_and_the_incident_escalates() {
    let bot = Harness::start().await;
    bot.alert("GatewayDown", "ai-gateway", "a").await;
    let refused = bot
        .wait_for_text("could not start runbook `restart-service`", 1)
        .await;
    assert!(
        refused.content().contains("restart"),
        "{}",
        refused.content()
    );
    bot.wait_for_text("Paging L2", 1).await;
    assert!(
        bot.runtime.actions().is_empty(),
        "nothing ran: {:?}",
        bot.runtime.actions()
    );
    let ledger = bot.ledger("unprivileged").await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].0, "failed");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_automation_does_nothing_until_it_is_resumed() {
    let bot = Harness::start().await;
    bot.slash(ALICE, "/automation", "pause restarter").await;
    bot.wait_for_text("Automation `restarter` is paused", 1)
        .await;
    bot.alert("AIServiceDown", "ai-orchestration", "a").await;
    let refused = bot.wait_for_text("did not start runbook", 1).await;
    assert!(
        refused.content().contains("paused by"),
        "{}",
        refused.content()
    );
    assert!(bot.runtime.actions().is_empty());
    bot.slash(ALICE, "/automation", "list").await;
    bot.wait_for_text("⏸ paused by", 1).await;
    // Resuming lets automatic actions happen again: it is confirmed first.
    bot.slash(ALICE, "/automation", "resume restarter").await;
    let ask = bot.wait_for_confirmation().await;
    let confirm = &ask.button_value("confirm ");
    bot.press(ALICE, &ask, confirm).await;
    bot.wait_for_text("Automation `restarter` acts again", 1)
        .await;
    bot.alert("AIServiceDown", "ai-orchestration", "b").await;
    bot.wait_for_text("started runbook `restart-service`", 1)
        .await;
    bot.wait_for_text("succeeded", 1).await;
    assert_eq!(bot.runtime.actions(), vec!["restart ai-orchestration"]);
    let audit = bot.audit().await;
    assert_eq!(
        audit
            .iter()
            .filter(|(_, actor, c, _, _)| actor == ALICE && c == "automation")
            .filter(|(_, _, _, _, outcome)| outcome == "ok")
            .count(),
        3,
        "pause, list and the confirmed resume are audited: {audit:#?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_runbook_escalates_at_once() {
    let bot = Harness::start().await;
    bot.alert("AdminDown", "ai-admin", "a").await;
    bot.wait_for_text("started runbook `admin-offline`", 1)
        .await;
    let failed = bot.wait_for_text("escalating now", 1).await;
    assert!(failed.content().contains("failed"), "{}", failed.content());
    // Level 2 is an hour away by its timer; the failure pages it now.
    bot.wait_for_text("Paging L2", 1).await;
    assert_eq!(bot.count_text("Paging L2"), 1);
    bot.stop().await;
}

// --- helpers ----------------------------------------------------------------------------

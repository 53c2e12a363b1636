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
//! (the next level is paged long before its timer), and so does one that succeeds while
//! the service stays unhealthy; nothing starts in a maintenance window or a silence
//! unless the automation says so; the run reports in the incident's thread; a
//! `wait_healthy` step on a service without health checks fails at once; the example
//! configuration's budget automations (alice-hybrid's `cost_controls.yml`) fire once per
//! threshold and period, against the fake cost APIs (`opsbot_fakes::cost`) and the fake
//! admin API (`opsbot_fakes::admin_api`).

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

use opsbot::cost::budget_alerts;
use opsbot_fakes::slack_request::{self as slack_request, button_body, form, next_id};
use opsbot_fakes::{
    RecordingRuntime as Recorder,
    admin_api::FakeAdminApi,
    cost::{FakeCostApis, OpenAiCost},
    prober::UnhealthyProber,
};

const BOT_TOKEN: &str = "xoxb-automation-test-token";
const APP_TOKEN: &str = "xapp-automation-test-token";
const SIGNING_SECRET: &str = "automation-test-signing-secret";
const OPS: &str = "C0OPS";
const ALERTS: &str = "C0ALERTS";
const ALICE: &str = "U0ALICE";
const OPENAI_KEY: &str = "sk-admin-automation-test";
const ANTHROPIC_KEY: &str = "sk-ant-admin-automation-test";
/// Whose health checks fail (`UnhealthyProber`).
const UNHEALTHY: &str = "ai-voice";
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(30);

/// `HH:MM-HH:MM` (UTC) from an hour ago to an hour from now: a daily maintenance window
/// open now.
fn window_around_now() -> String {
    use jiff::ToSpan as _;
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    let start = now.checked_sub(1.hour()).unwrap();
    let end = now.checked_add(1.hour()).unwrap();
    format!("{}-{}", start.strftime("%H:%M"), end.strftime("%H:%M"))
}

fn config_text(api_url: &str, dead_url: &str, cost_url: &str) -> String {
    let response_url_prefix = format!("{}/response/", api_url.trim_end_matches("/api"));
    let window = window_around_now();
    format!(
        r#"
[cost]
timeout = "5s"
cache_ttl = "0s"
budget_check_interval = "0s"

[cost.openai]
base_url = "{cost_url}"
api_key = "${{TEST_OPENAI_ADMIN_KEY}}"

[[maintenance]]
name = "test window"
services = ["ai-maint*"]
schedule = "daily {window}"

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

[[services]]
name = "ai-maint"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "maint" }}
health = [{{ kind = "http", name = "health", url = "http://maint.invalid/health" }}]

[[services]]
name = "ai-maint-ok"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "maint-ok" }}
health = [{{ kind = "http", name = "health", url = "http://maint-ok.invalid/health" }}]

[[services]]
name = "ai-quiet"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "quiet" }}
health = [{{ kind = "http", name = "health", url = "http://quiet.invalid/health" }}]

[[services]]
name = "ai-quiet-ok"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "quiet-ok" }}
health = [{{ kind = "http", name = "health", url = "http://quiet-ok.invalid/health" }}]

# No health checks: a `wait_healthy` on it can never pass.
[[services]]
name = "ai-batch"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "batch" }}

[[services]]
name = "{UNHEALTHY}"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "kubernetes", namespace = "ai", deployment = "voice" }}
health = [{{ kind = "http", name = "health", url = "http://voice.invalid/health" }}]

[[services]]
name = "alice-openai"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
escalation = "oncall"
target = {{ kind = "none" }}
budget = {{ daily = 10, weekly = 50, warn_percent = 80, critical_percent = 95, currency = "USD" }}

[[services.cost]]
kind = "openai"

[roles.responder]
allow = [{{ commands = ["automation", "runbook", "restart", "health", "silence", "confirm", "cancel"] }}]

[roles.watcher]
allow = [{{ commands = ["runbook", "health"] }}]

[[bindings]]
role = "responder"
subjects = ["slack:{ALICE}", "automation:restarter", "automation:limited", "automation:breaker",
            "automation:maintained", "automation:maintainer", "automation:quiet",
            "automation:quiet-ok", "automation:waiter", "automation:announcer"]

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

[[runbooks]]
name = "wait-healthy"
description = "Wait until the service is healthy (for long)"

[[runbooks.params]]
name = "service"
type = "service"

[[runbooks.steps]]
kind = "wait_healthy"
service = "{{service}}"
timeout = "10m"

[[runbooks]]
name = "announce"
description = "Say in the thread that something was done (and check nothing)"

[[runbooks.params]]
name = "service"
type = "service"

[[runbooks.steps]]
kind = "notify"
message = "caches of {{service}} flushed"

[[automations]]
name = "breaker"
runbook = "admin-offline"
on = "incident"
alerts = ["AdminDown"]
services = ["ai-admin"]

[[automations]]
name = "maintained"
runbook = "restart-service"
on = "incident"
alerts = ["MaintDown"]
services = ["ai-maint"]
params = {{ service = "{{service}}" }}

[[automations]]
name = "maintainer"
runbook = "restart-service"
on = "incident"
alerts = ["MaintDown"]
services = ["ai-maint-ok"]
params = {{ service = "{{service}}" }}
during_maintenance = true

[[automations]]
name = "quiet"
runbook = "restart-service"
on = "incident"
alerts = ["QuietDown"]
services = ["ai-quiet"]
params = {{ service = "{{service}}" }}

[[automations]]
name = "quiet-ok"
runbook = "restart-service"
on = "incident"
alerts = ["QuietDown"]
services = ["ai-quiet-ok"]
params = {{ service = "{{service}}" }}
during_silence = true

[[automations]]
name = "waiter"
runbook = "wait-healthy"
on = "incident"
alerts = ["BatchDown"]
services = ["ai-batch"]
params = {{ service = "{{service}}" }}

[[automations]]
name = "announcer"
runbook = "announce"
on = "incident"
alerts = ["VoiceDown"]
services = ["{UNHEALTHY}"]
params = {{ service = "{{service}}" }}
"#
    )
}

struct Harness {
    app: App,
    router: Router,
    slack: FakeSlack,
    runtime: Arc<Recorder>,
    cost: FakeCostApis,
    admin: FakeAdminApi,
    _dir: tempfile::TempDir,
}

/// The example configuration's budget runbooks and automations (alice-hybrid's
/// `cost_controls.yml`), their admin API at `admin_url` instead of Alice's localhost.
fn example_budget_automations(config: &mut config::Config, admin_url: &str) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let example = config::parse(&text, "opsbot.toml", &|_| None).expect("the example is valid");
    let budget = |name: &str| name.starts_with("alice-budget-");
    let mut runbooks: Vec<_> = example
        .runbooks
        .into_iter()
        .filter(|r| budget(&r.name))
        .collect();
    for step in runbooks.iter_mut().flat_map(|r| r.steps.iter_mut()) {
        if let Some(url) = &mut step.url {
            *url = url.replace("http://localhost:8000", admin_url);
        }
    }
    let automations: Vec<_> = example
        .automations
        .into_iter()
        .filter(|a| budget(&a.name))
        .collect();
    assert_eq!((runbooks.len(), automations.len()), (2, 2));
    assert!(automations.iter().all(|a| a.services == ["alice-openai"]));
    config.runbooks.extend(runbooks);
    config.automations.extend(automations);
}

impl Harness {
    async fn start() -> Harness {
        let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
        // An address nothing listens on: the `http` step of `admin-offline` fails.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let cost = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
        let admin = FakeAdminApi::default();
        let admin_url = admin.start().await;
        let text = config_text(&slack.api_url(), &dead_url, cost.url());
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| match name {
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
            "TEST_OPENAI_ADMIN_KEY" => Some(OPENAI_KEY.to_string()),
            _ => None,
        };
        let mut config = config::parse(&text, "test.toml", &env).expect("test config is valid");
        example_budget_automations(&mut config, &admin_url);
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
        let prober = Arc::new(UnhealthyProber(vec![UNHEALTHY.to_string()]));
        let app = App::start_with_prober(&loaded, router, prober)
            .await
            .expect("opsbot starts");
        let router = server::router(app.server_state(&loaded.config));
        Harness {
            app,
            router,
            slack,
            runtime,
            cost,
            admin,
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
        let body = button_body(user, message, command, &response_url);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_reports_in_the_incidents_thread() {
    let bot = Harness::start().await;
    bot.alert("AIServiceDown", "ai-orchestration", "a").await;
    bot.wait_for_text("runbook `restart-service` (run 1) succeeded", 1)
        .await;
    let root = bot
        .slack
        .messages()
        .into_iter()
        .find(|m| {
            m.channel == ALERTS
                && m.thread_ts.is_none()
                && m.content().contains("AIServiceDown on ai-orchestration")
        })
        .expect("the incident's root message");
    // The run's living message, its steps and how it ended: all in the incident's thread.
    bot.wait_for_text("run #1 finished", 1).await;
    let of_run: Vec<PostedMessage> = bot
        .slack
        .messages()
        .into_iter()
        .filter(|m| m.content().contains("run #1"))
        .collect();
    assert!(of_run.len() >= 3, "{of_run:#?}");
    for message in &of_run {
        assert_eq!(
            (message.channel.as_str(), message.thread_ts.as_deref()),
            (ALERTS, Some(root.ts.as_str())),
            "{}",
            message.content()
        );
    }
    for step in ["step 1/2", "step 2/2"] {
        assert!(
            of_run.iter().any(|m| m.content().contains(step)),
            "{step}: {of_run:#?}"
        );
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_starts_in_a_maintenance_window_unless_the_automation_says_so() {
    let bot = Harness::start().await;
    bot.alert("MaintDown", "ai-maint", "a").await;
    let refused = bot.wait_for_text("did not start runbook", 1).await;
    assert!(
        refused
            .content()
            .contains("maintenance window `test window` covers ai-maint"),
        "{}",
        refused.content()
    );
    assert_eq!(bot.ledger("maintained").await[0].0, "refused");
    // `during_maintenance = true`: the same window does not hold it back.
    bot.alert("MaintDown", "ai-maint-ok", "a").await;
    bot.wait_for_text("runbook `restart-service` (run 1) succeeded", 1)
        .await;
    assert_eq!(bot.runtime.actions(), vec!["restart ai-maint-ok"]);
    assert_eq!(bot.count_text("did not start runbook"), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_starts_in_a_silence_unless_the_automation_says_so() {
    let bot = Harness::start().await;
    bot.slash(
        ALICE,
        "/silence",
        "alertname=QuietDown 2h --reason \"load test\"",
    )
    .await;
    bot.wait_for_text("Silenced", 1).await;
    bot.alert("QuietDown", "ai-quiet", "a").await;
    let refused = bot.wait_for_text("did not start runbook", 1).await;
    assert!(
        refused.content().contains("the incident is silenced")
            && refused.content().contains("load test"),
        "{}",
        refused.content()
    );
    assert_eq!(bot.ledger("quiet").await[0].0, "refused");
    // `during_silence = true`: it runs although its incident is silenced too.
    bot.alert("QuietDown", "ai-quiet-ok", "a").await;
    bot.wait_for_text("runbook `restart-service` (run 1) succeeded", 1)
        .await;
    assert_eq!(bot.runtime.actions(), vec!["restart ai-quiet-ok"]);
    assert_eq!(bot.count_text("did not start runbook"), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_leaves_the_service_unhealthy_escalates_at_once() {
    let bot = Harness::start().await;
    bot.alert("VoiceDown", UNHEALTHY, "a").await;
    // The runbook itself succeeds (it only posts); the service's checks still fail.
    let said = bot
        .wait_for_text("runbook `announce` (run 1) succeeded, but", 1)
        .await;
    assert!(
        said.content()
            .contains(&format!("{UNHEALTHY} is still unhealthy")),
        "{}",
        said.content()
    );
    assert!(
        said.content().contains("escalating now"),
        "{}",
        said.content()
    );
    // Level 2 is an hour away by its timer; it is paged now.
    bot.wait_for_text("Paging L2", 1).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_healthy_on_a_service_without_health_checks_fails_at_once() {
    let bot = Harness::start().await;
    bot.alert("BatchDown", "ai-batch", "a").await;
    // Its timeout is 10 minutes; the test's bound (30 s) only passes if it fails at once.
    let failed = bot
        .wait_for_text("runbook `wait-healthy` (run 1) failed", 1)
        .await;
    assert!(
        failed.content().contains("escalating now"),
        "{}",
        failed.content()
    );
    bot.wait_for_text(
        "ai-batch has no health checks, so it can never be seen healthy",
        1,
    )
    .await;
    bot.wait_for_text("Paging L2", 1).await;
    bot.stop().await;
}

/// OpenAI spend of `value` dollars on `day`.
fn spend(day: jiff::civil::Date, value: f64) -> OpenAiCost {
    OpenAiCost {
        day,
        value,
        line_item: "gpt-4o-realtime, input".into(),
        project_id: "proj_alice".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_budget_automations_fire_once_per_threshold_and_period() {
    let bot = Harness::start().await;
    let now = jiff::Timestamp::now();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let check = |at: jiff::Timestamp| {
        let app = &bot.app;
        async move {
            budget_alerts::check(app.costs.as_ref(), &app.incidents, at)
                .await
                .unwrap()
                .len()
        }
    };
    let paths = |bot: &Harness| -> Vec<String> {
        bot.admin.requests().into_iter().map(|r| r.path).collect()
    };
    // $8.50 of the $10 daily budget: past 80 %. Traffic goes to local AI, once.
    bot.cost.add_openai(spend(today, 8.5));
    assert_eq!(check(now).await, 1);
    bot.wait_for_text("runbook `alice-budget-warning` (run 1) succeeded", 1)
        .await;
    assert_eq!(paths(&bot), ["/api/admin/routing"]);
    assert_eq!(
        bot.admin.requests()[0].body,
        json!({"route_more_to_local": 0.8, "fast_path_timeout_ms": 200})
    );
    assert_eq!(
        check(now).await,
        0,
        "the threshold is crossed once per period"
    );
    // Past 95 %: local only, cost saver, administrators told; the warning does not repeat.
    bot.cost.add_openai(spend(today, 1.2));
    assert_eq!(check(now).await, 1);
    bot.wait_for_text("runbook `alice-budget-critical` (run 2) succeeded", 1)
        .await;
    assert_eq!(
        paths(&bot),
        [
            "/api/admin/routing",
            "/api/admin/set-mode",
            "/api/admin/cost-saver"
        ]
    );
    assert_eq!(bot.admin.requests()[1].body["mode"], "offline");
    let told = bot.wait_for_text("spend passed 95 %", 1).await;
    assert!(
        told.content().contains("80351110224678912"),
        "{}",
        told.content()
    );
    assert_eq!(check(now).await, 0);
    assert_eq!(bot.ledger("alice-budget-warning").await.len(), 1);
    assert_eq!(bot.ledger("alice-budget-critical").await.len(), 1);
    // The next day is the next period: past 80 % again, the warning runs again (once).
    // (Its 1 s cooldown, counted in real time, is over first.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let tomorrow = now + jiff::SignedDuration::from_hours(24);
    bot.cost.add_openai(spend(
        tomorrow.to_zoned(jiff::tz::TimeZone::UTC).date(),
        8.5,
    ));
    assert_eq!(check(tomorrow).await, 1);
    bot.wait_for_text("runbook `alice-budget-warning` (run 3) succeeded", 1)
        .await;
    assert_eq!(check(tomorrow).await, 0);
    assert_eq!(paths(&bot).len(), 4);
    assert_eq!(paths(&bot)[3], "/api/admin/routing");
    let warnings = bot.ledger("alice-budget-warning").await;
    assert_eq!(
        warnings.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
        ["started", "started"]
    );
    assert_eq!(bot.ledger("alice-budget-critical").await.len(), 1);
    bot.stop().await;
}

// --- helpers ----------------------------------------------------------------------------

//! Runbooks end to end through Slack: signed slash commands and button presses go into
//! the real router and engine, the run's living message and thread come out of the real
//! `SlackSink` into the fake Slack Web API (`opsbot_fakes::slack`), and the `http` steps
//! reach a fake admin API (written here, after alice-hybrid's `set-mode` and `broadcast`)
//! that counts every request it gets.
//!
//! Covered: a dry run sends nothing (zero requests) and never shows a secret; a real run
//! is confirmed, runs step by step in one living message edited per step, waits on a
//! manual step until someone presses Done (recorded with who), and ends with every step
//! audited; a starter without `restart` cannot restart through a runbook.

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

use opsbot_fakes::slack_request::{self as slack_request, button_body, form, next_id};
use opsbot_fakes::{
    HealthyProber as Healthy, RecordingRuntime as Recorder, admin_api::FakeAdminApi,
};

const BOT_TOKEN: &str = "xoxb-runbook-test-token";
const APP_TOKEN: &str = "xapp-runbook-test-token";
const SIGNING_SECRET: &str = "runbook-test-signing-secret";
const ADMIN_TOKEN: &str = "admin-token-4f9a1c7e2b";
const OPS: &str = "C0OPS";
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const CAROL: &str = "U0CAROL";
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(30);

fn config_text(api_url: &str, admin_url: &str) -> String {
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

[[services]]
name = "alice-backend"
environment = "prod"
target = {{ kind = "compose", project = "alice", service = "alice-backend" }}
health = [{{ kind = "http", name = "health", url = "http://backend.invalid/health" }}]

[roles.responder]
allow = [{{ commands = ["runbook", "restart", "health", "confirm", "cancel"] }}]

[roles.viewer]
allow = [{{ commands = ["runbook", "health", "confirm", "cancel"] }}]

[[bindings]]
role = "responder"
subjects = ["slack:{ALICE}", "slack:{BOB}"]

[[bindings]]
role = "viewer"
subjects = ["slack:{CAROL}"]

[[runbooks]]
name = "openai-outage"
description = "OpenAI API outage: local-only mode"
services = ["alice-*"]

[[runbooks.params]]
name = "message"
type = "string"
default = "Running in offline mode"

[[runbooks.params]]
name = "service"
type = "service"
default = "alice-backend"

[[runbooks.steps]]
kind = "http"
name = "HUD offline"
url = "{admin_url}/api/admin/set-mode"
headers = {{ Authorization = "Bearer ${{ADMIN_TOKEN}}" }}
body = {{ mode = "offline", message = "{{message}}" }}
expect_json = [{{ path = "ok", equals = "true" }}]

[[runbooks.steps]]
kind = "manual"
instruction = "switch compose to docker-compose.local-only.yml"

[[runbooks.steps]]
kind = "command"
command = "restart {{service}}"

[[runbooks.steps]]
kind = "wait_healthy"
service = "{{service}}"
timeout = "30s"

[[runbooks.steps]]
kind = "notify"
message = "Alice runs offline"
mention = ["@alice-maintainers"]

[[runbooks.steps]]
kind = "http"
url = "{admin_url}/api/admin/broadcast"
headers = {{ Authorization = "Bearer ${{ADMIN_TOKEN}}" }}
body = {{ type = "info", message = "{{message}}" }}
"#
    )
}

struct Harness {
    app: App,
    router: Router,
    slack: FakeSlack,
    runtime: Arc<Recorder>,
    admin: FakeAdminApi,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
        let admin = FakeAdminApi::default();
        let admin_url = admin.start().await;
        let text = config_text(&slack.api_url(), &admin_url);
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| match name {
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
            "ADMIN_TOKEN" => Some(ADMIN_TOKEN.to_string()),
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

    async fn slash(&self, user: &str, text: &str) {
        let response_url = self.slack.response_url(OPS, user);
        let body = form(&[
            ("team_id", "T0001"),
            ("channel_id", OPS),
            ("channel_name", "ops"),
            ("user_id", user),
            ("user_name", &user.to_lowercase()),
            ("command", "/runbook"),
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

    /// `(actor, command, decision, outcome, reason)` of every audit entry, in order.
    async fn audit(&self) -> Vec<(String, String, String, String, String)> {
        let rows = sqlx::query(
            "SELECT actor_id, COALESCE(command, ''), decision, outcome, reason \
             FROM audit_log ORDER BY seq",
        )
        .fetch_all(self.app.store.pool())
        .await
        .unwrap();
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect()
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
async fn a_dry_run_sends_nothing_and_shows_no_secret() {
    let bot = Harness::start().await;
    bot.slash(ALICE, "run openai-outage --dry-run").await;
    let plan = bot
        .wait_for("with the dry run", |m| m.content().contains("Dry run"))
        .await;
    let content = plan.content();
    assert!(content.contains("set-mode"), "{content}");
    assert!(content.contains("restart alice-backend"), "{content}");
    assert!(content.contains("compose"), "which target: {content}");
    assert!(content.contains("Authorization (secret)"), "{content}");
    assert!(
        !content.contains(ADMIN_TOKEN),
        "the token leaked: {content}"
    );
    // Carol may use runbooks but not restart: her dry run says which step she may not run.
    bot.slash(CAROL, "run openai-outage --dry-run").await;
    let refused = bot
        .wait_for("with Carol's dry run", |m| {
            m.content().contains("Dry run") && m.content().contains("may not")
        })
        .await;
    assert!(refused.content().contains("⛔"), "{}", refused.content());
    assert_eq!(bot.admin.count(), 0, "a dry run makes no request at all");
    assert!(bot.runtime.actions().is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_confirmed_then_ticks_through_its_steps_in_one_living_message() {
    let bot = Harness::start().await;
    bot.slash(ALICE, "run openai-outage").await;
    let ask = bot
        .wait_for("asking to confirm", |m| m.content().contains("Confirm"))
        .await;
    assert_eq!(bot.admin.count(), 0, "nothing runs before the confirmation");
    bot.press(ALICE, &ask, &ask.button_value("confirm ")).await;
    let root = bot
        .wait_for("with the run's living message", |m| {
            m.thread_ts.is_none() && m.content().contains("run #1")
        })
        .await;
    let manual = bot
        .wait_for("asking a person", |m| {
            m.thread_ts.as_deref() == Some(root.ts.as_str())
                && m.content().contains("needs a person")
        })
        .await;
    assert!(manual.content().contains("docker-compose.local-only.yml"));
    assert_eq!(bot.admin.count(), 1, "set-mode ran, broadcast waits");
    assert!(
        bot.runtime.actions().is_empty(),
        "the restart waits for Done"
    );
    let done = &manual.button_value("runbook done ");
    bot.press(BOB, &manual, done).await;
    bot.wait_for("saying the run finished", |m| {
        m.thread_ts.as_deref() == Some(root.ts.as_str()) && m.content().contains("finished")
    })
    .await;
    assert_eq!(bot.runtime.actions(), ["restart alice-backend"]);
    assert_eq!(bot.admin.count(), 2);
    let seen = bot.admin.requests();
    assert_eq!(seen[0].path, "/api/admin/set-mode");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {ADMIN_TOKEN}").as_str())
    );
    assert_eq!(
        seen[0].body,
        json!({"mode": "offline", "message": "Running in offline mode"})
    );
    assert_eq!(seen[1].path, "/api/admin/broadcast");
    // The notify step and the restart's own answer are in the thread.
    bot.wait_for("with the notice", |m| {
        m.thread_ts.as_deref() == Some(root.ts.as_str())
            && m.content()
                .contains("@alice-maintainers Alice runs offline")
    })
    .await;
    // One root, edited per step, ending with every step ticked.
    let roots: Vec<_> = bot
        .slack
        .messages_in(OPS)
        .into_iter()
        .filter(|m| m.thread_ts.is_none() && m.content().contains("run #1"))
        .collect();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let root = bot
            .slack
            .messages_in(OPS)
            .into_iter()
            .find(|m| m.ts == root.ts)
            .unwrap();
        if root.content().contains("succeeded") {
            assert!(
                root.edits.len() >= 6,
                "edited per step: {}",
                root.edits.len()
            );
            assert!(
                root.content().matches('✅').count() >= 6,
                "{}",
                root.content()
            );
            assert!(!root.content().contains('⏳'), "{}", root.content());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", root.content());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Who pressed Done is recorded with the step.
    let answered: Option<String> = sqlx::query(
        "SELECT answered_by FROM runbook_run_steps WHERE run_id = 1 AND kind = 'manual'",
    )
    .fetch_one(bot.app.store.pool())
    .await
    .unwrap()
    .get(0);
    assert!(answered.unwrap_or_default().contains(BOB));
    // Each step is its own audit record, linked to the run by its reason.
    let audit = bot.audit().await;
    let steps: Vec<_> = audit
        .iter()
        .filter(|(_, _, _, _, reason)| reason.contains("run #1 step"))
        .collect();
    assert_eq!(steps.len(), 6, "{audit:#?}");
    assert!(steps.iter().all(|(actor, ..)| actor == ALICE), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|(_, command, decision, outcome, _)| command == "restart"
                && decision == "allowed"
                && outcome == "ok"),
        "{steps:#?}"
    );
    assert!(
        audit
            .iter()
            .any(|(actor, command, ..)| actor == BOB && command == "runbook"),
        "Bob's press is audited: {audit:#?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starter_without_restart_rights_cannot_restart_through_a_runbook() {
    let bot = Harness::start().await;
    bot.slash(CAROL, "run openai-outage").await;
    let ask = bot
        .wait_for("asking Carol to confirm", |m| {
            m.content().contains("Confirm")
        })
        .await;
    bot.press(CAROL, &ask, &ask.button_value("confirm ")).await;
    let refused = bot
        .wait_for("refusing the run", |m| {
            m.content().contains("may not run every step")
        })
        .await;
    assert!(
        refused.content().contains("restart"),
        "{}",
        refused.content()
    );
    // Refused before anything was stored or sent: no request, no restart, no run.
    assert_eq!(bot.admin.count(), 0);
    assert!(bot.runtime.actions().is_empty());
    let runs: i64 = sqlx::query("SELECT COUNT(*) FROM runbook_runs")
        .fetch_one(bot.app.store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 0);
    bot.stop().await;
}

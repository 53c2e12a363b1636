//! The web console tests' shared harness (`mod web_support;` in `web_console.rs` and
//! `web_browser.rs`): an opsbot on a scratch store (SQLite, or PostgreSQL when configured)
//! with `[web]` on, a service (a second one with a health check and a budget for the
//! services pages), roles that allow different pages, alerts through the real
//! `/alerts/alertmanager` endpoint, and sign-in links issued by the console `web` command.

#![allow(dead_code)]

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use http_body_util::BodyExt;
use opsbot::{
    app::App,
    audit::AuditLog,
    config::{self, LoadedConfig},
    runtime::RuntimeRouter,
    server,
    store::scratch::{ScratchDatabase, postgres_url_or_skip, scratch_postgres},
};
use opsbot_commands::{
    Actor, Catalog, Invocation, Platform, Reply,
    context::{AuditFilter, NoProgress},
};
use opsbot_fakes::{HealthyProber, RecordingRuntime};
use serde_json::json;
use tower::ServiceExt as _;

pub mod webdriver;

/// Which store the harness runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Console users: `lead` may run `incident`, `audit` and `runbook`, `responder` only
/// `incident`, `guest` nothing.
pub const LEAD: &str = "lead";
pub const RESPONDER: &str = "responder";
pub const GUEST: &str = "guest";
/// In [`services_config_text`] only: may run `services` and nothing else.
pub const VIEWER: &str = "viewer";

pub fn config_text(public_url: &str, web_extra: &str) -> String {
    format!(
        r#"
[web]
public_url = "{public_url}"
{web_extra}

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[[services]]
name = "gateway"
environment = "prod"
target = {{ kind = "kubernetes", namespace = "wrkhrs", deployment = "gateway" }}

[roles.lead]
allow = [{{ commands = ["incident", "audit", "runbook"] }}]

[roles.responder]
allow = [{{ commands = ["incident"] }}]

[[bindings]]
role = "lead"
subjects = ["console:{LEAD}"]

[[bindings]]
role = "responder"
subjects = ["console:{RESPONDER}"]
"#
    )
}

/// [`config_text`] and what the services pages show: a second service, `payments`, with a
/// health check (so a restart or rollback records its revision as known good), a cost
/// source nothing answers (`cost` fails at once) and a budget; `lead` also operates it
/// (`services`, `health`, `cost`, `restart`, `rollback`, `scale`); scaling it needs a
/// second person's approval, which `responder` may give (still without `services`);
/// `viewer` may run `services` only.
pub fn services_config_text(public_url: &str) -> String {
    format!(
        r#"{}
[[services]]
name = "payments"
environment = "prod"
max_replicas = 5
target = {{ kind = "kubernetes", namespace = "shop", deployment = "payments" }}
budget = {{ monthly = 100, daily = 5 }}

[[services.health]]
kind = "http"
name = "payments up"
url = "http://payments.test/healthz"

[[services.cost]]
kind = "prometheus"
url = "http://127.0.0.1:9"
query = "sum(payments_spend_usd)"

[roles.operator]
allow = [{{ commands = ["services", "health", "cost", "restart", "rollback", "scale"] }}]

[roles.approver]
allow = [{{ commands = ["scale"], services = ["payments"] }}]

[roles.catalog]
allow = [{{ commands = ["services"] }}]

[[bindings]]
role = "operator"
subjects = ["console:{LEAD}"]

[[bindings]]
role = "approver"
subjects = ["console:{RESPONDER}"]

[[bindings]]
role = "catalog"
subjects = ["console:{VIEWER}"]

[[approvals]]
name = "two-person-scale"
commands = ["scale"]
services = ["payments"]
approver_roles = ["approver"]

[cost]
timeout = "2s"
"#,
        config_text(public_url, "")
    )
}

/// A running opsbot with the web console.
pub struct WebBot {
    pub app: App,
    pub router: Router,
    pub config: config::Config,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<ScratchDatabase>,
}

impl WebBot {
    /// `None` when PostgreSQL is asked for and not configured (skipped outside CI).
    pub async fn start(backend: Backend, config_text: &str, test: &str) -> Option<WebBot> {
        Self::start_with(backend, config_text, test, RecordingRuntime::default()).await
    }

    /// [`WebBot::start`] with `runtime` behind every target.
    pub async fn start_with(
        backend: Backend,
        config_text: &str,
        test: &str,
        runtime: RecordingRuntime,
    ) -> Option<WebBot> {
        let mut config =
            config::parse(config_text, "test.toml", &|_| None).expect("test config is valid");
        let (dir, postgres) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
                (Some(dir), None)
            }
            Backend::Postgres => {
                let base = postgres_url_or_skip(test)?;
                let (store, scratch) = scratch_postgres(&base).await.expect("scratch database");
                store.close().await;
                config.store.url = scratch.url().to_string();
                (None, Some(scratch))
            }
        };
        let catalog = Catalog::new(config.services.clone()).unwrap();
        let runtime = Arc::new(runtime);
        let router = RuntimeRouter::every_kind(runtime);
        let loaded = LoadedConfig {
            config: config.clone(),
            catalog,
            source: "test.toml".into(),
        };
        let app = App::start_with_prober(&loaded, router, Arc::new(HealthyProber))
            .await
            .expect("opsbot starts");
        let router = server::router(app.server_state(&config));
        Some(WebBot {
            app,
            router,
            config,
            _dir: dir,
            postgres,
        })
    }

    pub async fn stop(self) {
        self.app.shutdown().await;
        if let Some(database) = self.postgres {
            let _ = database.drop_database().await;
        }
    }

    /// Types `text` in the console as `user`.
    pub async fn say(&self, user: &str, text: &str) -> Reply {
        let invocation =
            Invocation::new(Actor::new(Platform::Console, user, user), "console", text);
        self.app.engine.handle(&invocation, &NoProgress).await
    }

    /// Types `text` as `user`, then presses the reply's `confirm ID` button; the reply to
    /// that.
    pub async fn say_confirmed(&self, user: &str, text: &str) -> Reply {
        let asked = self.say(user, text).await;
        let confirm = asked
            .buttons
            .iter()
            .find(|b| b.command.starts_with("confirm "))
            .unwrap_or_else(|| panic!("`{text}` asked no confirmation: {}", asked.to_plain_text()))
            .command
            .clone();
        self.say(user, &confirm).await
    }

    /// The sign-in link the `web` command gives `user`.
    pub async fn link(&self, user: &str) -> String {
        let reply = self.say(user, "web").await;
        let url = reply
            .lines
            .first()
            .unwrap_or_else(|| panic!("`web` answered no link: {}", reply.to_plain_text()));
        assert!(url.contains("/ui/signin/"), "{}", reply.to_plain_text());
        url.clone()
    }

    pub async fn send(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    /// Opens an incident through the Alertmanager endpoint.
    pub async fn alert(&self, name: &str) {
        let body = json!({
            "receiver": "opsbot", "status": "firing", "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": name, "service": "gateway", "severity": "critical"},
                "annotations": {"summary": format!("{name} fires")},
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": format!("{:016x}", name.len() as u64 * 7919)
            }],
            "groupLabels": {"alertname": name}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093"
        })
        .to_string();
        let request = Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, _, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The audit entries of `command`, newest first.
    pub async fn audited(&self, command: &str) -> Vec<opsbot_commands::context::AuditView> {
        AuditLog::new(self.app.store.clone())
            .search(&AuditFilter {
                limit: 100,
                command: Some(command.into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(opsbot::audit::view)
            .collect()
    }

    /// Stores a run of `runbook` for service gateway as a console user started it (two
    /// steps and a rollback step, all pending); its id.
    pub async fn insert_runbook_run(&self, runbook: &str) -> i64 {
        use opsbot::runbooks::repo::{NewRun, Starter, insert_run};
        let starter = Starter {
            kind: "console".into(),
            id: LEAD.into(),
            name: LEAD.into(),
            groups: Vec::new(),
        };
        let params = [("service".to_string(), "gateway".to_string())];
        let mut conn = self.app.store.pool().acquire().await.unwrap();
        insert_run(
            &mut conn,
            &NewRun {
                runbook,
                params: &params,
                request_id: "web-test-run",
                starter: &starter,
                platform: "console",
                channel: "console",
                thread: None,
                owner: "web-test",
                lease_until_us: i64::MAX,
                now: jiff::Timestamp::now(),
                steps: vec![
                    (false, "command", "restart gateway".into()),
                    (false, "wait_healthy", "health gateway".into()),
                    (true, "notify", "say the restart was undone".into()),
                ],
            },
        )
        .await
        .unwrap()
    }

    /// The status of incident `id` in the store.
    pub async fn incident_status(&self, id: i64) -> String {
        sqlx::query_scalar("SELECT status FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_one(self.app.store.read_pool())
            .await
            .unwrap()
    }
}

//! The "Done when", end to end: the catalog example's Kubernetes service
//! (`ai-orchestration`), compose services (`wrkhrs-gateway`, `wrkhrs-rag`, `ai-assistant`)
//! and systemd unit (`ollama`) are health-checked, restarted, rolled back where possible,
//! scaled where allowed and tailed from the console, and the audit log shows each action,
//! its outcome and its approver.
//!
//! opsbot runs as `opsbot serve` wires it (`RuntimeRouter::from_config`, the HTTP prober)
//! on `deploy/examples/opsbot.toml`, with only the targets re-pointed: the kubeconfig at
//! the fake API server, the Docker Engine at the fake engine's socket, the systemd bus at
//! a private `dbus-daemon` with the fake manager, ollama's journal at a fake
//! systemd-journal-gatewayd (all from `opsbot-fakes`), and every health
//! check URL at a small HTTP server in this file. Console users: `operator` and `lead` as
//! the example binds them, plus `admin` (bound here) for what the example grants admins
//! only. Runs on SQLite; the store plays no part in what is tested here.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{StatusCode, Uri},
    routing::get,
};
use opsbot::{
    audit::{AuditEntry, AuditLog, Decision, Outcome},
    config::Config,
};
use opsbot_commands::{
    Reply, Status,
    catalog::{Comparison, HealthCheck, Target},
};
use opsbot_fakes::{
    docker::FakeEngine,
    journal_gateway::FakeJournalGateway,
    kubernetes::FakeApiServer,
    systemd::{Behaviour, PrivateBus},
};
mod support;
use serde_json::{Value, json};
use support::{Backend, TestBot, example_config_text, request_id};

const NS: &str = "userwhisperer-prod";
const DEPLOYMENT: &str = "ai-orchestration";
const IMAGE_1: &str = "gcr.io/userwhisperer/ai-orchestration:2.3.0";
const IMAGE_2: &str = "gcr.io/userwhisperer/ai-orchestration:2.4.0";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
const REVISION: &str = "deployment.kubernetes.io/revision";

/// The runbooks' health endpoints and a Prometheus `/api/v1/query`, all healthy.
#[derive(Clone)]
struct Endpoints {
    /// Query text → a value on the healthy side of its check's thresholds.
    queries: Arc<HashMap<String, f64>>,
    /// Paths requested so far (`/health`, `/api/v1/query`, …).
    hits: Arc<Mutex<Vec<String>>>,
}

impl Endpoints {
    /// Every Prometheus query of the catalog, answered with a healthy value: half the
    /// `warn` threshold where more is worse, twice it where less is worse.
    fn for_catalog(config: &Config) -> Self {
        let queries = config
            .services
            .iter()
            .flat_map(|s| &s.health)
            .filter_map(|check| match check {
                HealthCheck::Prometheus(p) => Some((
                    p.query.clone(),
                    match p.comparison {
                        Comparison::Above => p.warn / 2.0,
                        Comparison::Below => p.warn * 2.0,
                    },
                )),
                HealthCheck::Http(_) => None,
            })
            .collect();
        Self {
            queries: Arc::new(queries),
            hits: Arc::default(),
        }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    async fn serve(&self) -> SocketAddr {
        async fn record(State(endpoints): State<Endpoints>, uri: Uri) -> Uri {
            endpoints.hits.lock().unwrap().push(uri.path().to_string());
            uri
        }
        async fn health(state: State<Endpoints>, uri: Uri) -> Json<Value> {
            record(state, uri).await;
            Json(json!({"status": "ok"}))
        }
        async fn version(state: State<Endpoints>, uri: Uri) -> Json<Value> {
            record(state, uri).await;
            Json(json!({"version": "0.6.8"}))
        }
        async fn tags(state: State<Endpoints>, uri: Uri) -> Json<Value> {
            record(state, uri).await;
            Json(json!({"models": [{"name": "llama3:8b"}, {"name": "qwen2.5:7b"}]}))
        }
        async fn query(
            State(endpoints): State<Endpoints>,
            uri: Uri,
            Query(params): Query<HashMap<String, String>>,
        ) -> (StatusCode, Json<Value>) {
            record(State(endpoints.clone()), uri).await;
            let wanted = params.get("query").and_then(|q| endpoints.queries.get(q));
            match wanted {
                Some(value) => (
                    StatusCode::OK,
                    Json(json!({"status": "success", "data": {"resultType": "vector",
                        "result": [{"metric": {}, "value": [1_700_000_000.0, value.to_string()]}]}})),
                ),
                None => (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"status": "error", "errorType": "bad_data",
                        "error": "not a query of the catalog"})),
                ),
            }
        }
        let app = Router::new()
            .route("/health", get(health))
            .route("/api/version", get(version))
            .route("/api/tags", get(tags))
            .route("/api/v1/query", get(query))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }
}

/// `http://localhost:8080/health` → `http://ADDR/health`: same path, the local fake.
fn repoint(url: &str, addr: SocketAddr) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    format!("http://{addr}{path}")
}

/// The fakes, seeded with what the services under test run on.
struct Fakes {
    api: FakeApiServer,
    engine: FakeEngine,
    bus: PrivateBus,
    /// systemd-journal-gatewayd of ollama's host.
    journal: FakeJournalGateway,
    endpoints: Endpoints,
    http: SocketAddr,
    gateway: String,
    assistant: String,
}

impl Fakes {
    async fn start(config: &Config) -> Self {
        let api = FakeApiServer::start().await;
        api.seed_deployment(NS, DEPLOYMENT, 3, &[IMAGE_1, IMAGE_2]);

        let engine = FakeEngine::start(Duration::from_millis(100)).await;
        let gateway = engine.add("wrkhrs", "wrkhrs-gateway", 1, true);
        engine.add("wrkhrs", "wrkhrs-rag", 1, true);
        let assistant = engine.add("abparts", "ai_assistant", 1, true);
        engine.edit(&gateway, |c| {
            c.logs.extend([
                (1, "INFO POST /v1/chat 200 in 812 ms".to_string()),
                (
                    2,
                    "ERROR upstream wrkhrs-orchestrator: connection reset".to_string(),
                ),
                (1, "INFO POST /v1/chat 200 in 640 ms".to_string()),
            ])
        });
        engine.edit(&assistant, |c| {
            c.logs.extend([
                (1, "INFO session 42 answered in 2.1 s".to_string()),
                (2, "WARN knowledge base search slow (4.8 s)".to_string()),
            ])
        });

        let bus = PrivateBus::start(Duration::from_millis(50)).await;
        bus.systemd
            .add_unit("ollama.service", Behaviour::Starts)
            .await;

        let journal = FakeJournalGateway::start().await;
        journal.log("ollama.service", "ollama", 90, "starting ollama 0.5.1");
        journal.log("sshd.service", "sshd", 60, "Accepted publickey for root");
        journal.log(
            "ollama.service",
            "ollama",
            30,
            "ERROR pull of qwen failed with key sk-live0123456789abcdefXYZ",
        );

        let endpoints = Endpoints::for_catalog(config);
        let http = endpoints.serve().await;
        Self {
            api,
            engine,
            bus,
            journal,
            endpoints,
            http,
            gateway,
            assistant,
        }
    }

    /// The example configuration with its targets and health checks at these fakes.
    fn repoint(&self, config: &mut Config) {
        config.kubernetes.kubeconfig = Some(self.api.kubeconfig().to_path_buf());
        config.docker.default_host = self.engine.docker_host();
        config.systemd.bus = Some(self.bus.address().to_string());
        for service in &mut config.services {
            match &mut service.target {
                Target::Compose {
                    docker_host: Some(host),
                    ..
                } => *host = self.engine.docker_host(),
                Target::Systemd { bus, journal, .. } => {
                    if let Some(bus) = bus {
                        *bus = self.bus.address().to_string();
                    }
                    if journal.is_some() {
                        *journal = Some(self.journal.url.clone());
                    }
                }
                _ => {}
            }
        }
        for check in config.services.iter_mut().flat_map(|s| &mut s.health) {
            match check {
                HealthCheck::Http(http) => http.url = repoint(&http.url, self.http),
                HealthCheck::Prometheus(p) => p.url = format!("http://{}", self.http),
            }
        }
    }

    fn deployment(&self) -> Value {
        self.api.deployment(NS, DEPLOYMENT)
    }

    /// The compose containers of one service.
    fn containers(&self, service: &str) -> Vec<opsbot_fakes::docker::FakeContainer> {
        self.engine
            .containers()
            .into_iter()
            .filter(|c| c.labels["com.docker.compose.service"] == service)
            .collect()
    }
}

/// The example configuration, with console user `admin` bound to role `admin` (the
/// example grants prod `scale` to admins only and binds no console user to it).
fn example_with_console_admin() -> Config {
    let text = format!(
        "{}\n[[bindings]]\nrole = \"admin\"\nsubjects = [\"console:admin\"]\n",
        example_config_text()
    );
    opsbot::config::parse(&text, "opsbot.toml", &|_| None).expect("the example is valid")
}

/// Whether the deployment's rollout is complete (kubectl's `rollout status` rule).
fn rolled_out(deployment: &Value) -> bool {
    let replicas = &deployment["spec"]["replicas"];
    let status = &deployment["status"];
    status["observedGeneration"] == deployment["metadata"]["generation"]
        && &status["updatedReplicas"] == replicas
        && &status["readyReplicas"] == replicas
        && &status["availableReplicas"] == replicas
}

fn text(reply: &Reply) -> String {
    reply.to_plain_text()
}

/// One audit entry the test expects: who ran what, how it ended, who approved it.
struct Expected {
    user: &'static str,
    /// The entry's text: the command as typed, or `confirm ID` for a confirmed run.
    text: String,
    command: &'static str,
    service: &'static str,
    decision: Decision,
    outcome: Outcome,
    approver: Option<&'static str>,
    /// The summary of what the user was told (`Reply::summary`), for runs.
    summary: Option<String>,
}

impl Expected {
    /// The line `audit` shows for it, up to its reason.
    fn line(&self) -> String {
        let mut line = format!(
            "console:{} in console `{}` → {} / {} [{}@prod]",
            self.user, self.text, self.decision, self.outcome, self.service
        );
        if let Some(approver) = self.approver {
            line.push_str(&format!(" approved by console:{approver}"));
        }
        line
    }

    fn matches(&self, entry: &AuditEntry) -> bool {
        let r = &entry.record;
        r.platform == "console"
            && r.actor_id == self.user
            && r.text == self.text
            && r.command.as_deref() == Some(self.command)
            && r.service.as_deref() == Some(self.service)
            && r.environment.as_deref() == Some("prod")
            && r.decision == self.decision
            && r.outcome == self.outcome
            && r.approver.as_deref() == self.approver.map(|a| format!("console:{a}")).as_deref()
            && self
                .summary
                .as_ref()
                .is_none_or(|summary| &r.summary == summary)
    }
}

/// The console users of the example, typing into one opsbot; every command that runs (or
/// is denied) adds the audit entry it must leave.
struct Console<'a> {
    bot: &'a TestBot,
    expected: Mutex<Vec<Expected>>,
}

impl<'a> Console<'a> {
    fn new(bot: &'a TestBot) -> Self {
        Self {
            bot,
            expected: Mutex::default(),
        }
    }

    fn expect(&self, expected: Expected) {
        self.expected.lock().unwrap().push(expected);
    }

    /// A command that runs at once (read-only), ending with `outcome`.
    async fn read(
        &self,
        user: &'static str,
        command: &'static str,
        service: &'static str,
        rest: &str,
        outcome: Outcome,
    ) -> Reply {
        let typed = format!("{command} {service}{rest}");
        let reply = self.bot.say(user, &typed).await;
        self.expect(Expected {
            user,
            text: typed,
            command,
            service,
            decision: Decision::Allowed,
            outcome,
            approver: None,
            summary: Some(reply.summary()),
        });
        reply
    }

    /// A command RBAC refuses `user`.
    async fn denied(
        &self,
        user: &'static str,
        command: &'static str,
        service: &'static str,
        rest: &str,
    ) -> Reply {
        let typed = format!("{command} {service}{rest}");
        self.expect(Expected {
            user,
            text: typed.clone(),
            command,
            service,
            decision: Decision::Denied,
            outcome: Outcome::NotRun,
            approver: None,
            summary: None,
        });
        let reply = self.bot.say(user, &typed).await;
        assert_eq!(reply.title, "Not allowed", "{}", text(&reply));
        reply
    }

    /// `operator` asks and confirms, `lead` approves (the example's `prod-changes` policy);
    /// the run is audited as the operator's, with the approver, ending with `outcome`.
    async fn two_person(
        &self,
        command: &'static str,
        service: &'static str,
        outcome: Outcome,
    ) -> Reply {
        let typed = format!("{command} {service}");
        let asked = self.bot.say("operator", &typed).await;
        assert_eq!(asked.status, Status::Warning, "{}", text(&asked));
        assert!(asked.title.starts_with("Confirm"), "{}", text(&asked));
        let id = request_id(&asked);
        let confirmed = self.bot.say("operator", &format!("confirm {id}")).await;
        assert!(
            confirmed.title.starts_with("Approval needed"),
            "{}",
            text(&confirmed)
        );
        let approved = self.bot.say("lead", &format!("approve {id}")).await;
        assert!(
            text(&approved).contains("Approved by lead for operator"),
            "{}",
            text(&approved)
        );
        self.expect(Expected {
            user: "operator",
            text: typed,
            command,
            service,
            decision: Decision::Allowed,
            outcome,
            approver: Some("lead"),
            summary: Some(approved.summary()),
        });
        approved
    }

    /// A command that can never succeed on this service: refused at once, before anyone
    /// is asked to confirm or approve it, and audited as a failure.
    async fn refused(
        &self,
        user: &'static str,
        command: &'static str,
        service: &'static str,
        rest: &str,
    ) -> Reply {
        let typed = format!("{command} {service}{rest}");
        let reply = self.bot.say(user, &typed).await;
        assert_eq!(
            reply.title,
            format!("`{command}` cannot run here"),
            "{}",
            text(&reply)
        );
        assert!(
            reply.buttons.is_empty(),
            "nothing to confirm: {}",
            text(&reply)
        );
        self.expect(Expected {
            user,
            text: typed,
            command,
            service,
            decision: Decision::Allowed,
            outcome: Outcome::Failed,
            approver: None,
            summary: Some(reply.summary()),
        });
        reply
    }

    /// `user` asks and confirms (no approval policy applies). The run is audited under
    /// the `confirm` (command `confirm`, the action's result as its summary), after the
    /// request's `pending` entry, ending with `outcome`.
    async fn confirmed(
        &self,
        user: &'static str,
        command: &'static str,
        service: &'static str,
        rest: &str,
        outcome: Outcome,
    ) -> Reply {
        let typed = format!("{command} {service}{rest}");
        let asked = self.bot.say(user, &typed).await;
        assert!(asked.title.starts_with("Confirm"), "{}", text(&asked));
        self.expect(Expected {
            user,
            text: typed,
            command,
            service,
            decision: Decision::Pending,
            outcome: Outcome::NotRun,
            approver: None,
            summary: None,
        });
        let confirm = format!("confirm {}", request_id(&asked));
        let reply = self.bot.say(user, &confirm).await;
        self.expect(Expected {
            user,
            text: confirm,
            command,
            service,
            decision: Decision::Allowed,
            outcome,
            approver: None,
            summary: Some(reply.summary()),
        });
        reply
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_example_is_operated_from_the_console() {
    let mut config = example_with_console_admin();
    let fakes = Fakes::start(&config).await;
    fakes.repoint(&mut config);
    let bot = TestBot::start_real(Backend::Sqlite, config, "operate")
        .await
        .expect("SQLite always runs");
    let console = Console::new(&bot);

    kubernetes_deployment(&console, &fakes).await;
    compose_services(&console, &fakes).await;
    systemd_unit(&console, &fakes).await;
    audit_trail(&console).await;

    bot.stop().await;
}

/// `ai-orchestration`: a Deployment in `userwhisperer-prod`, seeded with revisions 1 and 2.
async fn kubernetes_deployment(console: &Console<'_>, fakes: &Fakes) {
    use Outcome::Ok;
    const SVC: &str = "ai-orchestration";

    // health: every check against the fake endpoints, and the API server's own view.
    let health = console.read("operator", "health", SVC, "", Ok).await;
    let reply = text(&health);
    assert_eq!(health.status, Status::Success, "{reply}");
    assert_eq!(health.title, "ai-orchestration is healthy");
    assert_eq!(health.lines.len(), 6, "5 checks and the runtime: {reply}");
    assert!(
        health.lines[..5].iter().all(|l| l.starts_with("✅ ")),
        "{reply}"
    );
    assert_eq!(
        health.lines[5], "✅ runtime — 3/3 ready, 0 restarts",
        "{reply}"
    );
    assert_eq!(fakes.endpoints.hits("/health"), 1);
    assert_eq!(fakes.endpoints.hits("/api/v1/query"), 4);

    // restart: kubectl's restartedAt annotation, a new revision, the rollout followed.
    let before = fakes.deployment();
    let restarted = console.two_person("restart", SVC, Ok).await;
    let reply = text(&restarted);
    assert_eq!(restarted.status, Status::Success, "{reply}");
    assert!(
        reply.contains("deployment.apps/ai-orchestration restarted"),
        "{reply}"
    );
    assert!(
        reply.contains("health after the restart: all 5 checks pass"),
        "{reply}"
    );
    let after = fakes.deployment();
    let stamp = after["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
        .as_str()
        .unwrap_or_else(|| panic!("no {RESTARTED_AT} on the template: {after:#}"))
        .to_string();
    assert!(
        reply.contains(&format!("{RESTARTED_AT}: {stamp}")),
        "{reply}"
    );
    assert_eq!(after["metadata"]["annotations"][REVISION], "3");
    assert!(after["metadata"]["generation"].as_i64() > before["metadata"]["generation"].as_i64());
    assert!(rolled_out(&after), "{after:#}");
    let patch = format!("PATCH /apis/apps/v1/namespaces/{NS}/deployments/{DEPLOYMENT}?");
    assert!(
        fakes.api.requests().iter().any(|r| r.starts_with(&patch)
            && r.contains("application/strategic-merge-patch+json")
            && r.contains(RESTARTED_AT)),
        "{:#?}",
        fakes.api.requests()
    );

    // rollback --list: read-only, newest first, no confirmation.
    let list = console
        .read("operator", "rollback", SVC, " --list", Ok)
        .await;
    let reply = text(&list);
    assert_eq!(
        list.title, "Revisions of ai-orchestration (newest first)",
        "{reply}"
    );
    assert_eq!(list.lines.len(), 3, "{reply}");
    assert!(
        list.lines[0].starts_with(&format!("▶ #3 (current) — `{IMAGE_2}`")),
        "{reply}"
    );
    assert!(
        list.lines[1].starts_with(&format!("• #2 — `{IMAGE_2}`")),
        "{reply}"
    );
    assert!(
        list.lines[2].starts_with(&format!("• #1 — `{IMAGE_1}`")),
        "{reply}"
    );
    assert_eq!(list.buttons[0].command, "rollback ai-orchestration --to 2");

    // rollback --to a revision that does not exist: refused before anyone confirms.
    let unknown = console
        .refused("operator", "rollback", SVC, " --to 99")
        .await;
    assert!(
        text(&unknown)
            .contains("unable to find revision 99 of ai-orchestration; known revisions: 1, 2, 3"),
        "{}",
        text(&unknown)
    );

    // rollback: back to revision 2's template, without the restart annotation.
    let rolled_back = console.two_person("rollback", SVC, Ok).await;
    let reply = text(&rolled_back);
    assert_eq!(rolled_back.status, Status::Success, "{reply}");
    assert!(reply.contains("rolled back to revision 2"), "{reply}");
    assert!(
        reply.contains("health after the rollback: all 5 checks pass"),
        "{reply}"
    );
    let after = fakes.deployment();
    let template = &after["spec"]["template"];
    assert!(
        template["metadata"]["annotations"][RESTARTED_AT].is_null(),
        "{after:#}"
    );
    assert_eq!(template["spec"]["containers"][0]["image"], IMAGE_2);
    assert_eq!(after["metadata"]["annotations"][REVISION], "4");
    assert!(rolled_out(&after), "{after:#}");

    // scale: the example keeps prod capacity changes for admins.
    let denied = console.denied("operator", "scale", SVC, " 5").await;
    assert!(
        text(&denied).contains("roles that would allow it: admin"),
        "{}",
        text(&denied)
    );
    assert_eq!(fakes.deployment()["spec"]["replicas"], 3);
    let scaled = console.confirmed("admin", "scale", SVC, " 5", Ok).await;
    let reply = text(&scaled);
    assert_eq!(scaled.status, Status::Success, "{reply}");
    assert!(reply.contains("scaled from 3 to 5 replicas"), "{reply}");
    let after = fakes.deployment();
    assert_eq!(after["spec"]["replicas"], 5);
    assert!(rolled_out(&after), "{after:#}");
    assert_eq!(fakes.api.pods(NS).len(), 5);

    // logs: every pod's container, grepped like the runbook's `grep ERROR`.
    for (i, pod) in fakes.api.pods(NS).iter().enumerate() {
        let pod = pod["metadata"]["name"].as_str().unwrap();
        let error = format!("ERROR decision {i} failed: model timeout");
        fakes.api.add_log_lines(
            NS,
            pod,
            DEPLOYMENT,
            &[
                (30, "INFO decision made in 41 ms"),
                (20, &error),
                (10, "INFO decision made in 38 ms"),
            ],
        );
    }
    let logs = console
        .read("operator", "logs", SVC, " --grep ERROR", Ok)
        .await;
    let reply = text(&logs);
    assert_eq!(
        logs.title, "Logs of ai-orchestration: 5 lines matching `ERROR`",
        "{reply}"
    );
    assert!(
        reply.contains("ERROR decision 0 failed: model timeout"),
        "{reply}"
    );
    assert!(!reply.contains("INFO decision made"), "{reply}");
}

/// `wrkhrs-gateway`, `wrkhrs-rag` (project `wrkhrs`) and `ai-assistant` (project `abparts`).
async fn compose_services(console: &Console<'_>, fakes: &Fakes) {
    use Outcome::Ok;
    for (service, compose) in [
        ("wrkhrs-gateway", "wrkhrs-gateway"),
        ("ai-assistant", "ai_assistant"),
    ] {
        let health = console.read("operator", "health", service, "", Ok).await;
        let reply = text(&health);
        assert_eq!(health.status, Status::Success, "{reply}");
        assert_eq!(health.title, format!("{service} is healthy"));
        assert!(
            health.lines.iter().filter(|l| l.starts_with("✅ ")).count() >= 3,
            "{reply}"
        );
        let runtime = health
            .lines
            .iter()
            .find(|l| l.contains("runtime — "))
            .unwrap_or_else(|| panic!("no runtime view: {reply}"));
        assert!(
            runtime.starts_with("✅ ") && runtime.contains("healthy"),
            "{runtime}"
        );

        // restart: the container restarts and is healthy again before the reply.
        let restarted = console.two_person("restart", service, Ok).await;
        let reply = text(&restarted);
        assert_eq!(restarted.status, Status::Success, "{reply}");
        assert!(reply.contains("health after the restart: all"), "{reply}");
        let containers = fakes.containers(compose);
        assert_eq!(containers.len(), 1);
        assert_eq!(containers[0].restart_count, 1);
        assert_eq!(containers[0].status, "running");
        assert_eq!(containers[0].health.as_deref(), Some("healthy"));

        // rollback: compose keeps no revisions; the reply says where to look instead.
        let rollback = console.refused("operator", "rollback", service, "").await;
        let reply = text(&rollback);
        assert_eq!(rollback.status, Status::Danger, "{reply}");
        let why = format!("docker compose keeps no previous revision of {service}");
        assert!(reply.contains(&why), "{reply}");
        assert!(reply.contains("runbook"), "{reply}");
        assert_eq!(fakes.containers(compose)[0].restart_count, 1, "nothing ran");
    }
    let restart = format!("POST /v1.43/containers/{}/restart", fakes.gateway);
    assert!(
        fakes
            .engine
            .requests()
            .iter()
            .any(|r| r.starts_with(&restart)),
        "{:#?}",
        fakes.engine.requests()
    );

    // scale: `wrkhrs-rag` is `scalable` (max_replicas 3); admins only in prod.
    console
        .denied("operator", "scale", "wrkhrs-rag", " 2")
        .await;
    let scaled = console
        .confirmed("admin", "scale", "wrkhrs-rag", " 2", Ok)
        .await;
    assert_eq!(scaled.status, Status::Success, "{}", text(&scaled));
    let rag = fakes.containers("wrkhrs-rag");
    assert_eq!(rag.len(), 2, "{rag:#?}");
    assert!(
        rag.iter()
            .all(|c| c.status == "running" && c.health.as_deref() == Some("healthy")),
        "{rag:#?}"
    );
    assert_eq!(rag[1].name, "wrkhrs-wrkhrs-rag-2");
    // The gateway and the assistant are not scaled (no max_replicas, not scalable).
    for (service, compose) in [
        ("wrkhrs-gateway", "wrkhrs-gateway"),
        ("ai-assistant", "ai_assistant"),
    ] {
        let refused = console.refused("admin", "scale", service, " 2").await;
        let reply = text(&refused);
        assert_eq!(refused.status, Status::Danger, "{reply}");
        assert!(reply.contains("does not scale it"), "{reply}");
        assert_eq!(fakes.containers(compose).len(), 1);
    }

    // logs: the containers' output through the Engine API.
    let logs = console
        .read("operator", "logs", "wrkhrs-gateway", " --grep ERROR", Ok)
        .await;
    let reply = text(&logs);
    assert_eq!(
        logs.title, "Logs of wrkhrs-gateway: 1 line matching `ERROR`",
        "{reply}"
    );
    assert!(
        reply.contains("ERROR upstream wrkhrs-orchestrator: connection reset"),
        "{reply}"
    );
    let logs = console
        .read("operator", "logs", "ai-assistant", "", Ok)
        .await;
    let reply = text(&logs);
    assert!(
        reply.contains("WARN knowledge base search slow (4.8 s)"),
        "{reply}"
    );
    assert!(reply.contains("WARN lines: 1"), "{reply}");
    let read = format!("GET /v1.43/containers/{}/logs", fakes.assistant);
    assert!(
        fakes.engine.requests().iter().any(|r| r.starts_with(&read)),
        "{:#?}",
        fakes.engine.requests()
    );
}

/// `ollama`: the systemd unit `ollama.service` of Agent-AIOps.
async fn systemd_unit(console: &Console<'_>, fakes: &Fakes) {
    use Outcome::Ok;
    const SVC: &str = "ollama";
    let versions = fakes.endpoints.hits("/api/version");
    let health = console.read("operator", "health", SVC, "", Ok).await;
    let reply = text(&health);
    assert_eq!(health.status, Status::Success, "{reply}");
    assert!(
        health.lines[0].starts_with("✅ ollama version — 200"),
        "{reply}"
    );
    assert!(
        health.lines[1].starts_with("✅ models installed — 200"),
        "{reply}"
    );
    assert!(reply.contains("✅ runtime — active (running)"), "{reply}");
    assert_eq!(fakes.endpoints.hits("/api/version"), versions + 1);

    let restarted = console.two_person("restart", SVC, Ok).await;
    let reply = text(&restarted);
    assert_eq!(restarted.status, Status::Success, "{reply}");
    assert!(
        reply.contains("restarted systemd unit ollama.service: active (running)"),
        "{reply}"
    );
    assert!(reply.contains("ended: done"), "{reply}");
    assert_eq!(fakes.bus.systemd.restarts("ollama.service"), 1);
    assert_eq!(
        fakes.bus.systemd.state("ollama.service"),
        ("active".into(), "running".into(), "success".into())
    );

    let rollback = console.refused("operator", "rollback", SVC, "").await;
    let reply = text(&rollback);
    assert_eq!(rollback.status, Status::Danger, "{reply}");
    assert!(
        reply.contains("systemd keeps no previous revision of ollama.service"),
        "{reply}"
    );
    assert!(reply.contains("runbooks/agent-aiops.txt"), "{reply}");

    // The example gives ollama no max_replicas, so `scale` stops before the adapter.
    let scale = console.refused("admin", "scale", SVC, " 2").await;
    let reply = text(&scale);
    assert_eq!(scale.status, Status::Danger, "{reply}");
    assert!(
        reply.contains("ollama has no `max_replicas` in the catalog"),
        "{reply}"
    );

    // logs: the unit's journal through systemd-journal-gatewayd, redacted like any logs.
    let logs = console.read("operator", "logs", SVC, "", Ok).await;
    let reply = text(&logs);
    assert!(
        reply.contains("ollama[4242]: starting ollama 0.5.1"),
        "{reply}"
    );
    assert!(
        reply.contains("ERROR pull of qwen failed with key sk-[redacted]"),
        "{reply}"
    );
    assert!(!reply.contains("sk-live0123456789abcdefXYZ"), "{reply}");
    assert!(!reply.contains("Accepted publickey"), "{reply}");
    assert_eq!(
        fakes.journal.requests().last().unwrap().target,
        "/entries?_SYSTEMD_UNIT=ollama.service"
    );
    assert_eq!(
        fakes.bus.systemd.restarts("ollama.service"),
        1,
        "only the restart ran"
    );
}

/// Every action above, with its outcome and approver: once in the store, once in the
/// console's `audit`, in a hash chain that verifies.
async fn audit_trail(console: &Console<'_>) {
    let bot = console.bot;
    let expected = console
        .expected
        .lock()
        .unwrap()
        .drain(..)
        .collect::<Vec<_>>();
    assert_eq!(expected.len(), 27, "9 Kubernetes, 13 compose, 5 systemd");

    let entries = AuditLog::new(bot.app.store.clone())
        .entries(0, 1000)
        .await
        .unwrap();
    for expected in &expected {
        let found = entries.iter().filter(|e| expected.matches(e)).count();
        let similar: Vec<_> = entries
            .iter()
            .filter(|e| e.record.text == expected.text)
            .map(|e| &e.record)
            .collect();
        assert_eq!(found, 1, "entries like {}: {similar:#?}", expected.line());
    }

    let audit = bot.say("lead", "audit --limit 200").await;
    let reply = text(&audit);
    assert_eq!(audit.lines.len(), entries.len(), "{reply}");
    for expected in &expected {
        let line = expected.line();
        assert!(
            audit.lines.iter().any(|l| l.contains(&line)),
            "no `{line}` in:\n{reply}"
        );
    }

    let report = opsbot::audit::verify(&bot.app.store).await.unwrap();
    assert!(report.problem.is_none(), "{report}");
    assert_eq!(
        report.checked as usize,
        entries.len() + 1,
        "and the `audit` itself"
    );
}

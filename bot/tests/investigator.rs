//! Investigations end to end through Slack: an alert POSTed to `/alerts/alertmanager`
//! opens an incident whose root is in the fake Slack (`opsbot_fakes::slack`); its
//! Investigate button (or `/incident investigate`) starts an investigation that asks a
//! fake OpenAI-compatible endpoint (`opsbot_fakes::openai`, scripted per test), runs
//! the model's tool calls through the real engine as the asker (RBAC, audit), and
//! streams the answer into the incident's thread as one message edited as it grows.
//!
//! Covered: a two-round tool-calling investigation ending with Restart and Logs buttons
//! (a press is an ordinary, confirmed invocation by the presser); a destructive tool
//! call refused and recorded; secrets in logs, alert annotations and health answers
//! never reaching the endpoint; a silent endpoint (timeout) and malformed chunks ending
//! with a plain message and the evidence; a follow-up question continuing the
//! conversation; `auto` on a critical incident with the automation principal's rights,
//! only for the services of `auto_services`, at most `max_concurrent` at once (a skipped
//! incident's thread says so). The same investigation through Discord
//! (`investigator_support::discord`): the message posted in the thread started from the
//! incident's root, edited there as the answer streams, ending with its buttons.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
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
use opsbot_commands::{
    Catalog, Service,
    catalog::HealthCheck,
    context::{CheckOutcome, HealthLevel, LogChunk, Prober},
};
use opsbot_fakes::openai::{FakeOpenAi, Scripted};
use opsbot_fakes::slack::{FakeSlack, PostedMessage};
use serde_json::{Value, json};
use sqlx::Row as _;
use tower::ServiceExt as _;

use opsbot_fakes::RecordingRuntime as Recorder;
use opsbot_fakes::slack_request::{self as slack_request, button_body, form, next_id};

mod investigator_support;
use investigator_support::discord::{self as on_discord, DiscordBot};

const BOT_TOKEN: &str = "xoxb-investigator-test-token";
const APP_TOKEN: &str = "xapp-investigator-test-token";
const SIGNING_SECRET: &str = "investigator-test-signing-secret";
const OPS: &str = "C0OPS";
const ALERTS: &str = "C0ALERTS";
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(30);

/// Secrets planted in what opsbot reads; none may reach the model.
const LOG_PASSWORD: &str = "hunter2-log-password";
const LOG_BEARER: &str = "eyJraWQiOiJsb2ctYmVhcmVyLXRva2Vu";
const ANNOTATION_TOKEN: &str = "annotation-token-5c1d";
const HEALTH_KEY: &str = "sk-healthbodykey0123456789abcdef";

/// How the harness is set up.
#[derive(Clone, Copy, Default)]
struct Setup {
    /// `auto = ["critical"]`.
    auto: bool,
    /// `auto_services`, as TOML (`["oll*"]`); `None`: left out.
    auto_services: Option<&'static str>,
    /// `max_concurrent`; 0: left out.
    max_concurrent: u32,
    /// The model's timeout.
    timeout_secs: u64,
}

fn config_text(api_url: &str, model_url: &str, setup: Setup) -> String {
    let response_url_prefix = format!("{}/response/", api_url.trim_end_matches("/api"));
    let mut auto = if setup.auto { r#"["critical"]"# } else { "[]" }.to_string();
    if let Some(services) = setup.auto_services {
        auto.push_str(&format!("\nauto_services = {services}"));
    }
    if setup.max_concurrent > 0 {
        auto.push_str(&format!("\nmax_concurrent = {}", setup.max_concurrent));
    }
    let timeout = setup.timeout_secs.max(1);
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

[investigator]
base_url = "{model_url}"
model = "llama3.1:8b"
api_key = "${{OLLAMA_API_KEY}}"
timeout = "{timeout}s"
max_rounds = 3
max_tool_calls = 8
edit_interval = "50ms"
auto = {auto}
price_per_million_input = "1.00"
price_per_million_output = "2.00"

[[services]]
name = "ollama"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
target = {{ kind = "kubernetes", namespace = "aiops", deployment = "ollama" }}
health = [{{ kind = "http", name = "api", url = "http://ollama.invalid:11434/api/version" }}]

[[services]]
name = "open-webui"
environment = "prod"
channels = {{ slack = "{ALERTS}" }}
target = {{ kind = "kubernetes", namespace = "aiops", deployment = "open-webui" }}

[roles.responder]
allow = [{{ commands = ["incident", "health", "logs", "rollback", "cost", "restart", "confirm", "cancel"] }}]

[roles.reader]
allow = [{{ commands = ["incident", "health", "logs"] }}]

[[bindings]]
role = "responder"
subjects = ["slack:{ALICE}", "slack:{BOB}"]

[[bindings]]
role = "reader"
subjects = ["automation:investigator"]
"#
    )
}

/// Health checks answer with a body that carries a key (a leaky health endpoint).
struct LeakyProber;

#[async_trait]
impl Prober for LeakyProber {
    async fn probe(&self, _: &Service, check: &HealthCheck) -> CheckOutcome {
        CheckOutcome {
            name: check.name().to_string(),
            level: HealthLevel::Critical,
            detail: format!(
                r#"500 in 3 ms: {{"error":"cuda init failed","api_key":"{HEALTH_KEY}"}}"#
            ),
            latency: Duration::from_millis(3),
        }
    }
}

struct Harness {
    app: App,
    router: Router,
    slack: FakeSlack,
    model: FakeOpenAi,
    runtime: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(setup: Setup) -> Harness {
        let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
        let model = FakeOpenAi::start().await;
        let setup = Setup {
            timeout_secs: if setup.timeout_secs == 0 {
                20
            } else {
                setup.timeout_secs
            },
            ..setup
        };
        let text = config_text(&slack.api_url(), &model.base_url(), setup);
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| match name {
            "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
            "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
            "OLLAMA_API_KEY" => Some("ollama-key-9f2c".to_string()),
            _ => None,
        };
        let mut config = config::parse(&text, "test.toml", &env).expect("test config is valid");
        config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
        let catalog = Catalog::new(config.services.clone()).unwrap();
        let runtime = Arc::new(Recorder::default());
        runtime.set_logs(vec![LogChunk {
            source: "ollama-7d9f/ollama".into(),
            lines: vec![
                "level=ERROR msg=\"CUDA error: out of memory\" model=llama3.1:8b".into(),
                format!("connecting to registry with password={LOG_PASSWORD}"),
                format!("GET /api/pull Authorization: Bearer {LOG_BEARER}"),
            ],
        }]);
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
        let app = App::start_with_prober(&loaded, router, Arc::new(LeakyProber))
            .await
            .expect("opsbot starts");
        let router = server::router(app.server_state(&loaded.config));
        Harness {
            app,
            router,
            slack,
            model,
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

    /// Alertmanager posts one firing OllamaDown alert with `severity`.
    async fn alert(&self, severity: &str) {
        self.alert_about("ollama", "OllamaDown", severity).await;
    }

    /// Alertmanager posts one firing alert `name` of `service` with `severity` (an
    /// incident of its own per name).
    async fn alert_about(&self, service: &str, name: &str, severity: &str) {
        let labels = json!({"alertname": name, "service": service,
                            "severity": severity, "instance": "gpu-1"});
        let body = json!({
            "receiver": "opsbot", "status": "firing", "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
            "alerts": [{
                "status": "firing", "labels": labels,
                "annotations": {"summary": format!("{service} is not answering"),
                                "description": format!("probe used token={ANNOTATION_TOKEN}")},
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": format!("{service}-{name}-{severity}")
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

    /// `user` writes `@opsbot TEXT` in the thread of `root`.
    async fn mention(&self, user: &str, root: &PostedMessage, text: &str) {
        let id = next_id();
        let event = json!({"type": "app_mention", "user": user, "text": format!("<@U0OPSBOT> {text}"),
                  "ts": format!("1700000600.{id:06}"), "channel": root.channel,
                  "thread_ts": root.ts, "event_ts": format!("1700000600.{id:06}")});
        let now = jiff::Timestamp::now().as_second();
        let body = json!({
            "token": "t", "team_id": "T0001", "api_app_id": "A0OPSBOT", "type": "event_callback",
            "event_id": format!("Ev0M{id}"), "event_time": now, "event": event
        })
        .to_string();
        assert_eq!(
            self.send(signed("/slack/events", &body)).await,
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

    /// Waits for a message `found` accepts.
    async fn wait_for(&self, what: &str, found: impl Fn(&PostedMessage) -> bool) -> PostedMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(message) = self.slack.messages().into_iter().find(|m| found(m)) {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message {what} arrived; posted: {:#?}",
                self.slack
                    .messages()
                    .iter()
                    .map(|m| m.content())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The incident's root in the alerts channel.
    async fn incident_root(&self) -> PostedMessage {
        self.root_of(1).await
    }

    /// The root of incident `id` (below 10) in the alerts channel.
    async fn root_of(&self, id: i64) -> PostedMessage {
        let title = format!("Incident #{id}");
        self.wait_for(&format!("with the root of incident #{id}"), |m| {
            m.channel == ALERTS && m.thread_ts.is_none() && m.content().contains(&title)
        })
        .await
    }

    /// The investigated incidents, in order.
    async fn investigated(&self) -> Vec<i64> {
        sqlx::query_scalar("SELECT incident_id FROM investigations ORDER BY id")
            .fetch_all(self.app.store.pool())
            .await
            .unwrap()
    }

    /// The investigation's message in `root`'s thread once it is final (an answer with
    /// its footer, or why it stopped) and says `text`.
    async fn answer_in_thread(&self, root: &PostedMessage, text: &str) -> PostedMessage {
        self.wait_for(&format!("in the incident's thread saying {text:?}"), |m| {
            let content = m.content();
            m.thread_ts.as_deref() == Some(root.ts.as_str())
                && content.contains(text)
                && (content.contains("🤖") || content.contains("The investigation stopped"))
        })
        .await
    }

    /// `(platform, actor, command, decision, outcome, reason)` of every audit entry.
    async fn audit(&self) -> Vec<(String, String, String, String, String, String)> {
        let rows = sqlx::query(
            "SELECT platform, actor_id, COALESCE(command, ''), decision, outcome, reason \
             FROM audit_log ORDER BY seq",
        )
        .fetch_all(self.app.store.pool())
        .await
        .unwrap();
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect()
    }

    /// Waits until the investigation's own audit record (its reason names the model).
    async fn wait_for_investigation_record(
        &self,
    ) -> (String, String, String, String, String, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(found) = self
                .audit()
                .await
                .into_iter()
                .find(|r| r.5.contains("model llama3.1:8b"))
            {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the investigation was not audited: {:#?}",
                self.audit().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.app.shutdown().await;
        self.slack.shutdown();
        self.model.shutdown();
    }
}

fn signed(path: &str, body: &str) -> Request<Body> {
    slack_request::signed(SIGNING_SECRET, path, body)
}

fn calls(list: &[(&str, Value)]) -> Scripted {
    Scripted::ToolCalls(
        list.iter()
            .map(|(name, arguments)| (name.to_string(), arguments.to_string()))
            .collect(),
    )
}

const ANSWER: &str = "WHAT IS WRONG: Ollama is down because the GPU ran out of memory while loading llama3.1:8b.\n\
EVIDENCE:\n\
- CUDA error: out of memory [logs ollama]\n\
- the api check fails with 500 [health ollama]\n\
CONFIDENCE: high\n\
ACTION: restart ollama\n\
ACTION: logs ollama\n";

/// The `role: tool` messages of a request, as text.
fn tool_messages(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_round_investigation_streams_one_message_with_restart_and_logs_buttons() {
    let bot = Harness::start(Setup::default()).await;
    bot.model.script([
        calls(&[
            ("health", json!({"service": "ollama"})),
            ("logs", json!({"service": "ollama", "grep": "CUDA"})),
        ]),
        calls(&[("rollout_history", json!({"service": "ollama"}))]),
        Scripted::Answer(ANSWER.into()),
    ]);
    bot.alert("critical").await;
    let root = bot.incident_root().await;
    bot.press(ALICE, &root, "incident investigate 1").await;
    let answer = bot.answer_in_thread(&root, "restart ollama").await;
    assert!(
        answer.content().contains("GPU ran out of memory"),
        "{}",
        answer.content()
    );
    assert!(
        answer.content().contains("high"),
        "the confidence: {}",
        answer.content()
    );
    assert_eq!(
        answer.button_values(),
        ["restart ollama", "logs ollama"],
        "the proposed actions are buttons"
    );
    assert!(
        !answer.edits.is_empty(),
        "one message edited as it grew, not a message per piece"
    );
    let in_thread: Vec<PostedMessage> = bot
        .slack
        .thread(&root.ts)
        .into_iter()
        .filter(|m| m.content().contains("🔎"))
        .collect();
    assert_eq!(
        in_thread.len(),
        1,
        "one investigation message: {in_thread:#?}"
    );
    // Three rounds against the endpoint: the tools offered, their results sent back.
    let requests = bot.model.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0]["stream"], json!(true));
    assert_eq!(requests[0]["model"], json!("llama3.1:8b"));
    let offered: Vec<&str> = requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        offered.contains(&"health") && offered.contains(&"logs"),
        "{offered:?}"
    );
    assert!(!offered.contains(&"restart"), "{offered:?}");
    assert_eq!(
        bot.model.authorizations()[0].as_deref(),
        Some("Bearer ollama-key-9f2c")
    );
    let round_one = tool_messages(&requests[1]);
    assert_eq!(round_one.len(), 2, "{round_one:?}");
    assert!(round_one[0].contains("[health ollama]"), "{round_one:?}");
    assert!(round_one[1].contains("CUDA error"), "{round_one:?}");
    assert!(
        tool_messages(&requests[2])
            .iter()
            .any(|m| m.contains("rollback ollama --list"))
    );
    // The evidence was read in the first request: the alert, health, logs, history.
    let brief = requests[0]["messages"][1]["content"].as_str().unwrap();
    assert!(brief.contains("[alert OllamaDown]"), "{brief}");
    assert!(brief.contains("[rollback ollama --list]"), "{brief}");
    // Each tool ran as Alice, audited; the investigation has its own record.
    let record = bot.wait_for_investigation_record().await;
    assert_eq!(
        (record.1.as_str(), record.2.as_str(), record.4.as_str()),
        (ALICE, "incident", "ok")
    );
    assert!(record.5.contains("tokens in 300 out 60"), "{}", record.5);
    assert!(record.5.contains("3 tool calls"), "{}", record.5);
    let audit = bot.audit().await;
    assert!(
        audit.iter().any(|r| r.1 == ALICE
            && r.2 == "health"
            && r.3 == "allowed"
            && r.5.contains("investigation #1")),
        "{audit:#?}"
    );
    // The investigation's spend is stored: 300 in at 1.00/M, 60 out at 2.00/M.
    let cost: String = sqlx::query_scalar("SELECT cost FROM investigations WHERE id = 1")
        .fetch_one(bot.app.store.pool())
        .await
        .unwrap();
    assert_eq!(cost.parse::<f64>().unwrap(), 0.00042);
    // Pressing Restart is an ordinary invocation by the presser: confirmed first.
    bot.press(BOB, &answer, "restart ollama").await;
    bot.wait_for("asking Bob to confirm", |m| {
        m.button_values().iter().any(|v| v.starts_with("confirm "))
    })
    .await;
    assert!(
        bot.runtime.actions().is_empty(),
        "nothing ran before the confirmation"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destructive_tool_call_is_refused_and_recorded() {
    let bot = Harness::start(Setup::default()).await;
    bot.model.script([
        calls(&[
            ("restart", json!({"service": "ollama"})),
            ("rollout_history", json!({"service": "ollama --to 1"})),
        ]),
        Scripted::Answer(ANSWER.into()),
    ]);
    bot.alert("critical").await;
    let root = bot.incident_root().await;
    bot.press(ALICE, &root, "incident investigate 1").await;
    bot.answer_in_thread(&root, "restart ollama").await;
    assert!(
        bot.runtime.actions().is_empty(),
        "the model restarted nothing"
    );
    let results = tool_messages(&bot.model.requests()[1]);
    assert!(results.iter().all(|r| r.contains("Refused")), "{results:?}");
    bot.wait_for_investigation_record().await;
    let audit = bot.audit().await;
    assert!(
        audit.iter().any(|r| r.1 == ALICE
            && r.2 == "restart"
            && r.3 == "denied"
            && r.4 == "not_run"
            && r.5.contains("refused tool call `restart`")),
        "the refusal is recorded: {audit:#?}"
    );
    assert!(
        !audit.iter().any(|r| r.2 == "restart" && r.3 == "allowed"),
        "{audit:#?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_logs_alert_annotations_and_health_never_reach_the_model() {
    let bot = Harness::start(Setup::default()).await;
    bot.model.script([
        calls(&[
            ("logs", json!({"service": "ollama"})),
            ("health", json!({"service": "ollama"})),
        ]),
        Scripted::Answer(ANSWER.into()),
    ]);
    bot.alert("critical").await;
    let root = bot.incident_root().await;
    bot.press(ALICE, &root, "incident investigate 1").await;
    bot.answer_in_thread(&root, "restart ollama").await;
    let sent = bot.model.everything_sent();
    assert!(sent.contains("CUDA error"), "the logs were sent: {sent}");
    assert!(
        sent.contains("cuda init failed"),
        "the health answer was sent: {sent}"
    );
    assert!(
        sent.contains("probe used token="),
        "the annotation was sent: {sent}"
    );
    assert!(sent.contains("[redacted]"), "{sent}");
    for secret in [LOG_PASSWORD, LOG_BEARER, ANNOTATION_TOKEN, HEALTH_KEY] {
        assert!(!sent.contains(secret), "`{secret}` reached the model");
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_endpoint_and_malformed_chunks_end_with_a_plain_message_and_the_evidence() {
    let bot = Harness::start(Setup {
        timeout_secs: 1,
        ..Setup::default()
    })
    .await;
    bot.model.script([Scripted::Silence]);
    bot.alert("critical").await;
    let root = bot.incident_root().await;
    bot.press(ALICE, &root, "incident investigate 1").await;
    let stopped = bot.answer_in_thread(&root, "did not answer within").await;
    assert!(
        stopped.content().contains("Evidence gathered so far"),
        "{}",
        stopped.content()
    );
    assert!(
        stopped.content().contains("logs ollama"),
        "{}",
        stopped.content()
    );
    assert!(
        stopped
            .button_values()
            .iter()
            .all(|v| !v.starts_with("restart"))
    );
    // Asked again (a follow-up), the endpoint sends a chunk that is not JSON.
    bot.model.script([Scripted::Raw(
        "data: {\"choices\":[{\"delta\":{\"content\":\"Ollama \"}}]}\n\ndata: {oops\n\n".into(),
    )]);
    bot.slash(ALICE, "/incident", "investigate 1 still down?")
        .await;
    let malformed = bot.answer_in_thread(&root, "malformed").await;
    assert!(
        malformed.content().contains("still down?"),
        "{}",
        malformed.content()
    );
    let audit = bot.audit().await;
    let failed = audit
        .iter()
        .filter(|r| r.5.contains("model llama3.1:8b") && r.4 == "failed")
        .count();
    assert_eq!(failed, 2, "both turns audited as failed: {audit:#?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_question_continues_the_conversation() {
    let bot = Harness::start(Setup::default()).await;
    bot.model.script([Scripted::Answer(ANSWER.into())]);
    bot.alert("critical").await;
    let root = bot.incident_root().await;
    bot.press(ALICE, &root, "incident investigate 1").await;
    bot.answer_in_thread(&root, "restart ollama").await;
    bot.model.script([Scripted::Answer(
        "WHAT IS WRONG: a second model was loaded next to llama3.1:8b.\nCONFIDENCE: medium\nACTION: logs ollama".into(),
    )]);
    // Bob asks in the thread, after @opsbot: no command, a question.
    bot.mention(BOB, &root, "why did the GPU fill up?").await;
    let second = bot
        .answer_in_thread(&root, "a second model was loaded")
        .await;
    assert_eq!(second.button_values(), ["logs ollama"]);
    let requests = bot.model.requests();
    assert_eq!(requests.len(), 2);
    let messages = requests[1]["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "user"],
        "the same conversation"
    );
    assert!(
        messages[2]["content"]
            .as_str()
            .unwrap()
            .contains("GPU ran out of memory")
    );
    assert_eq!(messages[3]["content"], json!("why did the GPU fill up?"));
    let audit = bot.audit().await;
    assert!(
        audit
            .iter()
            .any(|r| r.1 == BOB && r.2 == "incident" && r.5.contains("follow-up question")),
        "{audit:#?}"
    );
    let turns: i64 = sqlx::query_scalar("SELECT turns FROM investigations WHERE id = 1")
        .fetch_one(bot.app.store.pool())
        .await
        .unwrap();
    assert_eq!(turns, 2);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_investigates_a_critical_incident_with_the_automation_principals_rights() {
    let bot = Harness::start(Setup {
        auto: true,
        ..Setup::default()
    })
    .await;
    bot.model.script([
        calls(&[("cost", json!({"service": "ollama"}))]),
        Scripted::Answer(ANSWER.into()),
    ]);
    bot.alert("critical").await;
    let root = bot.incident_root().await;
    let answer = bot.answer_in_thread(&root, "restart ollama").await;
    assert!(
        answer.content().contains("automation:investigator"),
        "{}",
        answer.content()
    );
    let record = bot.wait_for_investigation_record().await;
    assert_eq!(
        (record.0.as_str(), record.1.as_str()),
        ("automation", "investigator")
    );
    let audit = bot.audit().await;
    assert!(
        audit
            .iter()
            .any(|r| r.0 == "automation" && r.2 == "health" && r.3 == "allowed"),
        "the reader role may read health: {audit:#?}"
    );
    assert!(
        audit
            .iter()
            .any(|r| r.0 == "automation" && r.2 == "cost" && r.3 == "denied"),
        "the reader role may not read cost, even when the model asks: {audit:#?}"
    );
    let results = tool_messages(&bot.model.requests()[1]);
    assert!(results[0].contains("Not allowed"), "{results:?}");
    assert_eq!(
        bot.model.requests().len(),
        2,
        "one investigation, two rounds"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_investigates_incidents_of_auto_services_only() {
    let bot = Harness::start(Setup {
        auto: true,
        auto_services: Some(r#"["oll*"]"#),
        ..Setup::default()
    })
    .await;
    bot.model.script([Scripted::Answer(ANSWER.into())]);
    // Critical, but of a service `auto_services` leaves out: incident #1.
    bot.alert_about("open-webui", "WebUiDown", "critical").await;
    let webui = bot.root_of(1).await;
    // Critical and of `ollama`: incident #2, investigated by itself.
    bot.alert_about("ollama", "OllamaDown", "critical").await;
    let ollama = bot.root_of(2).await;
    let answer = bot.answer_in_thread(&ollama, "restart ollama").await;
    assert!(
        answer.content().contains("automation:investigator"),
        "{}",
        answer.content()
    );
    bot.wait_for_investigation_record().await;
    assert_eq!(bot.investigated().await, [2], "only ollama's incident");
    assert_eq!(bot.model.requests().len(), 1, "the model was asked once");
    assert!(
        bot.slack
            .thread(&webui.ts)
            .iter()
            .all(|m| !m.content().contains("🔎") && !m.content().contains("Not investigated")),
        "nothing about an investigation in open-webui's thread: {:#?}",
        bot.slack.thread(&webui.ts)
    );
    // Anyone may still ask for one.
    bot.model.script([Scripted::Answer(
        "WHAT IS WRONG: the web UI lost its backend.\nCONFIDENCE: low\nACTION: logs open-webui"
            .into(),
    )]);
    bot.press(ALICE, &webui, "incident investigate 1").await;
    bot.answer_in_thread(&webui, "lost its backend").await;
    assert_eq!(bot.investigated().await, [2, 1]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_caps_automatic_investigations_and_says_so_in_the_thread() {
    let bot = Harness::start(Setup {
        auto: true,
        max_concurrent: 1,
        timeout_secs: 3,
        ..Setup::default()
    })
    .await;
    // The first automatic investigation holds the one slot: its model never answers.
    bot.model.script([Scripted::Silence]);
    bot.alert_about("ollama", "OllamaDown", "critical").await;
    let first = bot.root_of(1).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while bot.model.requests().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "#1 never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A second critical incident meanwhile: skipped, and its thread says so.
    bot.alert_about("ollama", "OllamaSlow", "critical").await;
    let second = bot.root_of(2).await;
    let note = bot
        .wait_for("saying #2 was not investigated automatically", |m| {
            m.thread_ts.as_deref() == Some(second.ts.as_str())
                && m.content().contains("Not investigated automatically")
        })
        .await;
    assert!(
        note.content().contains("max_concurrent"),
        "{}",
        note.content()
    );
    assert_eq!(note.button_values(), ["incident investigate 2"]);
    assert_eq!(bot.investigated().await, [1], "one automatic investigation");
    // A person's investigation is never capped: the note's button starts one at once.
    bot.model.script([Scripted::Answer(ANSWER.into())]);
    bot.press(ALICE, &note, "incident investigate 2").await;
    let answer = bot.answer_in_thread(&second, "restart ollama").await;
    assert!(answer.content().contains(ALICE), "{}", answer.content());
    // #1 times out; its slot is free again, and the next incident is investigated.
    bot.answer_in_thread(&first, "did not answer within").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while bot
        .audit()
        .await
        .iter()
        .filter(|r| r.5.contains("model llama3.1:8b"))
        .count()
        < 2
    {
        assert!(tokio::time::Instant::now() < deadline, "#1 was not audited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The slot is given back right after the audit record: give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    bot.model.script([Scripted::Answer(ANSWER.into())]);
    bot.alert_about("ollama", "OllamaOutOfMemory", "critical")
        .await;
    let third = bot.root_of(3).await;
    let answer = bot.answer_in_thread(&third, "restart ollama").await;
    assert!(
        answer.content().contains("automation:investigator"),
        "{}",
        answer.content()
    );
    assert_eq!(bot.investigated().await, [1, 2, 3]);
    assert_eq!(
        bot.slack
            .thread(&second.ts)
            .iter()
            .filter(|m| m.content().contains("Not investigated automatically"))
            .count(),
        1,
        "one note"
    );
    bot.stop().await;
}

/// The answer of the Discord test: longer (it streams over many edits), and repeating a
/// secret the way a model might (chat gets it redacted).
const DISCORD_ANSWER: &str = "WHAT IS WRONG: Ollama is down because the GPU ran out of memory while loading \
llama3.1:8b next to another model, so every request fails with a CUDA error.\n\
EVIDENCE:\n\
- CUDA error: out of memory [logs ollama]\n\
- the api check fails with 500 and cuda init failed [health ollama]\n\
- the registry login in the logs used password=hunter2-log-password [logs ollama]\n\
CONFIDENCE: high\n\
ACTION: restart ollama\n\
ACTION: logs ollama\n";

/// Every version of `message`, oldest first.
fn versions(message: &opsbot_fakes::discord::FakeMessage) -> Vec<String> {
    message
        .edits
        .iter()
        .chain(std::iter::once(&message.body))
        .map(Value::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_discord_the_answer_streams_into_one_message_in_the_incidents_thread() {
    let logs = vec![
        "level=ERROR msg=\"CUDA error: out of memory\" model=llama3.1:8b".to_string(),
        format!("connecting to registry with password={LOG_PASSWORD}"),
        format!("GET /api/pull Authorization: Bearer {LOG_BEARER}"),
    ];
    let bot = DiscordBot::start(Duration::from_millis(60), logs, Arc::new(LeakyProber)).await;
    bot.model.script([
        calls(&[("health", json!({"service": "ollama"}))]),
        Scripted::Answer(DISCORD_ANSWER.into()),
    ]);
    bot.alert(&format!("probe used token={ANNOTATION_TOKEN}"))
        .await;
    let root = bot
        .wait_for("with the incident's root", |m| {
            m.channel_id == on_discord::ALERTS && m.content().contains("Incident #1")
        })
        .await;
    let investigate = root
        .custom_ids()
        .into_iter()
        .find(|id| id.ends_with("incident investigate 1"))
        .unwrap_or_else(|| panic!("no Investigate button: {:?}", root.custom_ids()));
    assert_eq!(
        bot.press(&investigate).await,
        json!({"type": 5}),
        "deferred"
    );
    // The investigation's one message, in the thread started from the root (same id),
    // once final: the answer with its footer.
    let answer = bot
        .wait_for("with the final answer in the incident's thread", |m| {
            m.channel_id == root.id && m.content().contains("🤖")
        })
        .await;
    let threads = bot.discord.threads();
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(
        (threads[0].id.as_str(), threads[0].parent_id.as_str()),
        (root.id.as_str(), on_discord::ALERTS)
    );
    let investigation_messages: Vec<_> = bot
        .discord
        .messages_in(&root.id)
        .into_iter()
        .filter(|m| versions(m).iter().any(|v| v.contains("🔎")))
        .collect();
    assert_eq!(
        investigation_messages.len(),
        1,
        "one message, edited: {investigation_messages:#?}"
    );
    // Posted when it started, then edited as the answer grew.
    let all = versions(&answer);
    assert!(
        all[0].contains("Investigating incident #1"),
        "first: {}",
        all[0]
    );
    let growing: Vec<&String> = all[..all.len() - 1]
        .iter()
        .filter(|v| v.contains("WHAT IS WRONG") && !v.contains("🤖"))
        .collect();
    assert!(
        !growing.is_empty(),
        "an edit showed part of the answer before it was final: {all:#?}"
    );
    assert!(
        growing.iter().any(|v| !v.contains("ACTION: logs ollama")),
        "and that part was not yet all of it: {growing:#?}"
    );
    // Final: the answer, its confidence, the proposed actions as buttons (a press runs
    // the command as the presser: `restart` then asks them to confirm, as typed).
    let content = answer.content();
    assert!(content.contains("GPU ran out of memory"), "{content}");
    assert!(content.contains("high"), "{content}");
    assert_eq!(
        answer.custom_ids(),
        ["run:restart ollama", "run:logs ollama"],
        "{content}"
    );
    // The press was answered in the interaction: where the answer goes.
    let said = bot
        .discord
        .messages()
        .into_iter()
        .find(|m| {
            matches!(m.origin, opsbot_fakes::discord::Origin::Original(_))
                && m.content().contains("investigation 1")
        })
        .expect("the press was answered");
    assert!(said.content().contains("thread"), "{}", said.content());
    // Nothing secret anywhere in Discord, in any version of any message: not the planted
    // secrets (nor the one the model repeated), the model's key or the bot's token.
    assert!(content.contains("[redacted]"), "{content}");
    for message in bot.discord.messages() {
        for version in versions(&message) {
            for secret in [
                LOG_PASSWORD,
                LOG_BEARER,
                ANNOTATION_TOKEN,
                HEALTH_KEY,
                on_discord::MODEL_KEY,
                on_discord::TOKEN,
            ] {
                assert!(
                    !version.contains(secret),
                    "`{secret}` in Discord: {version}"
                );
            }
        }
    }
    let sent = bot.model.everything_sent();
    for secret in [LOG_PASSWORD, LOG_BEARER, ANNOTATION_TOKEN, HEALTH_KEY] {
        assert!(!sent.contains(secret), "`{secret}` reached the model");
    }
    assert_eq!(
        bot.model.authorizations()[0].as_deref(),
        Some(format!("Bearer {}", on_discord::MODEL_KEY).as_str())
    );
    bot.stop().await;
}

/// The issue's done-when, on the example configuration as shipped (`deploy/examples/
/// opsbot.toml`: `auto = ["critical"]` for Agent-AIOps), with only its model and Slack
/// re-pointed at the fakes: a critical OllamaDown incident gets the model's answer in
/// its thread within seconds of opening, as `automation:investigator`, at the example's
/// one message per second per channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_example_configuration_a_critical_ollama_down_is_answered_within_seconds() {
    let slack = FakeSlack::start(BOT_TOKEN, APP_TOKEN).await;
    let model = FakeOpenAi::start().await;
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml"),
    )
    .unwrap();
    let shipped = "base_url = \"http://localhost:11434/v1\"";
    assert!(example.contains(shipped), "the example's model moved");
    let mut text = example.replacen(shipped, &format!("base_url = \"{}\"", model.base_url()), 1);
    text.push_str(&format!(
        "\n[slack]\nmode = \"http\"\nbot_token = \"${{SLACK_BOT_TOKEN}}\"\n\
         signing_secret = \"${{SLACK_SIGNING_SECRET}}\"\napi_url = \"{}\"\n\
         response_url_prefix = \"{}\"\nrate_control = false\n",
        slack.api_url(),
        slack.response_url_prefix()
    ));
    slack.name_channel("#aiops-alerts", ALERTS);
    for group in ["S0ENGINEERS", "S0AIOPSONCALL"] {
        slack.set_usergroup(group, &[]);
    }
    let env = |name: &str| match name {
        "SLACK_BOT_TOKEN" => Some(BOT_TOKEN.to_string()),
        "SLACK_SIGNING_SECRET" => Some(SIGNING_SECRET.to_string()),
        _ => None,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = config::parse(&text, "opsbot.toml", &env).expect("the example is valid");
    config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
    let catalog = Catalog::new(config.services.clone()).unwrap();
    let runtime = Arc::new(Recorder::default());
    let router = RuntimeRouter::every_kind(runtime);
    let loaded = LoadedConfig {
        config,
        catalog,
        source: "opsbot.toml".into(),
    };
    let app = App::start_with_prober(&loaded, router, Arc::new(LeakyProber))
        .await
        .expect("opsbot starts on the example");
    let http = server::router(app.server_state(&loaded.config));
    model.script([Scripted::Answer(ANSWER.into())]);
    let body = json!({
        "receiver": "opsbot", "status": "firing", "version": "4",
        "groupKey": "{}:{alertname=\"OllamaDown\"}",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "OllamaDown", "job": "ollama", "severity": "critical"},
            "annotations": {"summary": "Ollama is not answering on :11434"},
            "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": "ollama-down"
        }],
        "groupLabels": {"alertname": "OllamaDown"}, "commonLabels": {"job": "ollama"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093"
    });
    let opened = std::time::Instant::now();
    let response = http
        .oneshot(
            Request::post("/alerts/alertmanager")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deadline = tokio::time::Instant::now() + WAIT;
    let (root, answer) = loop {
        let messages = slack.messages();
        let root = messages
            .iter()
            .find(|m| m.channel == ALERTS && m.thread_ts.is_none());
        let answer = root.and_then(|root| {
            messages.iter().find(|m| {
                m.thread_ts.as_deref() == Some(root.ts.as_str())
                    && m.content().contains("GPU ran out of memory")
                    && m.content().contains("🤖")
            })
        });
        if let (Some(root), Some(answer)) = (root, answer) {
            break (root.clone(), answer.clone());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer in the incident's thread: {:#?}",
            messages.iter().map(|m| m.content()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = opened.elapsed();
    eprintln!("alert → the model's answer in the incident's thread: {took:?}");
    assert!(root.content().contains("OllamaDown"), "{}", root.content());
    assert!(
        answer.content().contains("automation:investigator"),
        "{}",
        answer.content()
    );
    assert_eq!(answer.button_values(), ["restart ollama", "logs ollama"]);
    assert!(
        took < Duration::from_secs(10),
        "the answer took {took:?} to reach the thread"
    );
    app.shutdown().await;
    slack.shutdown();
    model.shutdown();
}

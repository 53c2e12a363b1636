//! Discord end to end: interactions signed with a test Ed25519 key the way Discord signs
//! them go into the real router (`/discord/interactions`, `/alerts/alertmanager`),
//! through the engine (RBAC with user ids and guild role ids, confirmation, two-person
//! approval, audit) and the durable outbox, and come out of the real `DiscordSink`
//! (serenity's HTTP layer) into a fake Discord REST API written from Discord's
//! documentation (`opsbot_fakes::discord`). Gateway mode runs serenity's real gateway
//! client against a fake gateway websocket (`opsbot_fakes::discord_gateway`: Hello,
//! Identify, READY, heartbeats, `INTERACTION_CREATE`), whose URL the fake REST API hands
//! out on `GET /gateway`; its answers go out through the REST callback.
//!
//! Runtimes are recorded instead of performed and every health check passes
//! (`opsbot_fakes::RecordingRuntime` and `HealthyProber`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use ed25519_dalek::{Signer as _, SigningKey};
use http_body_util::BodyExt as _;
use opsbot::{
    app::App,
    config::{self, LoadedConfig},
    runtime::RuntimeRouter,
    server,
};
use opsbot_commands::{
    Catalog, Registry,
    registry::{ServiceArg, ValueKind},
};
use opsbot_fakes::{
    discord::{Failure, FakeDiscord, FakeMessage},
    discord_gateway::FakeGateway,
};
use serde_json::{Value, json};
use sqlx::Row as _;
use tower::ServiceExt as _;

use opsbot_fakes::{HealthyProber, RecordingRuntime};

const TOKEN: &str = "MTIwMDAwMDAwMDAwMDAwMDAwMA.test.bot-token";
const APPLICATION: &str = "1200000000000000000";
const GUILD: &str = "1100000000000000000";
const OPS: &str = "1000000000000000001";
const ALERTS: &str = "1000000000000000002";
const ALICE: &str = "80351110224678912";
const BOB: &str = "80351110224678913";
const CAROL: &str = "80351110224678914";
const ROLE_LEAD: &str = "41771983423143936";
const ROLE_ONCALL: &str = "41771983423143937";
/// The seed of the test application's Ed25519 key.
const KEY_SEED: [u8; 32] = [42; 32];
/// How long anything may take to arrive (a bound for a hung test, not a measurement).
const WAIT: Duration = Duration::from_secs(20);

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&KEY_SEED)
}

fn config_text(api_url: &str) -> String {
    config_text_in_mode(api_url, "http")
}

fn config_text_in_mode(api_url: &str, mode: &str) -> String {
    let public_key = hex::encode(signing_key().verifying_key().to_bytes());
    format!(
        r#"
[outbox]
channel_rate = 0
retry_base = "100ms"
poll_interval = "50ms"

[discord]
mode = "{mode}"
application_id = "{APPLICATION}"
token = "${{DISCORD_BOT_TOKEN}}"
public_key = "{public_key}"
api_url = "{api_url}"
guild_id = "{GUILD}"

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[[services]]
name = "wrkhrs-gateway"
aliases = ["gw"]
environment = "prod"
channels = {{ discord = "{ALERTS}" }}
target = {{ kind = "kubernetes", namespace = "wrkhrs", deployment = "gateway" }}
health = [{{ kind = "http", name = "health", url = "http://gateway.invalid/health" }}]

[[services]]
name = "wrkhrs-rag"
environment = "staging"
target = {{ kind = "kubernetes", namespace = "wrkhrs", deployment = "rag" }}

[roles.admin]
allow = [{{ commands = ["*"] }}]

[roles.operator]
allow = [{{ commands = ["help", "whoami", "services", "health", "restart", "incident", "confirm", "cancel"] }}]

[roles.lead]
inherits = ["operator"]
allow = [{{ commands = ["approve", "deny"] }}]

[[bindings]]
role = "admin"
subjects = ["discord:{ALICE}"]

[[bindings]]
role = "operator"
subjects = ["discord-role:{ROLE_ONCALL}"]

[[bindings]]
role = "lead"
subjects = ["discord-role:{ROLE_LEAD}"]

[[approvals]]
name = "prod-restarts"
commands = ["restart"]
environments = ["prod"]
approver_roles = ["lead"]
"#
    )
}

// --- interactions as Discord sends them --------------------------------------------------

/// Who sends an interaction: a guild member with role ids.
#[derive(Clone, Copy)]
struct Member {
    id: &'static str,
    name: &'static str,
    roles: &'static [&'static str],
}

const ALICE_M: Member = Member {
    id: ALICE,
    name: "alice",
    roles: &[],
};
const BOB_M: Member = Member {
    id: BOB,
    name: "bob",
    roles: &[ROLE_LEAD],
};
const CAROL_M: Member = Member {
    id: CAROL,
    name: "carol",
    roles: &[],
};
const DAVE_M: Member = Member {
    id: "80351110224678915",
    name: "dave",
    roles: &[ROLE_ONCALL],
};

/// Where an interaction happens: a text channel, or a thread of one.
#[derive(Clone)]
enum Place {
    Channel(&'static str),
    Thread { id: String, parent: &'static str },
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A fresh interaction id and token.
fn fresh() -> (String, String) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (
        (1_300_000_000_000_000_000u64 + n).to_string(),
        format!("aW50ZXJhY3Rpb24tdG9rZW4-{n}"),
    )
}

/// An interaction object as in Discord's documentation ("Receiving and Responding").
fn interaction(
    kind: u8,
    id: &str,
    token: &str,
    member: Member,
    place: &Place,
    data: Value,
) -> Value {
    let (channel_id, channel_name, thread_id) = match place {
        Place::Channel(id) => (*id, "ops", None),
        Place::Thread { id, parent } => (*parent, "incident", Some(id.as_str())),
    };
    let source = opsbot_fakes::discord_request::InteractionSource {
        application_id: APPLICATION,
        guild_id: GUILD,
        channel_id,
        channel_name,
        user_id: member.id,
        username: member.name,
        roles: member.roles,
        thread_id,
    };
    opsbot_fakes::discord_request::interaction(kind, id, token, &source, data)
}

fn slash_data(name: &str, options: Value) -> Value {
    json!({ "id": "1250000000000000000", "name": name, "type": 1, "options": options })
}

fn button_data(custom_id: &str) -> Value {
    json!({ "custom_id": custom_id, "component_type": 2 })
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A request signed by `key` over `timestamp` + `body`.
fn signed_with(key: &SigningKey, body: &str, timestamp: &str) -> Request<Body> {
    let signature = hex::encode(
        key.sign(&[timestamp.as_bytes(), body.as_bytes()].concat())
            .to_bytes(),
    );
    Request::post("/discord/interactions")
        .header("content-type", "application/json")
        .header("x-signature-ed25519", signature)
        .header("x-signature-timestamp", timestamp)
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn signed(body: &Value) -> Request<Body> {
    signed_with(&signing_key(), &body.to_string(), &now().to_string())
}

// --- harness ----------------------------------------------------------------------------

struct Harness {
    app: App,
    router: Router,
    discord: FakeDiscord,
    runtime: Arc<RecordingRuntime>,
    config: config::Config,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Self::start_in_mode("http", None).await
    }

    /// `mode` is `http` or `gateway`; in gateway mode the fake REST API hands out
    /// `gateway`'s URL.
    async fn start_in_mode(mode: &str, gateway: Option<&FakeGateway>) -> Harness {
        Self::start_with(mode, gateway, |text| text).await
    }

    /// Like [`Harness::start_in_mode`] (HTTP), the configuration text changed by `edit`.
    async fn start_edited(edit: impl Fn(String) -> String) -> Harness {
        Self::start_with("http", None, edit).await
    }

    async fn start_with(
        mode: &str,
        gateway: Option<&FakeGateway>,
        edit: impl Fn(String) -> String,
    ) -> Harness {
        let discord = FakeDiscord::start(TOKEN, APPLICATION).await;
        discord.add_channel(OPS);
        discord.add_channel(ALERTS);
        if let Some(gateway) = gateway {
            discord.set_gateway_url(&gateway.url());
        }
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| (name == "DISCORD_BOT_TOKEN").then(|| TOKEN.to_string());
        let text = edit(config_text_in_mode(&discord.url(), mode));
        let mut config = config::parse(&text, "test.toml", &env).expect("test config is valid");
        config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
        let catalog = Catalog::new(config.services.clone()).unwrap();
        let runtime = Arc::new(RecordingRuntime::default());
        let router = RuntimeRouter {
            kubernetes: Some(runtime.clone()),
            compose: Some(runtime.clone()),
            systemd: Some(runtime.clone()),
        };
        let loaded = LoadedConfig {
            config: config.clone(),
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
            discord,
            runtime,
            config,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        (status, value)
    }

    /// Sends a signed interaction; hands Discord (the fake) the endpoint's answer, as
    /// Discord would receive it. The answer and the interaction's token.
    async fn interact(
        &self,
        kind: u8,
        member: Member,
        place: &Place,
        data: Value,
    ) -> (Value, String) {
        let (id, token) = fresh();
        let body = interaction(kind, &id, &token, member, place, data);
        let (status, answer) = self.send(signed(&body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        self.discord.acknowledge(&id, &token, &answer);
        (answer, token)
    }

    /// `/name options` by `member` in `place`: asserts the deferred answer, waits for
    /// the result.
    async fn slash(
        &self,
        member: Member,
        place: &Place,
        name: &str,
        options: Value,
    ) -> FakeMessage {
        let (answer, token) = self
            .interact(2, member, place, slash_data(name, options))
            .await;
        assert_eq!(answer, json!({"type": 5}), "/{name} is deferred");
        self.result(&token).await
    }

    /// `member` presses the button with `custom_id`: deferred, then the result.
    async fn press(&self, member: Member, place: &Place, custom_id: &str) -> FakeMessage {
        let (answer, token) = self
            .interact(3, member, place, button_data(custom_id))
            .await;
        assert_eq!(
            answer,
            json!({"type": 5}),
            "pressing {custom_id} is deferred"
        );
        self.result(&token).await
    }

    /// The result of the interaction with `token`: its original response once edited
    /// (an embed), or its ephemeral follow-up.
    async fn result(&self, token: &str) -> FakeMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let messages = self.discord.interaction_messages(token);
            if let Some(found) = messages
                .iter()
                .find(|m| !m.deleted && m.body["embeds"].as_array().is_some_and(|e| !e.is_empty()))
            {
                return found.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no result for interaction {token}: {messages:#?}"
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
                "timed out waiting for {what}; messages: {:#?}",
                self.discord.messages()
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

    async fn alert(&self, status: &str) {
        let body = json!({
            "version": "4", "groupKey": "{}:{alertname=\"GatewayDown\"}", "status": status,
            "receiver": "opsbot", "groupLabels": {"alertname": "GatewayDown"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
            "alerts": [{
                "status": status,
                "labels": {"alertname": "GatewayDown", "service": "wrkhrs-gateway", "severity": "critical"},
                "annotations": {"summary": "gateway answers 503"},
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom", "fingerprint": "f00d"
            }]
        });
        let request = Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status_code, answer) = self.send(request).await;
        assert_eq!(status_code, StatusCode::OK, "{answer}");
    }

    async fn stop(self) {
        self.app.shutdown().await;
        self.discord.shutdown();
    }
}

fn ops() -> Place {
    Place::Channel(OPS)
}

/// The title of a result, for messages.
fn title(message: &FakeMessage) -> String {
    message.title().to_string()
}

// --- tests ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_and_every_bad_signature_is_refused_with_401() {
    let h = Harness::start().await;
    let ping = json!({"type": 1, "id": "1300000000000000000", "application_id": APPLICATION,
                      "token": "ping-token", "version": 1});
    let (status, answer) = h.send(signed(&ping)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"type": 1})));

    let body = ping.to_string();
    let ts = now().to_string();
    // Signed by another key.
    let (status, answer) = h
        .send(signed_with(&SigningKey::from_bytes(&[7; 32]), &body, &ts))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    // The body changed after signing.
    let mut request = signed_with(&signing_key(), &body, &ts);
    *request.body_mut() = Body::from(body.replace("ping-token", "other-token"));
    assert_eq!(h.send(request).await.0, StatusCode::UNAUTHORIZED);
    // The timestamp changed after signing.
    let mut request = signed_with(&signing_key(), &body, &ts);
    let later = (now() + 1).to_string();
    request
        .headers_mut()
        .insert("x-signature-timestamp", later.parse().unwrap());
    assert_eq!(h.send(request).await.0, StatusCode::UNAUTHORIZED);
    // A replay: validly signed, but ten minutes old.
    let old = (now() - 600).to_string();
    let (status, answer) = h.send(signed_with(&signing_key(), &body, &old)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        answer["error"].as_str().unwrap().contains("away from now"),
        "{answer}"
    );
    // No signature at all.
    let request = Request::post("/discord/interactions")
        .header("content-type", "application/json")
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, answer) = h.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("X-Signature-Ed25519"),
        "{answer}"
    );
    // Signed garbage is a 400 with the reason.
    let (status, answer) = h
        .send(signed_with(
            &signing_key(),
            "{\"no\":1}",
            &now().to_string(),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("type"),
        "{answer}"
    );

    let metrics = h.app.metrics.encode();
    assert!(
        metrics.contains(r#"opsbot_discord_interactions_total{kind="unverified"} 5"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"opsbot_discord_interactions_total{kind="ping"} 1"#),
        "{metrics}"
    );
    // Nothing was posted, nothing ran.
    assert!(h.discord.messages().is_empty());
    assert!(h.audit().await.is_empty());
    h.stop().await;
}

/// Options filling every required option of `spec` with a value of its type.
fn required_options(spec: &opsbot_commands::Command) -> Value {
    let mut options = Vec::new();
    if spec.service == ServiceArg::Required {
        options.push(json!({"name": "service", "type": 3, "value": "wrkhrs-gateway"}));
    }
    for arg in spec.args.iter().filter(|a| a.required) {
        let option = match arg.kind {
            ValueKind::Integer { min, max } => {
                json!({"name": arg.name, "type": 4, "value": (min + 2).min(max)})
            }
            ValueKind::Choice(choices) => json!({"name": arg.name, "type": 3, "value": choices[0]}),
            ValueKind::Duration => json!({"name": arg.name, "type": 3, "value": "1h"}),
            ValueKind::Switch => json!({"name": arg.name, "type": 5, "value": true}),
            ValueKind::Word | ValueKind::Rest | ValueKind::IntegerOr { .. } => {
                json!({"name": arg.name, "type": 3, "value": "1"})
            }
        };
        options.push(option);
    }
    Value::Array(options)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_is_deferred_then_answered_by_editing_the_original() {
    let h = Arc::new(Harness::start().await);
    let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
    let mut runs = Vec::new();
    for spec in registry.commands() {
        let h = h.clone();
        let options = required_options(spec);
        let name = spec.name;
        runs.push(tokio::spawn(async move {
            (name, h.slash(ALICE_M, &ops(), name, options).await)
        }));
    }
    for run in runs {
        let (name, result) = run.await.unwrap();
        assert!(!result.title().is_empty(), "/{name}: {result:#?}");
        assert!(
            !result.title().contains("did not understand"),
            "/{name} was not understood: {}",
            result.content()
        );
    }
    // Every command left its audit entry, as Alice (by her Discord user id).
    let audit = h.audit().await;
    for spec in registry.commands() {
        assert!(
            audit
                .iter()
                .any(|(actor, command, ..)| actor == ALICE && command == spec.name),
            "no audit entry of /{}: {audit:#?}",
            spec.name
        );
    }
    // Specific answers: whoami names the admin role; restart asks for confirmation.
    let whoami = h.slash(ALICE_M, &ops(), "whoami", json!([])).await;
    assert!(whoami.content().contains("admin"), "{}", whoami.content());
    let restart = h
        .slash(
            ALICE_M,
            &ops(),
            "restart",
            json!([{"name": "service", "type": 3, "value": "gw"}]),
        )
        .await;
    assert!(
        title(&restart).contains("Confirm `restart"),
        "{}",
        restart.content()
    );
    assert!(!restart.ephemeral());
    let h = Arc::into_inner(h).unwrap();
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_are_shown_only_to_the_requester() {
    let h = Harness::start().await;
    let (answer, token) = h
        .interact(
            2,
            CAROL_M,
            &ops(),
            slash_data(
                "restart",
                json!([{"name": "service", "type": 3, "value": "wrkhrs-gateway"}]),
            ),
        )
        .await;
    assert_eq!(answer["type"], 5);
    let result = h.result(&token).await;
    assert_eq!(title(&result), "❌ Not allowed", "{}", result.content());
    assert!(result.ephemeral(), "a denial is ephemeral: {:#?}", result);
    // The public "thinking…" original was removed.
    h.wait_until("the deferred original to be deleted", || {
        h.discord
            .interaction_messages(&token)
            .iter()
            .any(|m| m.deleted)
    })
    .await;
    let audit = h.audit().await;
    assert_eq!(audit.last().unwrap().2, "denied");
    assert!(h.runtime.actions().is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_is_confirmed_by_button_and_approved_by_a_guild_role_holder() {
    let h = Harness::start().await;
    // Dave holds `operator` through the on-call guild role.
    let asked = h
        .slash(
            DAVE_M,
            &ops(),
            "restart",
            json!([{"name": "service", "type": 3, "value": "wrkhrs-gateway"}]),
        )
        .await;
    let confirm_id = asked
        .custom_ids()
        .into_iter()
        .find(|id| id.starts_with("ask:confirm "))
        .unwrap_or_else(|| panic!("no confirm button: {}", asked.content()));
    assert!(
        asked
            .custom_ids()
            .iter()
            .any(|id| id.starts_with("run:cancel "))
    );
    // The destructive button asks first (ephemeral Yes / Cancel), running nothing.
    let (prompt, _) = h
        .interact(3, DAVE_M, &ops(), button_data(&confirm_id))
        .await;
    assert_eq!(prompt["type"], 4);
    assert_eq!(prompt["data"]["flags"], 64);
    let yes = prompt["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancel = prompt["data"]["components"][0]["components"][1]["custom_id"]
        .as_str()
        .unwrap();
    assert_eq!(yes, confirm_id.replacen("ask:", "run:", 1));
    let (dismissed, _) = h.interact(3, DAVE_M, &ops(), button_data(cancel)).await;
    assert_eq!(dismissed["type"], 7);
    // Yes: confirmed, and now it waits for someone with the lead role.
    let confirmed = h.press(DAVE_M, &ops(), &yes).await;
    assert!(
        title(&confirmed).contains("Approval needed"),
        "{}",
        confirmed.content()
    );
    let approve = confirmed
        .custom_ids()
        .into_iter()
        .find(|id| id.starts_with("run:approve "))
        .unwrap();
    // Dave may not approve his own request; Bob (lead by guild role) may.
    let own = h.press(DAVE_M, &ops(), &approve).await;
    assert!(own.ephemeral(), "{}", own.content());
    assert!(h.runtime.actions().is_empty());
    let approved = h.press(BOB_M, &ops(), &approve).await;
    assert_eq!(
        h.runtime.actions(),
        vec!["restart wrkhrs-gateway".to_string()]
    );
    assert!(!approved.ephemeral(), "{}", approved.content());
    let audit = h.audit().await;
    let executed = audit
        .iter()
        .find(|(_, command, _, outcome, _)| command == "restart" && outcome == "ok")
        .unwrap_or_else(|| panic!("{audit:#?}"));
    assert_eq!(
        executed.4.as_deref(),
        Some(format!("discord:{BOB}").as_str()),
        "{audit:#?}"
    );
    let metrics = h.app.metrics.encode();
    assert!(
        metrics.contains(r#"opsbot_discord_interactions_total{kind="button"}"#),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_opens_a_thread_that_follows_the_incident_until_resolved() {
    let h = Harness::start().await;
    h.alert("firing").await;
    h.wait_until("the incident root", || {
        !h.discord.messages_in(ALERTS).is_empty()
    })
    .await;
    let root = h.discord.messages_in(ALERTS)[0].clone();
    assert!(
        root.title().contains("wrkhrs-gateway") || root.content().contains("wrkhrs-gateway"),
        "{}",
        root.content()
    );
    let ack = root
        .custom_ids()
        .into_iter()
        .find(|id| id.starts_with("run:incident ack "))
        .unwrap_or_else(|| panic!("no Acknowledge button: {}", root.content()));
    assert!(
        root.custom_ids()
            .contains(&"ask:restart wrkhrs-gateway".to_string()),
        "{:?}",
        root.custom_ids()
    );

    // Acknowledged from the root's button: a thread is started from the root (same id)
    // and the change is posted there; the root is edited.
    let acked = h.press(BOB_M, &Place::Channel(ALERTS), &ack).await;
    assert!(!acked.title().is_empty());
    h.wait_until("a thread reply", || {
        !h.discord.messages_in(&root.id).is_empty()
    })
    .await;
    let threads = h.discord.threads();
    assert_eq!(threads.len(), 1);
    assert_eq!(
        (threads[0].id.as_str(), threads[0].parent_id.as_str()),
        (root.id.as_str(), ALERTS)
    );
    h.wait_until("the root edited", || {
        h.discord.messages_in(ALERTS)[0]
            .content()
            .contains("acknowledged")
    })
    .await;

    // Typed in the thread, /health needs no service: the thread's incident names it.
    let thread = Place::Thread {
        id: root.id.clone(),
        parent: ALERTS,
    };
    let health = h.slash(DAVE_M, &thread, "health", json!([])).await;
    assert!(
        health.content().contains("wrkhrs-gateway"),
        "{}",
        health.content()
    );

    // Resolution: the root is edited once more and the thread says so.
    h.alert("resolved").await;
    h.wait_until("the root edited to resolved", || {
        let root = &h.discord.messages_in(ALERTS)[0];
        root.content().to_lowercase().contains("resolved")
    })
    .await;
    h.wait_until("a resolution in the thread", || {
        h.discord
            .messages_in(&root.id)
            .iter()
            .any(|m| m.content().to_lowercase().contains("resolved"))
    })
    .await;
    let root_now = &h.discord.messages_in(ALERTS)[0];
    assert!(root_now.edits.len() >= 2, "{root_now:#?}");
    assert_eq!(
        h.discord.messages_in(ALERTS).len(),
        1,
        "one root, edited in place"
    );
    assert_eq!(h.discord.threads().len(), 1, "one thread");
    h.stop().await;
}

/// A storm on Discord: with the alerts channel behind (calls held back, due in an hour),
/// a new incident is folded into a storm board whose buttons work on Discord too: "Ack
/// all" acknowledges the service's incidents (the board says so), "#N thread" gives the
/// incident its own root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_board_is_posted_and_its_buttons_work_on_discord() {
    // Paced at ten calls a second (unpaced channels never storm), a one-second horizon.
    let h = Harness::start_edited(|text| {
        text.replace("channel_rate = 0", "channel_rate = 10")
            + "\n[outbox.storm]\nhorizon = \"1s\"\nboard_interval = \"1s\"\n"
    })
    .await;
    for k in 0..12 {
        let message = opsbot::outbox::OutboxMessage {
            platform: opsbot_commands::Platform::Discord,
            channel: ALERTS.to_string(),
            thread_key: Some(format!("held:{k}")),
            operation: opsbot::outbox::Operation::Reply,
            lane: opsbot::outbox::Lane::Alerts,
            reply: opsbot_commands::Reply::info("held back"),
            dedupe_key: format!("held:{k}"),
        };
        let mut conn = h.app.store.pool().acquire().await.unwrap();
        opsbot::outbox::Outbox::enqueue(&mut conn, &message)
            .await
            .unwrap();
    }
    let later = jiff::Timestamp::now().as_microsecond() + 3_600_000_000;
    sqlx::query("UPDATE outbox SET next_attempt_at_us = $1 WHERE dedupe_key LIKE 'held:%'")
        .bind(later)
        .execute(h.app.store.pool())
        .await
        .unwrap();
    h.alert("firing").await;
    h.wait_until("a storm board listing the incident", || {
        h.discord
            .messages_in(ALERTS)
            .iter()
            .any(|m| m.title().contains("Storm board") && m.content().contains("1 incident folded"))
    })
    .await;
    let board = h
        .discord
        .messages_in(ALERTS)
        .into_iter()
        .find(|m| m.title().contains("Storm board"))
        .unwrap();
    assert!(
        !h.discord
            .messages_in(ALERTS)
            .iter()
            .any(|m| m.title().contains("Incident #")),
        "folded: no root of its own"
    );
    let ids = board.custom_ids();
    assert!(
        ids.contains(&"run:incident ack --service wrkhrs-gateway".to_string()),
        "{ids:?}"
    );
    let show = ids
        .iter()
        .find(|id| id.starts_with("run:incident show "))
        .unwrap_or_else(|| panic!("no thread button: {ids:?}"))
        .clone();
    let acked = h
        .press(
            BOB_M,
            &Place::Channel(ALERTS),
            "run:incident ack --service wrkhrs-gateway",
        )
        .await;
    assert!(
        acked.title().contains("Acknowledged 1 incident"),
        "{}",
        title(&acked)
    );
    h.wait_until("the board to say acknowledged", || {
        h.discord
            .messages_in(ALERTS)
            .iter()
            .any(|m| m.id == board.id && m.content().contains("· acknowledged"))
    })
    .await;
    let shown = h.press(BOB_M, &Place::Channel(ALERTS), &show).await;
    assert!(shown.title().contains("Incident #"), "{}", title(&shown));
    h.wait_until("the incident's own root", || {
        h.discord
            .messages_in(ALERTS)
            .iter()
            .any(|m| m.title().contains("Incident #"))
    })
    .await;
    h.stop().await;
}

/// One action, one answer: acknowledged by a press inside the incident's thread, the
/// press's own answer says so there, and no `Incident #N is acknowledged` update is
/// posted in the thread besides it (the root is still edited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_in_an_incident_thread_is_answered_once() {
    let h = Harness::start().await;
    h.alert("firing").await;
    h.wait_until("the incident root", || {
        !h.discord.messages_in(ALERTS).is_empty()
    })
    .await;
    let root = h.discord.messages_in(ALERTS)[0].clone();
    let ack = root
        .custom_ids()
        .into_iter()
        .find(|id| id.starts_with("run:incident ack "))
        .unwrap_or_else(|| panic!("no Acknowledge button: {}", root.content()));
    let thread = Place::Thread {
        id: root.id.clone(),
        parent: ALERTS,
    };
    let acked = h.press(BOB_M, &thread, &ack).await;
    assert!(
        acked.content().to_lowercase().contains("acknowledged"),
        "{}",
        acked.content()
    );
    h.wait_until("the root edited", || {
        h.discord.messages_in(ALERTS)[0]
            .content()
            .contains("acknowledged")
    })
    .await;
    // A thread's messages are delivered in order: once the resolution is in the thread,
    // an update enqueued with the acknowledgement would be there too.
    h.alert("resolved").await;
    h.wait_until("a resolution in the thread", || {
        h.discord
            .messages_in(&root.id)
            .iter()
            .any(|m| m.content().to_lowercase().contains("resolved"))
    })
    .await;
    let updates: Vec<_> = h
        .discord
        .messages_in(&root.id)
        .into_iter()
        .filter(|m| m.content().to_lowercase().contains("acknowledged"))
        .collect();
    assert!(updates.is_empty(), "{updates:#?}");
    h.stop().await;
}

/// A press on a button opsbot does not know (another app's component, or a message from
/// an older opsbot), shaped as Discord documents a MESSAGE_COMPONENT interaction
/// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-message-component-data-structure):
/// answered at once, like any interaction, with an ephemeral "no longer valid" — never a
/// 400, which Discord shows as "This interaction failed" — and audited as unparsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_on_an_unknown_button_is_answered_and_audited_as_unparsed() {
    let h = Harness::start().await;
    for custom_id in ["click_one", "confirm:7f3a9c"] {
        let (answer, _) = h.interact(3, ALICE_M, &ops(), button_data(custom_id)).await;
        assert_eq!(
            answer,
            opsbot_discord::response::ephemeral_text(opsbot::discord::NO_LONGER_VALID),
            "{custom_id}"
        );
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let audit = h.audit().await;
        let unparsed = audit
            .iter()
            .filter(|(actor, _, decision, outcome, _)| {
                actor == ALICE && decision == "unparsed" && outcome == "not_run"
            })
            .count();
        if unparsed == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not audited as unparsed: {audit:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_and_delivered_exactly_once() {
    let h = Harness::start().await;
    h.discord.fail_next(&[
        Failure::RateLimited { retry_after: 0.3 },
        Failure::ServerError,
    ]);
    h.alert("firing").await;
    h.wait_until("the incident root", || {
        !h.discord.messages_in(ALERTS).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.discord.messages_in(ALERTS).len(),
        1,
        "posted exactly once"
    );
    let posts = h
        .discord
        .calls()
        .iter()
        .filter(|c| *c == "POST messages")
        .count();
    assert_eq!(
        posts,
        3,
        "429, 500, then delivered: {:?}",
        h.discord.calls()
    );
    // An interaction's answer survives a 429 too.
    h.discord
        .fail_next(&[Failure::RateLimited { retry_after: 0.2 }]);
    let whoami = h.slash(ALICE_M, &ops(), "whoami", json!([])).await;
    assert!(whoami.content().contains("admin"));
    let metrics = h.app.metrics.encode();
    assert!(
        metrics.contains(r#"opsbot_outbox_retried_total"#),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_option_autocompletes_from_the_catalog() {
    let h = Harness::start().await;
    let data = json!({ "id": "1250000000000000000", "name": "restart", "type": 1,
        "options": [{"name": "service", "type": 3, "value": "wrk", "focused": true}] });
    let (answer, _) = h.interact(4, DAVE_M, &ops(), data).await;
    assert_eq!(answer["type"], 8);
    let values: Vec<&str> = answer["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec!["wrkhrs-gateway", "wrkhrs-rag"]);
    let data = json!({ "id": "1", "name": "restart", "type": 1,
        "options": [{"name": "service", "type": 3, "value": "g", "focused": true}] });
    let (answer, _) = h.interact(4, DAVE_M, &ops(), data).await;
    assert_eq!(
        answer["data"]["choices"][0],
        json!({"name": "gw → wrkhrs-gateway (prod)", "value": "gw"})
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_commands_overwrites_the_guild_commands_with_the_registry() {
    let h = Harness::start().await;
    let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
    let discord = h.config.discord.as_ref().unwrap();
    let count = opsbot::discord::register_commands(discord, &registry)
        .await
        .unwrap();
    assert_eq!(count, registry.commands().len());
    let registrations = h.discord.registrations();
    assert_eq!(registrations.len(), 1);
    let (guild, commands) = &registrations[0];
    assert_eq!(guild.as_deref(), Some(GUILD));
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for spec in registry.commands() {
        assert!(names.contains(&spec.name), "{names:?}");
    }
    // A wrong token is refused, and said so.
    let mut wrong = discord.clone();
    wrong.token = config::Secret::new("wrong", config::SecretSource::Env("X".into()));
    let error = opsbot::discord::register_commands(&wrong, &registry)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    assert!(!error.to_string().contains("wrong"), "{error}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_interactions_go_through_the_same_handler_and_answer_by_callback() {
    let h = Harness::start().await;
    let discord = h.app.discord.as_ref().unwrap();
    let (id, token) = fresh();
    // What serenity's gateway client hands to `interaction_create`.
    let body = interaction(
        2,
        &id,
        &token,
        DAVE_M,
        &ops(),
        slash_data("whoami", json!([])),
    );
    let event: serenity::all::Interaction =
        serde_json::from_value(body).expect("a gateway interaction");
    opsbot::discord::gateway::answer(
        &discord.responder(),
        discord.rest(),
        &opsbot::discord::DiscordMetrics::default(),
        &event,
    )
    .await
    .unwrap();
    assert_eq!(
        h.discord.answer(&token),
        Some(json!({"type": 5})),
        "answered through the callback"
    );
    assert!(h.discord.calls().contains(&"POST callback".to_string()));
    let result = h.result(&token).await;
    assert!(
        result.content().contains("operator"),
        "{}",
        result.content()
    );
    // A button press over the gateway.
    let (id, token) = fresh();
    let body = interaction(
        3,
        &id,
        &token,
        DAVE_M,
        &ops(),
        json!({"custom_id": "run:services", "component_type": 2}),
    );
    let mut body = body;
    body["message"] = json!({"id": "1400000000000000099", "channel_id": OPS, "content": "", "author": {"id": APPLICATION, "username": "opsbot", "discriminator": "0"},
        "timestamp": "2026-11-21T10:00:00.000000+00:00", "edited_timestamp": null, "tts": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0});
    let event: serenity::all::Interaction =
        serde_json::from_value(body).expect("a gateway component interaction");
    opsbot::discord::gateway::answer(
        &discord.responder(),
        discord.rest(),
        &opsbot::discord::DiscordMetrics::default(),
        &event,
    )
    .await
    .unwrap();
    let result = h.result(&token).await;
    assert!(
        result.content().contains("wrkhrs-gateway"),
        "{}",
        result.content()
    );
    let audit = h.audit().await;
    assert!(
        audit
            .iter()
            .any(|(actor, command, ..)| actor == DAVE_M.id && command == "services"),
        "{audit:#?}"
    );
    h.stop().await;
}

/// Waits until the fake gateway's stats satisfy `condition`.
async fn gateway_reaches(
    gateway: &FakeGateway,
    what: &str,
    condition: impl Fn(&opsbot_fakes::discord_gateway::GatewayStats) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stats = gateway.stats();
        if condition(&stats) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the gateway: {what}; {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_over_the_real_gateway_is_answered_through_rest_and_audited() {
    // Heartbeats every 2 s, so some are exchanged while the test runs (each must be
    // acknowledged before the next is due, or serenity reconnects).
    let gateway = FakeGateway::start_with_heartbeat(TOKEN, APPLICATION, 2000).await;
    let h = Harness::start_in_mode("gateway", Some(&gateway)).await;
    assert!(
        h.app.discord.as_ref().unwrap().http_state().is_none(),
        "no interactions endpoint in gateway mode"
    );
    // serenity asked the REST API for the URL, connected, identified, got READY.
    gateway_reaches(&gateway, "an identified connection", |s| s.live == 1).await;
    assert!(h.discord.calls().contains(&"GET gateway".to_string()));

    // A slash command arrives as an INTERACTION_CREATE dispatch.
    let (id, token) = fresh();
    let body = interaction(
        2,
        &id,
        &token,
        DAVE_M,
        &ops(),
        slash_data("whoami", json!([])),
    );
    assert_eq!(gateway.interaction_create(body), 1, "one connection got it");
    let result = h.result(&token).await;
    assert_eq!(
        h.discord.answer(&token),
        Some(json!({"type": 5})),
        "deferred through the callback"
    );
    assert!(
        result.content().contains("operator"),
        "{}",
        result.content()
    );

    // Refused by RBAC: carol holds no role; only she sees the denial.
    let (id, token) = fresh();
    let restart = slash_data(
        "restart",
        json!([{"name": "service", "type": 3, "value": "wrkhrs-gateway"}]),
    );
    assert_eq!(
        gateway.interaction_create(interaction(2, &id, &token, CAROL_M, &ops(), restart)),
        1
    );
    let denied = h.result(&token).await;
    assert!(denied.ephemeral(), "{denied:?}");
    assert!(h.runtime.actions().is_empty(), "nothing ran");

    // An interaction serenity's model cannot read (it requires `attachment_size_limit`)
    // is still answered, from its JSON.
    let (id, token) = fresh();
    let mut body = interaction(
        2,
        &id,
        &token,
        DAVE_M,
        &ops(),
        slash_data("help", json!([])),
    );
    body.as_object_mut()
        .unwrap()
        .remove("attachment_size_limit");
    assert!(serde_json::from_value::<serenity::all::Interaction>(body.clone()).is_err());
    assert_eq!(gateway.interaction_create(body), 1);
    let help = h.result(&token).await;
    assert_eq!(h.discord.answer(&token), Some(json!({"type": 5})));
    assert!(help.content().contains("restart"), "{}", help.content());

    let audit = h.audit().await;
    assert!(
        audit
            .iter()
            .any(|(actor, command, decision, ..)| actor == DAVE_M.id
                && command == "whoami"
                && decision == "allowed"),
        "{audit:#?}"
    );
    assert!(
        audit
            .iter()
            .any(|(actor, command, decision, ..)| actor == CAROL_M.id
                && command == "restart"
                && decision == "denied"),
        "{audit:#?}"
    );
    // Heartbeats were acknowledged: still the first session, never re-identified.
    gateway_reaches(&gateway, "two heartbeats", |s| s.heartbeats >= 2).await;
    let stats = gateway.stats();
    assert_eq!((stats.identified, stats.live), (1, 1), "{stats:?}");
    assert!(stats.refused.is_empty(), "{stats:?}");

    // Shutting down closes the connection (and releases the role).
    h.stop().await;
    gateway_reaches(&gateway, "the connection closed", |s| s.live == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_classifies_discord_answers_for_the_outbox() {
    use opsbot::outbox::{ChatSink as _, DeliveryError, MessageRef};
    use opsbot_commands::{Reply, reply::Attachment};

    let h = Harness::start().await;
    let discord = h.app.discord.as_ref().unwrap();
    let sink = opsbot::discord::DiscordSink::new(discord.rest().clone());
    // An unknown channel is permanent (parked), a channel name is not an id.
    let unknown = sink
        .post("1999999999999999999", None, &Reply::info("x"))
        .await;
    assert!(
        matches!(unknown, Err(DeliveryError::Permanent(ref why)) if why.contains("Unknown Channel")),
        "{unknown:?}"
    );
    assert!(matches!(
        sink.post("#ops", None, &Reply::info("x")).await,
        Err(DeliveryError::Permanent(_))
    ));
    // An interaction's answer before Discord has the deferred response: retried soon.
    let early = sink
        .post(
            &opsbot_discord::Target::interaction("not-yet"),
            None,
            &Reply::info("x"),
        )
        .await;
    assert!(
        matches!(
            early,
            Err(DeliveryError::Retry {
                retry_after: Some(_),
                ..
            })
        ),
        "{early:?}"
    );
    // 429: Discord's retry_after is handed to the outbox.
    h.discord
        .fail_next(&[Failure::RateLimited { retry_after: 2.5 }]);
    let limited = sink.post(OPS, None, &Reply::info("x")).await;
    assert_eq!(
        limited,
        Err(DeliveryError::Retry {
            reason: "rate limited by Discord (retry after Some(2.5s))".into(),
            retry_after: Some(Duration::from_millis(2500)),
        })
    );
    // An image goes as an attachment (multipart), referenced by the embed.
    let mut chart = Reply::info("cost");
    chart.attachment = Some(Attachment::png(
        "spend",
        vec![0x89, b'P', b'N', b'G', 1, 2, 3],
    ));
    let posted = sink.post(OPS, None, &chart).await.unwrap();
    let message = h
        .discord
        .messages_in(OPS)
        .into_iter()
        .find(|m| m.id == posted.0)
        .unwrap();
    assert_eq!(message.files, 1);
    assert_eq!(
        message.body["embeds"][0]["image"]["url"],
        "attachment://image.png"
    );
    // Replies to a root start its thread once, then go into it; edits edit.
    let first = sink
        .post(
            OPS,
            Some(&posted),
            &Reply::info("Incident #9 is acknowledged"),
        )
        .await
        .unwrap();
    sink.post(OPS, Some(&posted), &Reply::info("Incident #9 is resolved"))
        .await
        .unwrap();
    assert_eq!(h.discord.threads().len(), 1);
    assert_eq!(h.discord.messages_in(&posted.0).len(), 2);
    let fresh_sink = opsbot::discord::DiscordSink::new(discord.rest().clone());
    fresh_sink
        .post(OPS, Some(&posted), &Reply::info("another replica"))
        .await
        .expect("a thread started by another replica is used as it is");
    assert_eq!(h.discord.messages_in(&posted.0).len(), 3);
    sink.edit(OPS, &posted, &Reply::success("resolved"))
        .await
        .unwrap();
    let root = h
        .discord
        .messages_in(OPS)
        .into_iter()
        .find(|m| m.id == posted.0)
        .unwrap();
    assert_eq!(root.title(), "✅ resolved");
    assert_eq!(root.body["components"], json!([]));
    let _ = MessageRef(first.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsbot_discord_register_commands_registers_from_the_command_line() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opsbot.toml");
    std::fs::write(&path, config_text(&h.discord.url())).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
            .args(["discord", "register-commands", "-c"])
            .arg(&path)
            .env("DISCORD_BOT_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count = Registry::new(opsbot_commands::builtin::COMMANDS)
        .commands()
        .len();
    assert_eq!(
        stdout.trim(),
        format!("registered {count} application commands in guild {GUILD}")
    );
    assert_eq!(h.discord.registrations().len(), 1);
    assert!(!stdout.contains(TOKEN));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_signed_interaction_sent_three_times_runs_once() {
    let bot = Harness::start().await;
    let (id, token) = fresh();
    let body = interaction(
        2,
        &id,
        &token,
        ALICE_M,
        &ops(),
        slash_data("whoami", json!([])),
    )
    .to_string();
    let at = now().to_string();
    for _ in 0..3 {
        let (status, answer) = bot.send(signed_with(&signing_key(), &body, &at)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, json!({"type": 5}));
    }
    bot.discord.acknowledge(&id, &token, &json!({"type": 5}));
    bot.result(&token).await;
    // A last command, answered after the replays were refused.
    bot.slash(ALICE_M, &ops(), "services", json!([])).await;
    let whoami = bot
        .audit()
        .await
        .into_iter()
        .filter(|(_, command, ..)| command == "whoami")
        .count();
    assert_eq!(whoami, 1, "run once");
    // The deferred original edited once, or one follow-up.
    let answers: usize = bot
        .discord
        .interaction_messages(&token)
        .iter()
        .map(|m| match m.origin {
            opsbot_fakes::discord::Origin::Followup(_) => 1,
            _ => m.edits.len(),
        })
        .sum();
    assert_eq!(answers, 1, "answered once");
    assert!(
        bot.app
            .metrics
            .encode()
            .contains(r#"opsbot_discord_interactions_total{kind="replayed"} 2"#)
    );

    // With the store gone, an interaction is refused with 503, never deferred.
    bot.app.store.close().await;
    let (id, token) = fresh();
    let body = interaction(
        2,
        &id,
        &token,
        ALICE_M,
        &ops(),
        slash_data("whoami", json!([])),
    );
    let (status, answer) = bot.send(signed(&body)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    bot.stop().await;
}

/// A runbook name as long as the configuration allows (48 characters).
const LONG_RUNBOOK: &str = "wrkhrs-gateway-full-recovery-with-checks-and-ack";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_runbooks_buttons_fit_discords_custom_id_limit() {
    assert_eq!(
        LONG_RUNBOOK.len(),
        opsbot::config::runbooks::MAX_RUNBOOK_NAME
    );
    let h = Harness::start_edited(|text| {
        text + &format!(
            r#"
[[runbooks]]
name = "{LONG_RUNBOOK}"
services = ["wrkhrs-*"]
params = [{{ name = "service", type = "service" }}]
steps = [
  {{ kind = "manual", instruction = "look at {{service}}" }},
  {{ kind = "notify", message = "{{service}} was looked at" }},
]
"#
        )
    })
    .await;
    // The dry run's "Run it" is a button (not a "type it" line), under 100 characters.
    let dry = h
        .slash(
            ALICE_M,
            &ops(),
            "runbook",
            json!([
                {"name": "action", "type": 3, "value": "run"},
                {"name": "target", "type": 3, "value": LONG_RUNBOOK},
                {"name": "params", "type": 3, "value": "service=wrkhrs-gateway"},
                {"name": "dry-run", "type": 5, "value": true},
            ]),
        )
        .await;
    let run_it = format!("run:runbook run {LONG_RUNBOOK} service=wrkhrs-gateway");
    assert!(
        dry.custom_ids().contains(&run_it),
        "{:?} in {}",
        dry.custom_ids(),
        dry.content()
    );
    assert!(run_it.chars().count() <= 100);
    // Pressed, it asks for confirmation; confirmed, the run waits on its manual step.
    let asked = h.press(ALICE_M, &ops(), &run_it).await;
    let confirm = asked
        .custom_ids()
        .into_iter()
        .find(|id| id.starts_with("ask:confirm "))
        .unwrap_or_else(|| panic!("no confirm button: {}", asked.content()));
    h.press(ALICE_M, &ops(), &confirm.replacen("ask:", "run:", 1))
        .await;
    let (done, skip, abort) = (
        "run:runbook done 1".to_string(),
        "run:runbook skip 1".to_string(),
        "ask:runbook abort 1".to_string(),
    );
    h.wait_until("Done, Skip and Abort on the run's messages", || {
        let ids: Vec<String> = h
            .discord
            .messages()
            .iter()
            .flat_map(|m| m.custom_ids())
            .collect();
        ids.contains(&done) && ids.contains(&skip) && ids.contains(&abort)
    })
    .await;
    assert!(
        h.discord
            .messages()
            .iter()
            .all(|m| !m.content().contains("type `runbook")),
        "no button fell back to a typed line"
    );
    // Done goes on: the run finishes.
    h.press(ALICE_M, &ops(), &done).await;
    h.wait_until("the run to finish", || {
        h.discord
            .messages()
            .iter()
            .any(|m| m.content().contains("finished: all 2 steps done"))
    })
    .await;
    h.stop().await;
}

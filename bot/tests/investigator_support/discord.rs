//! The investigator through Discord: an alert opens an incident whose root is in a
//! Discord channel of the fake Discord REST API (`opsbot_fakes::discord`); a member
//! presses its Investigate button (an interaction signed with a test Ed25519 key, the
//! way Discord signs them); the investigation's message is posted in the thread started
//! from the root and edited there as the model's answer streams in (through
//! [`super::paced::PacedModel`] in front of the fake OpenAI-compatible endpoint).

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
use opsbot_commands::{Catalog, context::LogChunk};
use opsbot_fakes::{
    RecordingRuntime,
    discord::{FakeDiscord, FakeMessage},
    openai::FakeOpenAi,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::paced::PacedModel;

pub const TOKEN: &str = "MTIwMDAwMDAwMDAwMDAwMDAwMA.investigator.bot-token";
pub const APPLICATION: &str = "1200000000000000000";
pub const GUILD: &str = "1100000000000000000";
/// The channel of ollama's incidents.
pub const ALERTS: &str = "1000000000000000002";
pub const ALICE: &str = "80351110224678912";
pub const MODEL_KEY: &str = "ollama-key-d15c0rd";
/// The seed of the test application's Ed25519 key.
const KEY_SEED: [u8; 32] = [17; 32];
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(30);

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&KEY_SEED)
}

fn config_text(api_url: &str, model_url: &str) -> String {
    let public_key = hex::encode(signing_key().verifying_key().to_bytes());
    format!(
        r#"
[outbox]
channel_rate = 0
retry_base = "100ms"
poll_interval = "50ms"

[discord]
mode = "http"
application_id = "{APPLICATION}"
token = "${{DISCORD_BOT_TOKEN}}"
public_key = "{public_key}"
api_url = "{api_url}"
guild_id = "{GUILD}"

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[investigator]
base_url = "{model_url}"
model = "llama3.1:8b"
api_key = "${{OLLAMA_API_KEY}}"
timeout = "20s"
max_rounds = 3
max_tool_calls = 8
edit_interval = "50ms"

[[services]]
name = "ollama"
environment = "prod"
channels = {{ discord = "{ALERTS}" }}
target = {{ kind = "kubernetes", namespace = "aiops", deployment = "ollama" }}
health = [{{ kind = "http", name = "api", url = "http://ollama.invalid:11434/api/version" }}]

[roles.responder]
allow = [{{ commands = ["incident", "health", "logs", "rollback", "cost", "restart", "confirm", "cancel"] }}]

[[bindings]]
role = "responder"
subjects = ["discord:{ALICE}"]
"#
    )
}

pub struct DiscordBot {
    pub app: App,
    router: Router,
    pub discord: FakeDiscord,
    pub model: FakeOpenAi,
    _paced: PacedModel,
    _dir: tempfile::TempDir,
}

impl DiscordBot {
    /// opsbot on Discord; the model streams an event every `pace`; ollama's logs are
    /// `logs`, its health checks answer with `prober`.
    pub async fn start(
        pace: Duration,
        logs: Vec<String>,
        prober: Arc<dyn opsbot_commands::context::Prober>,
    ) -> DiscordBot {
        let discord = FakeDiscord::start(TOKEN, APPLICATION).await;
        discord.add_channel(ALERTS);
        let model = FakeOpenAi::start().await;
        let paced = PacedModel::start(&model.base_url(), pace).await;
        let dir = tempfile::tempdir().unwrap();
        let env = |name: &str| match name {
            "DISCORD_BOT_TOKEN" => Some(TOKEN.to_string()),
            "OLLAMA_API_KEY" => Some(MODEL_KEY.to_string()),
            _ => None,
        };
        let text = config_text(&discord.url(), &paced.base_url());
        let mut config = config::parse(&text, "test.toml", &env).expect("test config is valid");
        config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
        let catalog = Catalog::new(config.services.clone()).unwrap();
        let runtime = Arc::new(RecordingRuntime::default());
        runtime.set_logs(vec![LogChunk {
            source: "ollama-7d9f/ollama".into(),
            lines: logs,
        }]);
        let router = RuntimeRouter::every_kind(runtime);
        let loaded = LoadedConfig {
            config,
            catalog,
            source: "test.toml".into(),
        };
        let app = App::start_with_prober(&loaded, router, prober)
            .await
            .expect("opsbot starts");
        let router = server::router(app.server_state(&loaded.config));
        DiscordBot {
            app,
            router,
            discord,
            model,
            _paced: paced,
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

    /// Alertmanager posts one firing critical OllamaDown alert; `annotation` is its
    /// description.
    pub async fn alert(&self, annotation: &str) {
        let body = json!({
            "version": "4", "groupKey": "{}:{alertname=\"OllamaDown\"}", "status": "firing",
            "receiver": "opsbot", "groupLabels": {"alertname": "OllamaDown"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "truncatedAlerts": 0,
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": "OllamaDown", "service": "ollama", "severity": "critical"},
                "annotations": {"summary": "Ollama is not answering", "description": annotation},
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom", "fingerprint": "0dd0"
            }]
        });
        let request = Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, answer) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    /// Alice presses the button `custom_id` on a message in the alerts channel; the
    /// endpoint's (deferred) answer is handed to the fake as Discord would receive it.
    pub async fn press(&self, custom_id: &str) -> Value {
        let (id, token) = fresh();
        let body = button_interaction(&id, &token, custom_id);
        let (status, answer) = self.send(signed(&body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        self.discord.acknowledge(&id, &token, &answer);
        answer
    }

    /// Waits for a message (in any channel or thread) `found` accepts.
    pub async fn wait_for(&self, what: &str, found: impl Fn(&FakeMessage) -> bool) -> FakeMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(message) = self.discord.messages().into_iter().find(|m| found(m)) {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message {what} arrived; calls: {:#?}; messages: {:#?}",
                self.discord.calls(),
                self.discord.messages()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.app.shutdown().await;
        self.discord.shutdown();
        self.model.shutdown();
    }
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A fresh interaction id and token.
fn fresh() -> (String, String) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (
        (1_310_000_000_000_000_000u64 + n).to_string(),
        format!("aW52ZXN0aWdhdG9yLXRva2Vu-{n}"),
    )
}

/// A button press by Alice in the alerts channel, as in Discord's documentation
/// ("Receiving and Responding").
fn button_interaction(id: &str, token: &str, custom_id: &str) -> Value {
    let source = opsbot_fakes::discord_request::InteractionSource {
        application_id: APPLICATION,
        guild_id: GUILD,
        channel_id: ALERTS,
        channel_name: "aiops-alerts",
        user_id: ALICE,
        username: "alice",
        roles: &[],
        thread_id: None,
    };
    opsbot_fakes::discord_request::interaction(
        3,
        id,
        token,
        &source,
        json!({ "custom_id": custom_id, "component_type": 2 }),
    )
}

/// `body` signed with the test key over now + body, as Discord signs interactions.
fn signed(body: &Value) -> Request<Body> {
    let body = body.to_string();
    let timestamp = jiff::Timestamp::now().as_second().to_string();
    let signature = hex::encode(
        signing_key()
            .sign(&[timestamp.as_bytes(), body.as_bytes()].concat())
            .to_bytes(),
    );
    Request::post("/discord/interactions")
        .header("content-type", "application/json")
        .header("x-signature-ed25519", signature)
        .header("x-signature-timestamp", timestamp)
        .body(Body::from(body))
        .unwrap()
}

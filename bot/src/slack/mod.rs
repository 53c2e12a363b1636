//! Slack wiring: from `[slack]` to the Web API client, the outbox sink, the user-group
//! cache, the responder that runs invocations through the engine, and either the HTTP
//! endpoints (`http` mode) or a Socket Mode connection (`socket` mode). The translation
//! itself (signatures, payloads, Block Kit) lives in the `opsbot-slack` crate.

mod groups;
mod metrics;
mod responder;
mod routes;
mod sink;
mod socket;

use std::sync::Arc;

use opsbot_commands::Registry;
use opsbot_slack::{
    ResponseUrlPolicy, SigningSecret, SlashCommands, WebApi, WebApiSettings, manifest,
};

pub use groups::UserGroups;
pub use metrics::SlackMetrics;
pub use responder::Responder;
pub use routes::{SlackHttpState, routes};
pub use sink::SlackSink;
pub use socket::{SOCKET_MODE_ROLE, SocketMode, SocketSupervisor};

use crate::{
    config::{Config, SlackConfig, SlackMode},
    engine::Engine,
    inbox::Inbox,
    outbox::ChatSink,
    store::Store,
};

/// Why Slack could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up Slack: {0}")]
pub struct SlackSetupError(pub String);

/// A configured Slack: what the outbox, the HTTP server and Socket Mode need.
pub struct Slack {
    api: WebApi,
    responder: Arc<Responder>,
    slash: Arc<SlashCommands>,
    metrics: SlackMetrics,
    mode: SlackMode,
    secret: Option<SigningSecret>,
    app_token: Option<String>,
    socket: Option<SocketSupervisor>,
}

/// The slash commands `slack` registers.
pub fn slash_commands(registry: &Registry, slack: &SlackConfig) -> SlashCommands {
    SlashCommands::new(registry, &slack.umbrella_command, slack.top_level_commands)
}

/// The app manifest for `slack` (`opsbot slack manifest`).
pub fn app_manifest(registry: &Registry, slack: &SlackConfig) -> serde_json::Value {
    let options = manifest::ManifestOptions {
        app_name: slack.app_name.clone(),
        public_url: match slack.mode {
            SlackMode::Http => Some(
                slack
                    .public_url
                    .clone()
                    .unwrap_or_else(|| "https://opsbot.example.com".to_string()),
            ),
            SlackMode::Socket => None,
        },
    };
    manifest::manifest(registry, &slash_commands(registry, slack), &options)
}

impl Slack {
    /// Builds the client and the responder for `slack` (`config` is the whole file, for
    /// the user groups role bindings name); invocations are stored in `inbox` before
    /// they are acknowledged.
    pub fn new(
        slack: &SlackConfig,
        config: &Config,
        engine: Arc<Engine>,
        metrics: SlackMetrics,
        inbox: Inbox,
    ) -> Result<Self, SlackSetupError> {
        let settings = WebApiSettings {
            base_url: slack.api_url.clone(),
            rate_control: slack.rate_control,
        };
        let api = WebApi::new(&settings, slack.bot_token.expose())
            .map_err(|e| SlackSetupError(e.to_string()))?;
        let groups = Arc::new(UserGroups::new(
            api.clone(),
            config,
            slack.usergroup_ttl.as_duration(),
            metrics.clone(),
        ));
        let slash = Arc::new(slash_commands(engine.registry(), slack));
        Ok(Self {
            responder: Arc::new(
                Responder::new(engine, groups, slack.progress_after.as_duration(), inbox)
                    .with_response_urls(
                        ResponseUrlPolicy::new(&slack.response_url_prefix)
                            .map_err(|e| SlackSetupError(format!("response_url_prefix {e}")))?,
                    ),
            ),
            api,
            slash,
            metrics,
            mode: slack.mode,
            secret: slack
                .signing_secret
                .as_ref()
                .map(|s| SigningSecret::new(s.expose().as_bytes())),
            app_token: slack.app_token.as_ref().map(|s| s.expose().to_string()),
            socket: None,
        })
    }

    /// The outbox sink posting to Slack.
    pub fn sink(&self) -> Arc<dyn ChatSink> {
        Arc::new(SlackSink::new(self.api.clone()))
    }

    /// The state of the HTTP endpoints (`http` mode only).
    pub fn http_state(&self) -> Option<SlackHttpState> {
        if self.mode != SlackMode::Http {
            return None;
        }
        Some(SlackHttpState {
            responder: self.responder.clone(),
            secret: self.secret.clone()?,
            slash: self.slash.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// In `socket` mode, starts holding the Socket Mode connection whenever this replica
    /// owns the `slack-socket-mode` role (always, on SQLite); nothing in `http` mode.
    pub async fn start_socket_mode(
        &mut self,
        config: &Config,
        store: &Store,
    ) -> Result<(), SlackSetupError> {
        if self.mode != SlackMode::Socket || self.socket.is_some() {
            return Ok(());
        }
        let app_token = self
            .app_token
            .clone()
            .ok_or_else(|| SlackSetupError("socket mode needs [slack] app_token".into()))?;
        let parts = socket::SocketParts {
            api: self.api.clone(),
            app_token,
            responder: self.responder.clone(),
            slash: self.slash.clone(),
            metrics: self.metrics.clone(),
        };
        self.socket = Some(SocketSupervisor::spawn(config, store, parts).await?);
        Ok(())
    }

    /// Closes the Socket Mode connection.
    pub async fn shutdown(self) {
        if let Some(socket) = self.socket {
            socket.shutdown().await;
        }
    }
}

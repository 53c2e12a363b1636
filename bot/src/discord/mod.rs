//! Discord wiring: from `[discord]` to the REST client, the outbox sink, the
//! [`Responder`] shared by both modes (runs interactions through the engine, as the Slack
//! adapter's and the console's `Responder` do), and either the `/discord/interactions` endpoint
//! (`http` mode) or a gateway connection (`gateway` mode, held by the one replica that
//! owns the `discord-gateway` role: [`GatewaySupervisor`]); plus `opsbot discord
//! register-commands`. The translation itself (signatures, interactions, application
//! commands, embeds) lives in the `opsbot-discord` crate.

mod endpoint;
pub mod gateway;
mod gateway_supervisor;
mod metrics;
mod responder;
mod sink;

use std::sync::Arc;

use opsbot_commands::Registry;
use opsbot_discord::{DiscordRest, Incoming, RequestVerifier, RestConfig};

pub use endpoint::{DiscordHttpState, routes};
pub use gateway_supervisor::{GATEWAY_ROLE, GatewaySupervisor};
pub use metrics::DiscordMetrics;
pub use responder::{Answer, NO_LONGER_VALID, Responder, Work};
pub use sink::DiscordSink;

use crate::{
    config::{Config, DiscordConfig, DiscordMode},
    engine::Engine,
    inbox::Inbox,
    outbox::ChatSink,
    store::Store,
};

/// Why Discord could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up Discord: {0}")]
pub struct DiscordSetupError(pub String);

/// A configured Discord: what the outbox, the HTTP server and the gateway need.
pub struct Discord {
    rest: DiscordRest,
    responder: Arc<Responder>,
    metrics: DiscordMetrics,
    mode: DiscordMode,
    verifier: Option<RequestVerifier>,
    gateway: Option<GatewaySupervisor>,
}

/// The REST client of `[discord]`.
pub fn rest_client(discord: &DiscordConfig) -> Result<DiscordRest, DiscordSetupError> {
    DiscordRest::new(&RestConfig {
        token: discord.token.expose().to_string(),
        application_id: discord.application_id.clone(),
        base_url: discord.api_url.clone(),
        timeout: discord.request_timeout.as_duration(),
    })
    .map_err(|e| DiscordSetupError(e.to_string()))
}

/// Registers the application commands generated from `registry` (in `[discord]
/// guild_id` when set, else globally); the number Discord now has.
pub async fn register_commands(
    discord: &DiscordConfig,
    registry: &Registry,
) -> Result<usize, DiscordSetupError> {
    let rest = rest_client(discord)?;
    let commands = opsbot_discord::application_commands(registry);
    rest.overwrite_commands(discord.guild_id.as_deref(), &commands)
        .await
        .map_err(|e| DiscordSetupError(format!("registering the commands failed: {e}")))
}

/// The metric label of an interaction.
fn kind(incoming: &Incoming) -> &'static str {
    match incoming {
        Incoming::Ping => "ping",
        Incoming::Request(request) if request.pressed => "button",
        Incoming::Request(_) => "command",
        Incoming::Autocomplete(_) => "autocomplete",
        Incoming::Unsupported(_) => "unsupported",
    }
}

impl Discord {
    /// The Discord of `discord`; invocations are stored in `inbox` before they are
    /// acknowledged.
    pub fn new(
        discord: &DiscordConfig,
        engine: Arc<Engine>,
        metrics: DiscordMetrics,
        inbox: Inbox,
    ) -> Result<Self, DiscordSetupError> {
        let verifier = discord
            .public_key
            .as_deref()
            .map(|key| {
                RequestVerifier::from_hex(key)
                    .map(|v| v.with_max_skew(discord.max_clock_skew.as_duration()))
                    .map_err(|e| DiscordSetupError(e.to_string()))
            })
            .transpose()?;
        Ok(Self {
            rest: rest_client(discord)?,
            responder: Arc::new(Responder::new(
                engine,
                inbox,
                // A replay is refused for as long as its signature could pass.
                discord.max_clock_skew.as_duration() + std::time::Duration::from_secs(60),
            )),
            metrics,
            mode: discord.mode,
            verifier,
            gateway: None,
        })
    }

    /// The interaction handling shared by both modes.
    pub fn responder(&self) -> Arc<Responder> {
        self.responder.clone()
    }

    /// The REST client.
    pub fn rest(&self) -> &DiscordRest {
        &self.rest
    }

    /// The outbox sink posting to Discord.
    pub fn sink(&self) -> Arc<dyn ChatSink> {
        Arc::new(DiscordSink::new(self.rest.clone()))
    }

    /// The state of the interactions endpoint (`http` mode only).
    pub fn http_state(&self) -> Option<DiscordHttpState> {
        if self.mode != DiscordMode::Http {
            return None;
        }
        Some(DiscordHttpState {
            verifier: self.verifier.clone()?,
            responder: self.responder.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// In `gateway` mode, starts holding the gateway connection whenever this replica
    /// owns the `discord-gateway` role (always, on SQLite); nothing in `http` mode.
    pub async fn start_gateway(
        &mut self,
        config: &Config,
        store: &Store,
    ) -> Result<(), DiscordSetupError> {
        if self.mode != DiscordMode::Gateway || self.gateway.is_some() {
            return Ok(());
        }
        let parts = gateway_supervisor::GatewayParts {
            responder: self.responder.clone(),
            rest: self.rest.clone(),
            metrics: self.metrics.clone(),
        };
        self.gateway = Some(GatewaySupervisor::spawn(config, store, parts).await?);
        Ok(())
    }

    /// Closes the gateway connection and gives its role up.
    pub async fn shutdown(self) {
        if let Some(gateway) = self.gateway {
            gateway.shutdown().await;
        }
    }
}

//! Gateway mode: serenity's [`serenity::Client`] holds the gateway websocket (no intents: the
//! interactions of an application arrive without any) and hands each
//! `INTERACTION_CREATE` to [`answer`], which serializes serenity's interaction back into
//! Discord's JSON and feeds it to the same parsing and [`Responder`] code as the HTTP
//! endpoint. A command is stored in the command inbox first (an interaction already
//! there is not answered or run again); the immediate answer goes out with the REST
//! callback (`POST /interactions/{id}/{token}/callback`) before the command starts, so
//! its reply never races the answer.
//!
//! serenity turns a dispatch its model cannot read (a field it requires is missing, a
//! type it does not know) into an "unknown event" and calls no handler for it; such an
//! `INTERACTION_CREATE` is answered from its raw JSON instead ([`answer_json`]), which
//! opsbot's own parser reads leniently, so no interaction is silently dropped.
//!
//! The client's REST side (`GET /gateway`, which hands out the websocket URL) uses the
//! same base URL as [`DiscordRest`]. [`super::GatewaySupervisor`] decides when a replica
//! holds the connection.

use std::sync::Arc;

use opsbot_discord::DiscordRest;
use serenity::{
    all::{
        ClientBuilder, Context, Event, EventHandler, GatewayIntents, Interaction, RawEventHandler,
        Ready,
    },
    gateway::ShardManager,
};

use super::{DiscordMetrics, DiscordSetupError, responder::Responder};

/// A running gateway connection.
pub struct Gateway {
    shards: Arc<ShardManager>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connects with the bot token of `rest` and serves interactions until
    /// [`Gateway::shutdown`] (or until the connection fails for good: [`Gateway::ended`]).
    pub async fn start(
        responder: Arc<Responder>,
        rest: DiscordRest,
        metrics: DiscordMetrics,
    ) -> Result<Self, DiscordSetupError> {
        let http = rest.gateway_http();
        let handler = Arc::new(Handler {
            responder,
            rest,
            metrics,
        });
        let mut client = ClientBuilder::new_with_http(http, GatewayIntents::empty())
            .event_handler_arc(handler.clone())
            .raw_event_handler(Unread(handler))
            .await
            .map_err(|e| DiscordSetupError(format!("cannot start the gateway client: {e}")))?;
        let shards = client.shard_manager.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = client.start().await {
                tracing::error!(%error, "the Discord gateway connection ended");
            }
        });
        Ok(Self { shards, task })
    }

    /// Resolves when the client has stopped on its own (serenity reconnects by itself;
    /// it stops when Discord refuses the session for good, e.g. a wrong token).
    pub async fn ended(&mut self) {
        let _ = (&mut self.task).await;
    }

    /// Closes the gateway connection.
    pub async fn shutdown(self) {
        self.shards.shutdown_all().await;
        self.task.abort();
    }
}

struct Handler {
    responder: Arc<Responder>,
    rest: DiscordRest,
    metrics: DiscordMetrics,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "connected to the Discord gateway");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        if let Err(error) = answer(&self.responder, &self.rest, &self.metrics, &interaction).await {
            tracing::warn!(%error, "a Discord gateway interaction went unanswered");
        }
    }
}

/// Hands the `INTERACTION_CREATE` dispatches serenity could not read to [`answer_json`].
struct Unread(Arc<Handler>);

#[serenity::async_trait]
impl RawEventHandler for Unread {
    async fn raw_event(&self, _ctx: Context, event: Event) {
        let Event::Unknown(unknown) = event else {
            return;
        };
        if unknown.kind != "INTERACTION_CREATE" {
            return;
        }
        let handler = &self.0;
        tracing::debug!("serenity could not read an interaction; answering from its JSON");
        if let Err(error) = answer_json(
            &handler.responder,
            &handler.rest,
            &handler.metrics,
            unknown.value,
        )
        .await
        {
            tracing::warn!(%error, "a Discord gateway interaction went unanswered");
        }
    }
}

/// Discord's interaction type of a serenity interaction.
fn interaction_type(interaction: &Interaction) -> u8 {
    match interaction {
        Interaction::Ping(_) => 1,
        Interaction::Command(_) => 2,
        Interaction::Component(_) => 3,
        Interaction::Autocomplete(_) => 4,
        Interaction::Modal(_) => 5,
        _ => 0,
    }
}

/// Why a gateway interaction went unanswered.
#[derive(Debug, thiserror::Error)]
pub enum GatewayAnswerError {
    #[error("the interaction could not be read: {0}")]
    Unreadable(String),
    #[error("answering the interaction failed: {0}")]
    Callback(#[from] opsbot_discord::RestError),
    #[error("the interaction could not be stored, so it was not acknowledged: {0}")]
    Inbox(#[from] crate::inbox::InboxError),
}

/// Answers one gateway interaction through the REST callback, then starts its work.
pub async fn answer(
    responder: &Responder,
    rest: &DiscordRest,
    metrics: &DiscordMetrics,
    interaction: &Interaction,
) -> Result<(), GatewayAnswerError> {
    let mut value = serde_json::to_value(interaction).map_err(|e| {
        metrics.request("malformed");
        GatewayAnswerError::Unreadable(e.to_string())
    })?;
    // serenity keeps the type in the enum variant, not in the serialized object.
    value["type"] = serde_json::json!(interaction_type(interaction));
    answer_json(responder, rest, metrics, value).await
}

/// Answers one gateway interaction given as Discord's interaction object (JSON).
pub async fn answer_json(
    responder: &Responder,
    rest: &DiscordRest,
    metrics: &DiscordMetrics,
    value: serde_json::Value,
) -> Result<(), GatewayAnswerError> {
    let unreadable = |reason: String| {
        metrics.request("malformed");
        GatewayAnswerError::Unreadable(reason)
    };
    let text = |key: &str| match &value[key] {
        serde_json::Value::String(text) => Ok(text.clone()),
        _ => Err(unreadable(format!("the interaction has no `{key}`"))),
    };
    let id = text("id")?;
    let token = text("token")?;
    let registry = responder.engine().registry();
    let incoming = opsbot_discord::interaction::from_value(value, registry)
        .map_err(|e| unreadable(e.to_string()))?;
    metrics.request(super::kind(&incoming));
    let answer = responder.receive(incoming);
    if let Some(work) = &answer.work
        && responder.accept(work).await? == crate::inbox::Accepted::Replay
    {
        // Delivered again (a resumed session): answered and run the first time.
        metrics.request("replayed");
        return Ok(());
    }
    rest.interaction_response(&id, &token, &answer.response)
        .await?;
    if let Some(work) = answer.work {
        tokio::spawn(work.run());
    }
    Ok(())
}

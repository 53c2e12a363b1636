//! Gateway mode: serenity's [`Client`] holds the gateway websocket (no intents: the
//! interactions of an application arrive without any) and hands each
//! `INTERACTION_CREATE` to [`answer`], which serializes serenity's interaction back into
//! Discord's JSON and feeds it to the same parsing and [`Interactions`] code as the HTTP
//! endpoint. The immediate answer goes out with the REST callback
//! (`POST /interactions/{id}/{token}/callback`) before the command starts, so its reply
//! never races the answer.

use std::sync::Arc;

use opsbot_discord::DiscordRest;
use serenity::{
    Client,
    all::{Context, EventHandler, GatewayIntents, Interaction, Ready},
    gateway::ShardManager,
};

use super::{DiscordMetrics, DiscordSetupError, interactions::Interactions};

/// A running gateway connection.
pub struct Gateway {
    shards: Arc<ShardManager>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connects with the bot token and serves interactions until [`Gateway::shutdown`].
    pub async fn start(
        token: &str,
        interactions: Arc<Interactions>,
        rest: DiscordRest,
        metrics: DiscordMetrics,
    ) -> Result<Self, DiscordSetupError> {
        let handler = Handler {
            interactions,
            rest,
            metrics,
        };
        let mut client = Client::builder(token, GatewayIntents::empty())
            .event_handler(handler)
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

    /// Closes the gateway connection.
    pub async fn shutdown(self) {
        self.shards.shutdown_all().await;
        self.task.abort();
    }
}

struct Handler {
    interactions: Arc<Interactions>,
    rest: DiscordRest,
    metrics: DiscordMetrics,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "connected to the Discord gateway");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        if let Err(error) =
            answer(&self.interactions, &self.rest, &self.metrics, &interaction).await
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
}

/// Answers one gateway interaction through the REST callback, then starts its work.
pub async fn answer(
    interactions: &Interactions,
    rest: &DiscordRest,
    metrics: &DiscordMetrics,
    interaction: &Interaction,
) -> Result<(), GatewayAnswerError> {
    let id = interaction.id().to_string();
    let token = interaction.token().to_string();
    let registry = interactions.engine().registry();
    let incoming = serde_json::to_value(interaction)
        .map_err(|e| e.to_string())
        .and_then(|mut value| {
            // serenity keeps the type in the enum variant, not in the serialized object.
            value["type"] = serde_json::json!(interaction_type(interaction));
            opsbot_discord::interaction::from_value(value, registry).map_err(|e| e.to_string())
        })
        .map_err(|reason| {
            metrics.request("malformed");
            GatewayAnswerError::Unreadable(reason)
        })?;
    metrics.request(super::kind(&incoming));
    let answer = interactions.receive(incoming);
    rest.interaction_response(&id, &token, &answer.response)
        .await?;
    if let Some(work) = answer.work {
        tokio::spawn(work.run());
    }
    Ok(())
}

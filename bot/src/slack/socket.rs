//! Socket Mode: instead of Slack calling opsbot's public endpoints, opsbot opens
//! websockets to Slack (`apps.connections.open` with the app-level token, through
//! slack-morphism's Socket Mode listener, which also reconnects and acknowledges
//! envelopes). Slash commands, button presses and `@opsbot` mentions arrive as envelopes
//! and go to the same [`Responder`] as the HTTP endpoints; a slash command's
//! acknowledgement carries the same ephemeral "⏳ …" answer. As there, an envelope is
//! stored in the command inbox before its callback returns (and so before
//! slack-morphism acknowledges it); a redelivered envelope the inbox holds already is
//! not run again, and one that cannot be stored fails its callback instead of being
//! acknowledged as accepted.
//!
//! Envelopes need no signature: the websocket itself was opened with the app token.
//!
//! With several replicas only one holds the websockets (Slack hands each envelope to one
//! connection, and every replica would answer): [`SocketSupervisor`] runs Socket Mode
//! while this process owns the `slack-socket-mode` role of [`crate::leadership`], and
//! stops it when the role is lost. A failed `apps.connections.open` is retried.

use std::{sync::Arc, time::Duration};

use opsbot_slack::{
    Event, SlashCommands, WebApi,
    client::Connector,
    inbound::{self},
};
use slack_morphism::prelude::{
    SlackApiToken, SlackApiTokenValue, SlackClient, SlackClientEventsListenerEnvironment,
    SlackClientEventsUserState, SlackClientSocketModeConfig, SlackClientSocketModeListener,
    SlackCommandEvent, SlackCommandEventResponse, SlackInteractionEvent, SlackMessageContent,
    SlackMessageResponseType, SlackPushEvent, SlackPushEventCallback,
    SlackSocketModeListenerCallbacks,
};

use tokio::{sync::watch, task::JoinHandle};

use super::{SlackMetrics, SlackSetupError, responder::Responder};
use crate::inbox::Accepted;
use crate::{config::Config, leadership::Leadership, store::Store};

/// The leadership role of the replica holding the Socket Mode connection.
pub const SOCKET_MODE_ROLE: &str = "slack-socket-mode";
/// How long to wait before opening the connection again after a failure.
const RETRY: Duration = Duration::from_secs(5);

/// What opening a Socket Mode connection needs.
#[derive(Clone)]
pub(crate) struct SocketParts {
    pub api: WebApi,
    pub app_token: String,
    pub responder: Arc<Responder>,
    pub slash: Arc<SlashCommands>,
    pub metrics: SlackMetrics,
}

/// Runs Socket Mode while this replica owns [`SOCKET_MODE_ROLE`].
pub struct SocketSupervisor {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SocketSupervisor {
    pub(crate) async fn spawn(
        config: &Config,
        store: &Store,
        parts: SocketParts,
    ) -> Result<Self, SlackSetupError> {
        let leadership = Leadership::spawn(config, store, SOCKET_MODE_ROLE)
            .await
            .map_err(|e| SlackSetupError(format!("Socket Mode leadership: {e}")))?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut owner = leadership.is_owner();
            loop {
                tokio::select! {
                    owns = owner.wait_for(|owns| *owns) => if owns.is_err() { break },
                    _ = stopped.wait_for(|stop| *stop) => break,
                }
                let socket = match SocketMode::start(
                    &parts.api,
                    &parts.app_token,
                    parts.responder.clone(),
                    parts.slash.clone(),
                    parts.metrics.clone(),
                )
                .await
                {
                    Ok(socket) => socket,
                    Err(error) => {
                        tracing::warn!(%error, "Slack Socket Mode did not start; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(RETRY) => continue,
                            _ = stopped.wait_for(|stop| *stop) => break,
                        }
                    }
                };
                tracing::info!("Slack Socket Mode connected (this replica owns it)");
                let stopping = tokio::select! {
                    _ = owner.wait_for(|owns| !*owns) => false,
                    _ = stopped.wait_for(|stop| *stop) => true,
                };
                socket.shutdown().await;
                if stopping {
                    break;
                }
                tracing::warn!("lost the Slack Socket Mode role; disconnected");
            }
            leadership.release().await;
        });
        Ok(Self { stop, task })
    }

    /// Closes the connection and gives the role up.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// What the callbacks reach through slack-morphism's user state.
struct SocketState {
    responder: Arc<Responder>,
    slash: Arc<SlashCommands>,
    metrics: SlackMetrics,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running Socket Mode listener.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<Connector>,
}

impl SocketMode {
    /// Registers the app token and starts the websockets.
    pub async fn start(
        api: &WebApi,
        app_token: &str,
        responder: Arc<Responder>,
        slash: Arc<SlashCommands>,
        metrics: SlackMetrics,
    ) -> Result<Self, SlackSetupError> {
        let client: Arc<SlackClient<Connector>> = api.client();
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(SocketState {
                    responder,
                    slash,
                    metrics,
                }),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_command_events(on_command)
            .with_interaction_events(on_interaction)
            .with_push_events(on_push);
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(1)
            .with_initial_backoff_in_seconds(1);
        let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.to_string()));
        listener.listen_for(&token).await.map_err(|e| {
            SlackSetupError(format!(
                "Socket Mode: apps.connections.open failed: {}",
                e.to_string().lines().next().unwrap_or_default()
            ))
        })?;
        listener.start().await;
        Ok(Self { listener })
    }

    pub async fn shutdown(self) {
        self.listener.shutdown().await;
    }
}

/// Stores `inbound` in the inbox and starts it; an error (so the envelope is not
/// acknowledged and Slack redelivers it) when the inbox cannot be written.
async fn accept(
    state: &SocketState,
    endpoint: &'static str,
    inbound: opsbot_slack::Inbound,
) -> Result<Accepted, BoxError> {
    match state.responder.accept(inbound).await {
        Ok(accepted) => {
            let outcome = match accepted {
                Accepted::New => "accepted",
                Accepted::Replay => "replayed",
            };
            state.metrics.request(endpoint, outcome);
            Ok(accepted)
        }
        Err(error) => {
            state.metrics.request(endpoint, "unavailable");
            Err(Box::new(error))
        }
    }
}

fn on_error(
    error: BoxError,
    _client: Arc<SlackClient<Connector>>,
    _state: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    tracing::warn!(%error, "Slack Socket Mode error");
    axum::http::StatusCode::OK
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> Result<SlackCommandEventResponse, BoxError> {
    let guard = state.read().await;
    let state = guard
        .get_user_state::<SocketState>()
        .ok_or("Socket Mode state missing")?;
    let inbound = inbound::from_command(&event, &state.slash);
    let ack = format!("⏳ `{}`", opsbot_slack::blocks::escape(&inbound.text));
    let ack = match accept(state, "socket_commands", inbound).await? {
        Accepted::New => ack,
        Accepted::Replay => format!("{ack} (already received)"),
    };
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(ack))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> Result<(), BoxError> {
    let guard = state.read().await;
    let state = guard
        .get_user_state::<SocketState>()
        .ok_or("Socket Mode state missing")?;
    match inbound::from_interaction(&event) {
        Some(inbound) => {
            accept(state, "socket_interactions", inbound).await?;
        }
        None => state.metrics.request("socket_interactions", "ignored"),
    }
    Ok(())
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> Result<(), BoxError> {
    let guard = state.read().await;
    let state = guard
        .get_user_state::<SocketState>()
        .ok_or("Socket Mode state missing")?;
    match inbound::from_push_event(&SlackPushEvent::EventCallback(event)) {
        Event::Mention(inbound) => {
            accept(state, "socket_events", inbound).await?;
        }
        Event::UrlVerification { .. } | Event::Ignored => {
            state.metrics.request("socket_events", "ignored");
        }
    }
    Ok(())
}

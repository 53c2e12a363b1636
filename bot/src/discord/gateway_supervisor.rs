//! Who holds the Discord gateway connection. Discord delivers each interaction to one
//! gateway session, and every connected replica would answer it, so with several
//! replicas only the one that owns the `discord-gateway` role of [`crate::leadership`]
//! connects: [`GatewaySupervisor`] starts the gateway when this process becomes the
//! owner, closes it at once when ownership is lost, starts it again if serenity gives
//! up on it while still the owner (after 5 s, doubling up to 5 min while it keeps
//! failing: Discord limits how many sessions a bot may start a day), and releases the
//! role on shutdown so another replica takes over without waiting. HTTP interactions are not affected: every replica serves
//! them.

use std::{sync::Arc, time::Duration};

use opsbot_discord::DiscordRest;
use tokio::{sync::watch, task::JoinHandle};

use super::{DiscordMetrics, DiscordSetupError, gateway::Gateway, responder::Responder};
use crate::{config::Config, leadership::Leadership, store::Store};

/// The leadership role of the replica holding the gateway connection.
pub const GATEWAY_ROLE: &str = "discord-gateway";
/// How long to wait before connecting again after the gateway failed or ended; doubled
/// after each failure in a row, up to [`MAX_RETRY`].
const RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);
/// A gateway that ran this long before ending was not failing: the next wait is
/// [`RETRY`] again.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// What connecting to the gateway needs.
#[derive(Clone)]
pub(crate) struct GatewayParts {
    pub responder: Arc<Responder>,
    pub rest: DiscordRest,
    pub metrics: DiscordMetrics,
}

/// Runs the gateway connection while this replica owns [`GATEWAY_ROLE`].
pub struct GatewaySupervisor {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Why a running gateway was closed.
enum Closed {
    Shutdown,
    LostRole,
    Ended,
}

impl GatewaySupervisor {
    pub(crate) async fn spawn(
        config: &Config,
        store: &Store,
        parts: GatewayParts,
    ) -> Result<Self, DiscordSetupError> {
        let leadership = Leadership::spawn(config, store, GATEWAY_ROLE)
            .await
            .map_err(|e| DiscordSetupError(format!("gateway leadership: {e}")))?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut owner = leadership.is_owner();
            let mut retry = RETRY;
            loop {
                tokio::select! {
                    owns = owner.wait_for(|owns| *owns) => if owns.is_err() { break },
                    _ = stopped.wait_for(|stop| *stop) => break,
                }
                let began = tokio::time::Instant::now();
                let started = Gateway::start(
                    parts.responder.clone(),
                    parts.rest.clone(),
                    parts.metrics.clone(),
                )
                .await;
                let closed = match started {
                    Ok(mut gateway) => {
                        tracing::info!(
                            role = GATEWAY_ROLE,
                            "this replica owns the Discord gateway; connecting"
                        );
                        let closed = tokio::select! {
                            _ = owner.wait_for(|owns| !*owns) => Closed::LostRole,
                            _ = stopped.wait_for(|stop| *stop) => Closed::Shutdown,
                            () = gateway.ended() => Closed::Ended,
                        };
                        gateway.shutdown().await;
                        closed
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the Discord gateway did not start; retrying");
                        Closed::Ended
                    }
                };
                match closed {
                    Closed::Shutdown => break,
                    Closed::LostRole => {
                        tracing::warn!("lost the Discord gateway role; disconnected");
                    }
                    Closed::Ended => {
                        if began.elapsed() >= HEALTHY_RUN {
                            retry = RETRY;
                        }
                        tokio::select! {
                            () = tokio::time::sleep(retry) => {}
                            _ = stopped.wait_for(|stop| *stop) => break,
                        }
                        retry = (retry * 2).min(MAX_RETRY);
                    }
                }
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

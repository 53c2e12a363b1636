//! Where outbox messages end up: each chat adapter (console, Slack, Discord) implements
//! [`ChatSink`]. The dispatcher owns retries, pacing and ordering; a sink only talks to its
//! platform once per call and says how that went.

use std::time::Duration;

use async_trait::async_trait;
use opsbot_commands::{Platform, Reply};

/// The platform's id of a posted message (Slack `ts`, Discord message id, console line
/// number), kept to edit it or reply in its thread.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageRef(pub String);

/// Why a delivery attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later; `retry_after` is the platform's `Retry-After` when it sent one.
    #[error("temporary failure: {reason}")]
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (channel not found, message too large); the message is
    /// parked as failed and counted.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// A chat platform, as the outbox sees it.
#[async_trait]
pub trait ChatSink: Send + Sync {
    fn platform(&self) -> Platform;

    /// Posts `reply` in `channel`, in the thread of `thread` when given.
    async fn post(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError>;

    /// Replaces the content of a message posted earlier.
    async fn edit(
        &self,
        channel: &str,
        message: &MessageRef,
        reply: &Reply,
    ) -> Result<(), DeliveryError>;
}

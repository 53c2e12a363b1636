//! Where outbox messages end up: each chat adapter (console, Slack, Discord) implements
//! [`ChatSink`]. The dispatcher owns retries, pacing and ordering; a sink only talks to its
//! platform once per call and says how that went.
//!
//! Tagged posts: chat APIs have no idempotency key, so a dispatcher that dies after the
//! platform took a post but before the store recorded it would post it again. The
//! dispatcher therefore hands every post a tag (`opsbot-outbox:FIRST-LAST`, the outbox
//! ids it delivers), and before posting a message whose earlier claim lapsed it asks
//! the sink for a post with that tag. A sink that can keep a tag on a message (Slack
//! message metadata, a Discord nonce) and look it up overrides [`ChatSink::post_tagged`]
//! and [`ChatSink::find_tagged`]; the defaults post untagged and find nothing (at least
//! once).

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

    /// The platform limits calls per channel, so the dispatcher paces them (and
    /// coalesces thread updates under a storm). The console does not.
    fn rate_limited(&self) -> bool {
        true
    }

    /// Whether a call for `channel` spends that channel's budget and so waits for its
    /// pacing slot. Defaults to [`ChatSink::rate_limited`]; a sink overrides it for
    /// destinations the platform does not count per channel (a Slack `response_url`).
    fn paces(&self, channel: &str) -> bool {
        let _ = channel;
        self.rate_limited()
    }

    /// Posts `reply` in `channel`, in the thread of `thread` when given.
    async fn post(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError>;

    /// Posts like [`ChatSink::post`], keeping `tag` on the message where the platform
    /// allows, for [`ChatSink::find_tagged`].
    async fn post_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
        tag: &str,
    ) -> Result<MessageRef, DeliveryError> {
        let _ = tag;
        self.post(channel, thread, reply).await
    }

    /// A recent message in `channel` (in the thread of `thread` when given) posted with
    /// a tag that starts with `tag_prefix`: its id and its whole tag. `None` when there
    /// is none or the sink cannot tell.
    async fn find_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        tag_prefix: &str,
    ) -> Result<Option<(MessageRef, String)>, DeliveryError> {
        let _ = (channel, thread, tag_prefix);
        Ok(None)
    }

    /// Replaces the content of a message posted earlier.
    async fn edit(
        &self,
        channel: &str,
        message: &MessageRef,
        reply: &Reply,
    ) -> Result<(), DeliveryError>;
}

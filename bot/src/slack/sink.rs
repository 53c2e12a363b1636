//! Slack as an outbox [`ChatSink`]: roots and standalone messages with
//! `chat.postMessage`, thread replies with its `thread_ts`, edits with `chat.update`,
//! messages for one person with `chat.postEphemeral` (the channel string is a
//! [`Destination`]). 429 and 5xx come back as `Retry` (with Slack's `Retry-After`),
//! `channel_not_found`, `invalid_auth` and the like as `Permanent`.
//!
//! `chat.update` needs a channel id where `chat.postMessage` also takes `#name`: the ids
//! Slack answered posts to names with are remembered (in memory) for later edits.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use opsbot_commands::{Platform, Reply};
use opsbot_slack::{ApiError, Destination, WebApi, blocks};

use crate::outbox::{ChatSink, DeliveryError, MessageRef};

/// Delivers outbox messages of the `slack` platform.
pub struct SlackSink {
    api: WebApi,
    /// `#name` → channel id, from the answers to posts.
    channel_ids: Mutex<HashMap<String, String>>,
}

impl SlackSink {
    pub fn new(api: WebApi) -> Self {
        Self {
            api,
            channel_ids: Mutex::new(HashMap::new()),
        }
    }

    fn channel_id(&self, channel: &str) -> String {
        self.channel_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)
            .cloned()
            .unwrap_or_else(|| channel.to_string())
    }
}

fn delivery_error(error: ApiError) -> DeliveryError {
    if error.is_temporary() {
        DeliveryError::Retry {
            reason: error.to_string(),
            retry_after: error.retry_after(),
        }
    } else {
        DeliveryError::Permanent(error.to_string())
    }
}

fn destination(channel: &str) -> Result<Destination, DeliveryError> {
    channel
        .parse()
        .map_err(|e: opsbot_slack::destination::DestinationError| {
            DeliveryError::Permanent(e.to_string())
        })
}

impl SlackSink {
    /// `chat.postMessage` (or `chat.postEphemeral`) of `content`; remembers the channel
    /// id Slack answered a `#name` with.
    async fn post_content(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        content: slack_morphism::prelude::SlackMessageContent,
    ) -> Result<MessageRef, DeliveryError> {
        let mut destination = destination(channel)?;
        if let Some(root) = thread {
            destination.thread_ts = Some(root.0.clone());
        }
        let posted = self
            .api
            .post(&destination, content)
            .await
            .map_err(delivery_error)?;
        if posted.channel != destination.channel && !posted.channel.is_empty() {
            self.channel_ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(destination.channel.clone(), posted.channel);
        }
        Ok(MessageRef(posted.ts))
    }
}

#[async_trait]
impl ChatSink for SlackSink {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn post(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        self.post_content(channel, thread, blocks::render(reply))
            .await
    }

    async fn post_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
        tag: &str,
    ) -> Result<MessageRef, DeliveryError> {
        self.post_content(
            channel,
            thread,
            opsbot_slack::client::with_outbox_tag(blocks::render(reply), tag),
        )
        .await
    }

    async fn find_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        tag_prefix: &str,
    ) -> Result<Option<(MessageRef, String)>, DeliveryError> {
        let destination = destination(channel)?;
        if destination.only_user.is_some() {
            // Ephemeral messages are not in the history (and cannot be edited anyway).
            return Ok(None);
        }
        let thread_ts = thread
            .map(|root| root.0.clone())
            .or(destination.thread_ts.clone());
        let found = self
            .api
            .find_tagged(
                &self.channel_id(&destination.channel),
                thread_ts.as_deref(),
                tag_prefix,
            )
            .await
            .map_err(delivery_error)?;
        Ok(found.map(|(ts, tag)| (MessageRef(ts), tag)))
    }

    async fn edit(
        &self,
        channel: &str,
        message: &MessageRef,
        reply: &Reply,
    ) -> Result<(), DeliveryError> {
        let destination = destination(channel)?;
        self.api
            .update(
                &self.channel_id(&destination.channel),
                &message.0,
                blocks::render(reply),
            )
            .await
            .map_err(delivery_error)
    }
}

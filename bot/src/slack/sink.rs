//! Slack as an outbox [`ChatSink`]: roots and standalone messages with
//! `chat.postMessage`, thread replies with its `thread_ts`, edits with `chat.update`,
//! messages for one person with `chat.postEphemeral` (the channel string is a
//! [`Destination`]). 429 and 5xx come back as `Retry` (with Slack's `Retry-After`),
//! `channel_not_found`, `invalid_auth` and the like as `Permanent`.
//!
//! Answers to slash commands and button presses whose destination carries the request's
//! `response_url` are posted there (`in_channel`, or `ephemeral` for one user): Slack
//! does not count them against the channel's one-message-per-second budget, so the
//! dispatcher does not pace them ([`ChatSink::paces`]). A failed post is retried by the
//! outbox; once the URL can no longer work (Slack's 404 / `expired_url` / `used_url`,
//! or 29 minutes after the request) the answer is posted in the channel (thread, user)
//! instead, so nothing is lost. The URL is a credential and is never logged.
//!
//! A reply with an attachment (the `/cost` chart, an incident's Markdown record) is
//! shared as an uploaded file whose message is the reply ([`WebApi::upload_file`]), in
//! the destination's channel and thread (a `response_url` cannot carry files). Ephemeral
//! replies cannot carry files: the file is named instead.
//!
//! Crash recovery (`outbox/recovery.rs`): every post carries its outbox tag where the
//! history keeps it, and [`ChatSink::find_tagged`] looks it up in the destination's
//! channel or thread (`conversations.history`/`.replies`) before a part that may have
//! gone through is posted again: `chat.postMessage` and `in_channel` answers through a
//! `response_url` carry it as message `metadata` (a response_url takes the same message
//! fields, `metadata` included), a chart's file share as the `block_id` of its first
//! block (`files.completeUploadExternal` takes no metadata). What remains: an
//! *ephemeral* message (`chat.postEphemeral`, an `ephemeral` answer through a
//! response_url) is in no history, so one cut off by a crash after Slack took it and
//! before the store recorded it is shown again to its one reader; and a lookup that
//! fails (say the bot may not read the channel's history, `not_in_channel`) posts again
//! rather than lose the answer. The window is one chat call (at most the outbox's call
//! timeout, a quarter of its lease).
//!
//! `chat.update` and `conversations.history` need a channel id where `chat.postMessage`
//! also takes `#name`: the ids Slack answered posts to names with are remembered (in
//! memory) for later edits, and a name this process has not posted to yet (a root
//! another replica posted, or one posted before a restart) is looked up once through
//! `conversations.list` (scopes `channels:read`, `groups:read`).

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use opsbot_commands::{Platform, Reply};
use opsbot_slack::{ApiError, Destination, WebApi, blocks, signature::unix_now};
use slack_morphism::prelude::SlackMessageContent;

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

    fn known_id(&self, channel: &str) -> Option<String> {
        self.channel_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)
            .cloned()
    }

    /// The id of `channel`: itself unless it is a `#name`; a name's id as Slack answered
    /// a post, else as `conversations.list` lists it (then remembered for every listed
    /// channel). A name Slack does not list stays a name (the call then gets Slack's
    /// `channel_not_found`).
    async fn channel_id(&self, channel: &str) -> String {
        if !channel.starts_with('#') {
            return channel.to_string();
        }
        if let Some(id) = self.known_id(channel) {
            return id;
        }
        match self.api.channel_ids().await {
            Ok(listed) => {
                let mut ids = self.channel_ids.lock().unwrap_or_else(|e| e.into_inner());
                for (name, id) in listed {
                    ids.entry(name).or_insert(id);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not list Slack channels to find a channel id")
            }
        }
        self.known_id(channel)
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
    /// Delivers `reply` to `destination` (in the thread of `thread` when given), with
    /// `tag` kept on channel posts.
    async fn deliver(
        &self,
        mut destination: Destination,
        thread: Option<&MessageRef>,
        reply: &Reply,
        tag: Option<&str>,
    ) -> Result<MessageRef, DeliveryError> {
        if let Some(root) = thread {
            destination.thread_ts = Some(root.0.clone());
        }
        if let Some(attachment) = &reply.attachment
            && destination.only_user.is_none()
        {
            let file = self
                .api
                .upload_file(
                    &self.channel_id(&destination.channel).await,
                    destination.thread_ts.as_deref(),
                    &opsbot_slack::client::FileUpload {
                        name: &attachment.name,
                        title: &attachment.title,
                        media_type: &attachment.media_type,
                        bytes: &attachment.bytes,
                    },
                    match tag {
                        Some(tag) => opsbot_slack::client::with_outbox_block_tag(
                            blocks::file_share_blocks(reply),
                            tag,
                        ),
                        None => blocks::file_share_blocks(reply),
                    },
                )
                .await
                .map_err(delivery_error)?;
            return Ok(MessageRef(file));
        }
        let content = match tag {
            Some(tag) => opsbot_slack::client::with_outbox_tag(blocks::render(reply), tag),
            None => blocks::render(reply),
        };
        if let Some(response) = &destination.response
            && response.usable_at(unix_now())
        {
            let answer = self
                .api
                .respond(
                    response,
                    destination.only_user.is_some(),
                    destination.thread_ts.as_deref(),
                    content.clone(),
                )
                .await;
            match answer {
                Ok(()) => return Ok(MessageRef(String::new())),
                Err(ApiError::ResponseUrlGone) => {
                    tracing::info!(
                        channel = %destination.channel,
                        "the response_url no longer takes posts; answering in the channel"
                    );
                }
                Err(error) => return Err(delivery_error(error)),
            }
        }
        self.post_content(destination.without_response(), content)
            .await
    }

    /// `chat.postMessage` (or `chat.postEphemeral`) of `content`; remembers the channel
    /// id Slack answered a `#name` with.
    async fn post_content(
        &self,
        destination: Destination,
        content: SlackMessageContent,
    ) -> Result<MessageRef, DeliveryError> {
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

    /// Answers through a `response_url` do not spend the channel's budget. (Once the URL
    /// is gone the fallback post is not paced by the outbox either; a 429 it draws is
    /// retried after Slack's `Retry-After` like any other.)
    fn paces(&self, channel: &str) -> bool {
        destination(channel).map_or(true, |d| d.response.is_none())
    }

    async fn post(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        self.deliver(destination(channel)?, thread, reply, None)
            .await
    }

    async fn post_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
        tag: &str,
    ) -> Result<MessageRef, DeliveryError> {
        self.deliver(destination(channel)?, thread, reply, Some(tag))
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
            // Ephemeral messages are not in the history: there is nothing to look up.
            return Ok(None);
        }
        // An answer through a response_url is a message in the destination's channel
        // (thread), with its tag, as is the channel post it falls back to.
        let thread_ts = thread
            .map(|root| root.0.clone())
            .or(destination.thread_ts.clone());
        let found = self
            .api
            .find_tagged(
                &self.channel_id(&destination.channel).await,
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
                &self.channel_id(&destination.channel).await,
                &message.0,
                blocks::render(reply),
            )
            .await
            .map_err(delivery_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_root_another_process_posted_by_channel_name_is_edited_by_its_id() {
        let slack = opsbot_fakes::slack::FakeSlack::start("xoxb-1", "xapp-1").await;
        slack.name_channel("#ops-alerts", "C0OPS");
        let settings = opsbot_slack::WebApiSettings {
            base_url: slack.api_url(),
            rate_control: false,
        };
        let posting = SlackSink::new(WebApi::new(&settings, "xoxb-1").unwrap());
        let root = posting
            .post("#ops-alerts", None, &Reply::info("root v1"))
            .await
            .unwrap();
        // Another replica (or this one restarted) never posted to #ops-alerts.
        let editing = SlackSink::new(WebApi::new(&settings, "xoxb-1").unwrap());
        editing
            .edit("#ops-alerts", &root, &Reply::info("root v2"))
            .await
            .unwrap();
        let messages = slack.messages_in("C0OPS");
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].edits.len(), 1, "edited in place by id");
        // The listing is remembered: a second edit lists nothing again.
        editing
            .edit("#ops-alerts", &root, &Reply::info("root v3"))
            .await
            .unwrap();
        assert_eq!(slack.calls("conversations.list"), 1);
        // A channel Slack does not list stays unknown: Slack's own answer, permanent.
        let missing = editing
            .edit("#gone", &root, &Reply::info("x"))
            .await
            .unwrap_err();
        assert!(
            matches!(missing, DeliveryError::Permanent(_)),
            "{missing:?}"
        );
    }

    #[test]
    fn only_channel_posts_are_paced() {
        let api = WebApi::new(&opsbot_slack::WebApiSettings::default(), "xoxb-1").unwrap();
        let sink = SlackSink::new(api);
        assert!(sink.paces("C1"));
        assert!(sink.paces("C1/thread=1.2"));
        assert!(!sink.paces("C1/response=1700000000:https://hooks.slack.com/commands/1/2"));
        assert!(!sink.paces("C1/only=U1/response=1700000000:https://hooks.slack.com/a/1"));
    }
}

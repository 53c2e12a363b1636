//! Discord as an outbox [`ChatSink`]:
//!
//! * a root or standalone message: `POST /channels/{channel}/messages`;
//! * a thread reply: the thread is started from the root message on the first reply
//!   (`POST /channels/{channel}/messages/{root}/threads`; such a thread has the root's
//!   id, and "already created" counts as started, so replicas need no shared state),
//!   then the reply is posted in it;
//! * an edit: `PATCH /channels/{channel}/messages/{message}`; a message posted in a
//!   thread is edited there: its reference is `THREAD/MESSAGE` (an investigation's
//!   answer, a root of its own posted in the incident's thread and edited as it
//!   streams), and a reply to such a message goes into that same thread (Discord has no
//!   threads in threads);
//! * an interaction's answer (`interaction:TOKEN`): the deferred original response is
//!   edited, or — for a reply only its requester may see — an ephemeral follow-up is
//!   posted and the public "thinking…" original deleted.
//!
//! Posts are idempotent (crash recovery, see `outbox/recovery.rs`): every channel or
//! thread message is created with a `nonce` derived from its outbox tag and
//! `enforce_nonce`, so when a dispatcher died after Discord took a post, the replica
//! that delivers it again (the same outbox messages, hence the same tag and nonce) gets
//! the message created first back instead of a second one. Discord keeps nonces for a
//! few minutes: a post retried later than that (every replica down longer) may appear
//! twice. Discord cannot look a nonce up afterwards, so [`ChatSink::find_tagged`] stays
//! the default (finds nothing) and the repeat itself is the lookup. An interaction's
//! answer edits the deferred original (editing twice posts nothing new); an answer only
//! its requester may see is an ephemeral follow-up, which takes no nonce: a crash
//! between Discord taking it and the store recording it shows that requester the
//! answer twice (the window is that one call).
//!
//! 429 (with Discord's `retry_after`) and 5xx come back as `Retry`; 404 (unknown channel
//! or message) and other refusals as `Permanent` — except for an interaction's answer,
//! where a 404 means Discord has not yet recorded the deferred response, so it is
//! retried (a second later) until it has, or the token expires (401, permanent).

use std::{collections::HashSet, sync::Mutex, time::Duration};

use async_trait::async_trait;
use opsbot_commands::{Platform, Reply};
use opsbot_discord::{DiscordRest, MessageBody, RestError, Target, render};

use crate::outbox::{ChatSink, DeliveryError, MessageRef};

/// Discord's code for "A thread has already been created for this message".
const THREAD_ALREADY_CREATED: i64 = 160004;
/// How long to wait before editing an original response Discord does not know yet.
const ORIGINAL_NOT_YET: Duration = Duration::from_secs(1);

/// Delivers outbox messages of the `discord` platform.
pub struct DiscordSink {
    rest: DiscordRest,
    /// Roots whose thread this process has started (a cache; Discord is the truth).
    threads: Mutex<HashSet<String>>,
}

impl DiscordSink {
    pub fn new(rest: DiscordRest) -> Self {
        Self {
            rest,
            threads: Mutex::new(HashSet::new()),
        }
    }

    fn started(&self, root: &str) -> bool {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(root)
    }

    async fn ensure_thread(
        &self,
        channel: &str,
        root: &str,
        name: &str,
    ) -> Result<(), DeliveryError> {
        if self.started(root) {
            return Ok(());
        }
        match self.rest.start_thread(channel, root, name).await {
            Ok(_)
            | Err(RestError::Rejected {
                code: Some(THREAD_ALREADY_CREATED),
                ..
            }) => {}
            Err(error) => return Err(delivery_error(error)),
        }
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(root.to_string());
        Ok(())
    }

    async fn answer(&self, token: &str, body: MessageBody) -> Result<MessageRef, DeliveryError> {
        if body.only_actor {
            let id = self
                .rest
                .create_followup(token, &body.ephemeral())
                .await
                .map_err(interaction_error)?;
            if let Err(error) = self.rest.delete_original(token).await {
                tracing::debug!(%error, "could not delete the deferred response");
            }
            return Ok(MessageRef(id));
        }
        self.rest
            .edit_original(token, &body)
            .await
            .map(MessageRef)
            .map_err(interaction_error)
    }
}

fn delivery_error(error: RestError) -> DeliveryError {
    if error.is_temporary() {
        DeliveryError::Retry {
            reason: error.to_string(),
            retry_after: error.retry_after(),
        }
    } else {
        DeliveryError::Permanent(error.to_string())
    }
}

fn interaction_error(error: RestError) -> DeliveryError {
    match error {
        RestError::NotFound { .. } => DeliveryError::Retry {
            reason: format!("the deferred response is not on Discord yet: {error}"),
            retry_after: Some(ORIGINAL_NOT_YET),
        },
        error => delivery_error(error),
    }
}

fn target(channel: &str) -> Result<Target, DeliveryError> {
    channel
        .parse()
        .map_err(|e: opsbot_discord::target::TargetError| DeliveryError::Permanent(e.to_string()))
}

/// The nonce of the post tagged `tag`: its 64-bit FNV-1a hash in decimal (at most 20
/// characters, within Discord's 25; stable across builds, unlike `std`'s hasher).
fn nonce(tag: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = tag.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    hash.to_string()
}

impl DiscordSink {
    /// Posts `reply` (with the nonce of `tag` when given) to its target.
    async fn deliver(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
        tag: Option<&str>,
    ) -> Result<MessageRef, DeliveryError> {
        let body = render(reply);
        match target(channel)? {
            Target::Interaction { token } => self.answer(&token, body).await,
            Target::Channel(channel) => {
                // Channel messages only: the interaction webhooks take no nonce.
                let body = match tag {
                    Some(tag) => body.with_nonce(&nonce(tag)),
                    None => body,
                };
                let into = match thread.map(|root| in_thread(&root.0)) {
                    // A message that is itself in a thread: its replies go there too.
                    Some((Some(thread), _)) => thread.to_string(),
                    Some((None, root)) => {
                        self.ensure_thread(&channel, root, &reply.title).await?;
                        root.to_string()
                    }
                    None => channel.clone(),
                };
                let id = self
                    .rest
                    .create_message(&into, &body)
                    .await
                    .map_err(delivery_error)?;
                Ok(MessageRef(if into == channel {
                    id
                } else {
                    format!("{into}/{id}")
                }))
            }
        }
    }
}

/// A message reference split into the thread it was posted in (`THREAD/MESSAGE`), if
/// any, and the message id.
fn in_thread(message: &str) -> (Option<&str>, &str) {
    match message.split_once('/') {
        Some((thread, id)) => (Some(thread), id),
        None => (None, message),
    }
}

#[async_trait]
impl ChatSink for DiscordSink {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn post(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        self.deliver(channel, thread, reply, None).await
    }

    async fn post_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
        tag: &str,
    ) -> Result<MessageRef, DeliveryError> {
        self.deliver(channel, thread, reply, Some(tag)).await
    }

    async fn edit(
        &self,
        channel: &str,
        message: &MessageRef,
        reply: &Reply,
    ) -> Result<(), DeliveryError> {
        let body = render(reply);
        match target(channel)? {
            Target::Interaction { token } => self.answer(&token, body).await.map(drop),
            Target::Channel(channel) => {
                let (thread, id) = in_thread(&message.0);
                self.rest
                    .edit_message(thread.unwrap_or(&channel), id, &body)
                    .await
                    .map_err(delivery_error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_short_stable_and_differ_by_tag() {
        let a = nonce("opsbot-outbox:12-14");
        assert_eq!(a, nonce("opsbot-outbox:12-14"));
        assert_ne!(a, nonce("opsbot-outbox:12-15"));
        assert!(a.len() <= opsbot_discord::render::MAX_NONCE);
        assert_eq!(nonce(""), "14695981039346656037");
    }

    #[test]
    fn a_message_in_a_thread_is_addressed_through_it() {
        assert_eq!(
            in_thread("1400000000000000001"),
            (None, "1400000000000000001")
        );
        assert_eq!(
            in_thread("1400000000000000001/1400000000000000007"),
            (Some("1400000000000000001"), "1400000000000000007")
        );
    }
}

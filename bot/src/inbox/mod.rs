//! The command inbox: every signed chat invocation (Slack slash command, button press,
//! mention, Socket Mode envelope; Discord interaction, HTTP or gateway) is stored here,
//! committed, before it is acknowledged, and marked done in the same transaction that
//! queues its reply in the outbox. So an invocation the user saw acknowledged ("⏳") is
//! never silently lost: if the process dies before the reply is queued, the recovery
//! sweep ([`recovery`]) of the next process (or of another replica, once the dead one's
//! lease has lapsed) reports it to the user and audits it.
//!
//! The row's key, (platform, delivery id), refuses a replayed request across restarts
//! and replicas: the delivery id is Slack's trigger id / action ts / event id or
//! Discord's interaction id, all inside the signed body, so a replay of the identical
//! signed request carries the same one. Rows are kept for the platform's signature
//! window (a replay older than that fails the signature check anyway), then pruned.
//!
//! Writes are group-committed ([`writer`]): one transaction for every insert and
//! "done" waiting, as the outbox's reply queue and the audit writer do.

mod recovery;
mod repo;
#[cfg(test)]
mod tests;
mod writer;

use std::{sync::Arc, time::Duration};

use opsbot_commands::Platform;
use tokio::sync::oneshot;

pub use recovery::spawn_recovery;

use crate::{outbox::OutboxMessage, store::Store};

/// One accepted invocation, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub platform: Platform,
    /// The platform's id of the request (stable across a replay of the same body).
    pub delivery_id: String,
    /// The request id its audit record will carry.
    pub request_id: String,
    pub actor_id: String,
    pub actor_name: String,
    pub channel: String,
    pub thread: Option<String>,
    pub text: String,
    /// Where a report about it goes while the platform's answer handle is valid (the
    /// outbox channel string: a Slack destination through the `response_url`, a Discord
    /// `interaction:TOKEN`), and until when (None: as long as the row lives).
    pub answer_to: Option<String>,
    pub answer_until: Option<jiff::Timestamp>,
    /// How long a replay must be refused: the platform's signature window.
    pub remember_for: Duration,
}

impl Delivery {
    /// The outbox dedupe key of this invocation's final reply (the report of an
    /// interrupted invocation uses it too, so the user never gets both).
    pub fn reply_key(platform: Platform, delivery_id: &str) -> String {
        match platform {
            Platform::Discord => format!("discord:interaction:{delivery_id}"),
            other => format!("{}:{delivery_id}:reply", other.as_str()),
        }
    }
}

/// Whether an invocation is new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Stored: acknowledge it and run it.
    New,
    /// Seen before (a replay, or a platform retry): acknowledge it, run nothing.
    Replay,
}

/// Why the inbox could not be written.
#[derive(Clone, Debug, thiserror::Error)]
pub enum InboxError {
    #[error("the command inbox could not be written: {message}")]
    Store { message: String, unavailable: bool },
    #[error("the command inbox writer has stopped")]
    Closed,
}

impl InboxError {
    /// Whether the store is unavailable right now (answer 503 and let the caller retry).
    pub fn is_unavailable(&self) -> bool {
        match self {
            InboxError::Store { unavailable, .. } => *unavailable,
            InboxError::Closed => true,
        }
    }
}

impl From<&crate::store::StoreError> for InboxError {
    fn from(error: &crate::store::StoreError) -> Self {
        InboxError::Store {
            message: error.to_string(),
            unavailable: error.is_unavailable(),
        }
    }
}

/// The handle producers use (cheap to clone).
#[derive(Clone)]
pub struct Inbox {
    writer: writer::Writer,
    owner: Arc<str>,
    lease: Duration,
    store: Store,
}

impl Inbox {
    /// Starts the group-commit writer on `store` (within a Tokio runtime). `owner` names
    /// this process in the rows it accepts; `lease` is how long after its last renewal
    /// another replica may take its unfinished rows over.
    pub fn spawn(store: Store, owner: String, lease: Duration) -> Self {
        Self {
            writer: writer::Writer::spawn(store.clone()),
            owner: owner.into(),
            lease,
            store,
        }
    }

    /// A process-unique owner name: the replica's identity and a random suffix (a
    /// restarted process never takes itself for its predecessor).
    pub fn default_owner() -> String {
        let identity = crate::leadership::default_identity(&|name| std::env::var(name).ok());
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        format!("{identity}#{}", &suffix[suffix.len() - 8..])
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores `delivery` (committed when this returns `New`); `Replay` when its key is
    /// already stored.
    pub async fn accept(&self, delivery: Delivery) -> Result<Accepted, InboxError> {
        let row = repo::Row::accepted(&delivery, &self.owner, self.lease, jiff::Timestamp::now());
        let (done, wait) = oneshot::channel();
        self.writer.send(writer::Op::Accept(Box::new(row), done))?;
        wait.await.map_err(|_| InboxError::Closed)?
    }

    /// Queues `reply` in the outbox and marks the invocation done, in one transaction.
    pub async fn finish(
        &self,
        platform: Platform,
        delivery_id: &str,
        reply: OutboxMessage,
    ) -> Result<(), InboxError> {
        let (done, wait) = oneshot::channel();
        self.writer.send(writer::Op::Finish {
            platform: platform.as_str(),
            delivery_id: delivery_id.to_string(),
            reply: Some(Box::new(reply)),
            done,
        })?;
        wait.await.map_err(|_| InboxError::Closed)?
    }

    /// Marks the invocation done without queueing a reply (it was answered in the
    /// acknowledgement itself).
    pub async fn finish_answered(
        &self,
        platform: Platform,
        delivery_id: &str,
    ) -> Result<(), InboxError> {
        let (done, wait) = oneshot::channel();
        self.writer.send(writer::Op::Finish {
            platform: platform.as_str(),
            delivery_id: delivery_id.to_string(),
            reply: None,
            done,
        })?;
        wait.await.map_err(|_| InboxError::Closed)?
    }
}

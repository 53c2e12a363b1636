//! The durable outbox: every chat message opsbot sends is first stored, then delivered by
//! a dispatcher that retries with backoff (honouring `Retry-After`), never posts twice,
//! keeps each thread in order, paces each channel, coalesces storms into digests, and
//! serves command replies ahead of alert traffic.
//!
//! Contract for producers: call [`Outbox::enqueue`] inside the same transaction that
//! records what the message is about (so a crash never loses or invents a message).
//! Command replies, which record nothing else, go through [`ReplyQueue`]: one
//! transaction for every reply waiting (Slack and Discord share it).

//!
//! ```text
//! let mut tx = store.pool().begin().await?;
//! // … record the incident event …
//! Outbox::enqueue(&mut tx, &message).await?; // false: that dedupe_key was already queued
//! tx.commit().await?;
//! outbox::wake(); // optional: deliver now rather than at the next poll
//! ```
//!
//! Messages of one `thread_key` are delivered in the order they were inserted (their
//! `id`); producers writing the same thread from concurrent transactions must serialize
//! them (for example by locking the incident row first).

mod delivery;
mod dispatcher;
mod message;
mod metrics;
mod pacing;
mod plan;
mod recovery;
mod reply_json;
mod reply_queue;
mod repo;
mod shared_pace;
mod sink;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use dispatcher::{Dispatcher, DispatcherConfig, wake};
pub use message::{Lane, Operation, OutboxMessage};
pub use metrics::OutboxMetrics;
pub use reply_queue::ReplyQueue;
pub use sink::{ChatSink, DeliveryError, MessageRef};

use crate::store::{Store, StoreError};

/// Producers' entry point to the outbox.
pub struct Outbox;

impl Outbox {
    /// Queues `message` on `conn`, which may be a caller's open transaction
    /// (`&mut *tx`): the message is stored if and only if the transaction commits.
    /// Returns false when a message with the same `dedupe_key` is already stored (it is
    /// not stored again, whatever its state).
    pub async fn enqueue(
        conn: &mut sqlx::AnyConnection,
        message: &OutboxMessage,
    ) -> Result<bool, StoreError> {
        repo::enqueue(conn, message).await
    }

    /// Queues `message` on its own (for callers without a transaction, such as command
    /// replies) and wakes this process's dispatchers.
    pub async fn send(store: &Store, message: &OutboxMessage) -> Result<bool, StoreError> {
        let mut conn = store.pool().acquire().await?;
        let inserted = repo::enqueue(&mut conn, message).await?;
        drop(conn);
        wake();
        Ok(inserted)
    }
}

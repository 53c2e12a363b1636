//! Group commit of command replies into the outbox, for every chat platform: every reply
//! (and progress line) goes through one writer task, which stores whatever is waiting
//! (up to [`MAX_BATCH`]) in one transaction, then wakes the dispatchers. Under load that
//! is one durable write for many replies instead of one each, and the order in which
//! messages were handed over is the order of their outbox ids (so a command's progress
//! stays ahead of its result). A reply whose `dedupe_key` is already stored is not
//! stored again, as with [`super::Outbox::enqueue`].

use tokio::sync::{mpsc, oneshot};

use super::{Outbox, OutboxMessage};
use crate::store::{Store, StoreError};

/// At most this many messages per transaction.
pub const MAX_BATCH: usize = 256;

type Item = (OutboxMessage, oneshot::Sender<Result<(), String>>);

/// Hands replies to the writer task.
#[derive(Clone)]
pub struct ReplyQueue {
    tx: mpsc::UnboundedSender<Item>,
}

impl ReplyQueue {
    /// Starts the writer task on `store` (it ends when every queue handle is dropped).
    /// Must be called within a Tokio runtime.
    pub fn spawn(store: Store) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, rx));
        Self { tx }
    }

    /// Stores `message` in the outbox; returns once it is committed (or failed).
    pub async fn send(&self, message: OutboxMessage) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((message, done))
            .map_err(|_| "the reply queue is closed".to_string())?;
        wait.await
            .map_err(|_| "the reply queue stopped".to_string())?
    }
}

async fn write_loop(store: Store, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut batch: Vec<Item> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write(&store, &batch).await.map_err(|e| e.to_string());
        if let Err(error) = &result {
            tracing::error!(%error, messages = batch.len(), "could not queue replies");
        }
        super::wake();
        for (_, done) in batch.drain(..) {
            let _ = done.send(result.clone());
        }
    }
}

async fn write(store: &Store, batch: &[Item]) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await?;
    for (message, _) in batch {
        Outbox::enqueue(&mut tx, message).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use opsbot_commands::{Platform, Reply};

    use super::*;
    use crate::{outbox::Lane, outbox::Operation, store::scratch::scratch_sqlite};

    fn reply(n: usize) -> OutboxMessage {
        OutboxMessage {
            platform: Platform::Discord,
            channel: "interaction:token".into(),
            thread_key: None,
            operation: Operation::Post,
            lane: Lane::Interactive,
            reply: Reply::info(format!("reply {n}")),
            dedupe_key: format!("reply:{n}"),
        }
    }

    #[tokio::test]
    async fn concurrent_replies_are_all_stored_once_in_hand_over_order() {
        let (store, _dir) = scratch_sqlite().await;
        let queue = ReplyQueue::spawn(store.clone());
        let sends: Vec<_> = (0..300)
            .map(|n| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.send(reply(n)).await })
            })
            .collect();
        for send in sends {
            send.await.unwrap().unwrap();
        }
        // One task's replies keep their order; a dedupe key already stored is skipped.
        for n in [300, 301, 0, 302] {
            queue.send(reply(n)).await.unwrap();
        }
        let keys: Vec<String> = sqlx::query_scalar("SELECT dedupe_key FROM outbox ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(keys.len(), 303);
        let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), 303);
        assert_eq!(keys[300..], ["reply:300", "reply:301", "reply:302"]);
    }
}

//! Group commit of Slack replies into the outbox: every reply and progress line of every
//! invocation goes through one writer task, which stores whatever is waiting (up to
//! [`MAX_BATCH`]) in one transaction, then wakes the dispatchers. Under load that is one
//! durable write for many replies instead of one each, and the order in which messages
//! were handed over is the order of their outbox ids (so a command's progress stays
//! ahead of its result).

use tokio::sync::{mpsc, oneshot};

use crate::{
    outbox::{self, Outbox, OutboxMessage},
    store::{Store, StoreError},
};

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
            .map_err(|_| "the Slack reply queue is closed".to_string())?;
        wait.await
            .map_err(|_| "the Slack reply queue stopped".to_string())?
    }
}

async fn write_loop(store: Store, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut batch: Vec<Item> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write(&store, &batch).await.map_err(|e| e.to_string());
        if let Err(error) = &result {
            tracing::error!(%error, messages = batch.len(), "could not queue Slack replies");
        }
        outbox::wake();
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

//! Group commit of the inbox: every accept and finish goes through one writer task,
//! which applies whatever is waiting (up to [`MAX_BATCH`]) in one transaction. Under
//! load that is one durable write for many requests instead of one each, which keeps
//! the acknowledgement fast; the ack waits only for the commit holding its row.

use tokio::sync::{mpsc, oneshot};

use super::{Accepted, InboxError, repo};
use crate::{
    outbox::{Outbox, OutboxMessage},
    store::{Store, StoreError},
};

/// At most this many operations per transaction.
pub const MAX_BATCH: usize = 512;

/// One operation for the writer.
pub(crate) enum Op {
    Accept(
        Box<repo::Row>,
        oneshot::Sender<Result<Accepted, InboxError>>,
    ),
    Finish {
        platform: &'static str,
        delivery_id: String,
        /// What to post; `None` when the invocation was answered already (an unknown
        /// button answered in the acknowledgement itself).
        reply: Option<Box<OutboxMessage>>,
        done: oneshot::Sender<Result<(), InboxError>>,
    },
}

/// Hands operations to the writer task.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Op>,
}

impl Writer {
    /// Starts the writer task (it ends when every handle is dropped).
    pub(crate) fn spawn(store: Store) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, rx));
        Self { tx }
    }

    pub(crate) fn send(&self, op: Op) -> Result<(), InboxError> {
        self.tx.send(op).map_err(|_| InboxError::Closed)
    }
}

async fn write_loop(store: Store, mut rx: mpsc::UnboundedReceiver<Op>) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write(&store, &batch).await {
            Ok(fresh) => {
                let mut fresh = fresh.into_iter();
                let mut replies = false;
                for op in batch.drain(..) {
                    match op {
                        Op::Accept(_, done) => {
                            let accepted = if fresh.next().unwrap_or(false) {
                                Accepted::New
                            } else {
                                Accepted::Replay
                            };
                            let _ = done.send(Ok(accepted));
                        }
                        Op::Finish { done, reply, .. } => {
                            replies |= reply.is_some();
                            let _ = done.send(Ok(()));
                        }
                    }
                }
                if replies {
                    crate::outbox::wake();
                }
            }
            Err(error) => {
                tracing::error!(%error, operations = batch.len(), "could not write the command inbox");
                let error = InboxError::from(&error);
                for op in batch.drain(..) {
                    match op {
                        Op::Accept(_, done) => {
                            let _ = done.send(Err(error.clone()));
                        }
                        Op::Finish { done, .. } => {
                            let _ = done.send(Err(error.clone()));
                        }
                    }
                }
            }
        }
    }
}

/// Applies `batch` in one transaction; for each accept, in order, whether it was new.
async fn write(store: &Store, batch: &[Op]) -> Result<Vec<bool>, StoreError> {
    let mut tx = store.pool().begin().await?;
    let mut fresh = Vec::with_capacity(batch.len());
    for op in batch {
        match op {
            Op::Accept(row, _) => fresh.push(repo::insert(&mut tx, row).await?),
            Op::Finish {
                platform,
                delivery_id,
                reply,
                ..
            } => {
                if let Some(reply) = reply {
                    Outbox::enqueue(&mut tx, reply).await?;
                }
                repo::mark_done(&mut tx, platform, delivery_id).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(fresh)
}

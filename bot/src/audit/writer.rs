//! [`AuditWriter`]: the single writer task that appends records in group commits.
//!
//! Appenders put a record and a reply slot on a bounded queue and wait. The writer task
//! takes everything queued (up to [`MAX_BATCH`]), commits it as one transaction (see
//! [`super::batch`]), and only then answers each waiter with its seq, or every waiter of
//! the batch with the error. While one batch commits (and fsyncs), the next one queues,
//! so the batch size grows with load and one fsync serves many appends; before taking a
//! batch the task briefly yields to let appenders it just answered queue again.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{AuditError, AuditRecord, batch::commit_batch};
use crate::store::Store;

/// The most records committed in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Records that may wait in the queue before `append` itself waits (backpressure).
const QUEUE_CAPACITY: usize = 8 * MAX_BATCH;
/// At most this many scheduler yields while waiting for a batch to fill.
const MAX_FILL_YIELDS: usize = 16;

type Reply = oneshot::Sender<Result<i64, AuditError>>;

// Not boxed: a Box would cost an allocation per append, and queue slots hold the largest
// variant either way.
#[expect(
    clippy::large_enum_variant,
    reason = "records travel by value, unboxed"
)]
enum Message {
    Append(AuditRecord, Reply),
    /// Stop accepting records, commit what is queued, then acknowledge.
    Close(oneshot::Sender<()>),
}

/// A handle on the audit writer task. Clones share the task; it runs until
/// [`AuditWriter::close`] or until every handle is dropped (after committing what was
/// queued either way).
#[derive(Clone, Debug)]
pub struct AuditWriter {
    queue: mpsc::Sender<Message>,
}

impl AuditWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(store: Store) -> AuditWriter {
        let (queue, inbox) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(store, inbox));
        AuditWriter { queue }
    }

    /// Appends a record (its secret-shaped text redacted, here in the caller's task and
    /// not in the single writer task) and resolves with its seq once the batch holding it
    /// is durably committed. If this future is dropped after the record was queued, the
    /// record is still written.
    pub async fn append(&self, record: AuditRecord) -> Result<i64, AuditError> {
        self.submit(record).await?.durable().await
    }

    /// Queues a record (redacted as by [`AuditWriter::append`]) and returns once it is
    /// queued, without waiting for its commit: the [`Queued`] says when it is durable.
    /// Records are committed in the order they were queued, so a caller that submits
    /// several and waits for them in order sees them durable in that order, while their
    /// fsyncs are shared (one stream of console commands: `console/responder.rs`).
    pub async fn submit(&self, mut record: AuditRecord) -> Result<Queued, AuditError> {
        super::redaction::redact_record(&mut record);
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Append(record, reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        Ok(Queued(answer))
    }

    /// Stops the writer: records already queued are committed and answered, later
    /// appends (through any clone) fail with [`AuditError::Closed`]. Resolves when the
    /// last batch is committed. For shutdown.
    pub async fn close(self) {
        let (ack, done) = oneshot::channel();
        if self.queue.send(Message::Close(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// A record queued by [`AuditWriter::submit`], not yet known to be durable.
#[derive(Debug)]
pub struct Queued(oneshot::Receiver<Result<i64, AuditError>>);

impl Queued {
    /// Resolves with the record's seq once the batch holding it is durably committed.
    pub async fn durable(self) -> Result<i64, AuditError> {
        self.0.await.map_err(|_| AuditError::Closed)?
    }
}

/// Lets a batch fill before committing it. The appenders just answered are runnable but
/// have not queued their next record yet; committing at once would spend an fsync on the
/// first one or two of them and make the rest wait for the next. So yield to them while
/// the queue keeps growing (microseconds, not a timer), then take what came.
async fn gather(inbox: &mut mpsc::Receiver<Message>, messages: &mut Vec<Message>) {
    let mut queued = inbox.len();
    for _ in 0..MAX_FILL_YIELDS {
        if messages.len() + queued >= MAX_BATCH {
            break;
        }
        tokio::task::yield_now().await;
        let now = inbox.len();
        if now == queued {
            break;
        }
        queued = now;
    }
    let room = MAX_BATCH.saturating_sub(messages.len());
    if queued > 0 && room > 0 {
        inbox.recv_many(messages, room).await;
    }
}

async fn run(store: Store, mut inbox: mpsc::Receiver<Message>) {
    let mut messages = Vec::with_capacity(MAX_BATCH);
    let mut records = Vec::with_capacity(MAX_BATCH);
    let mut waiters: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    let mut closers = Vec::new();
    // Where this writer left the chain (PostgreSQL appends after it in one statement).
    let mut known_head = None;
    // Returns 0 only once the queue is closed (all handles gone, or `close`) and empty.
    while inbox.recv_many(&mut messages, MAX_BATCH).await > 0 {
        gather(&mut inbox, &mut messages).await;
        for message in messages.drain(..) {
            match message {
                Message::Append(record, reply) => {
                    records.push(record);
                    waiters.push(reply);
                }
                Message::Close(ack) => {
                    inbox.close();
                    closers.push(ack);
                }
            }
        }
        if records.is_empty() {
            continue;
        }
        let committed = commit_batch(&store, &mut records, &mut known_head).await;
        store.observe(&committed);
        match committed {
            Ok(first_seq) => {
                for (seq, waiter) in (first_seq..).zip(waiters.drain(..)) {
                    let _ = waiter.send(Ok(seq));
                }
            }
            Err(error) => {
                tracing::error!(%error, records = waiters.len(), "audit batch failed");
                records.clear();
                let error = Arc::new(error);
                for waiter in waiters.drain(..) {
                    let _ = waiter.send(Err(AuditError::Batch(error.clone())));
                }
            }
        }
    }
    for ack in closers {
        let _ = ack.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::{
            GENESIS_HASH, entry_hash,
            testing::{all_entries, head, sample},
            verify,
        },
        store::scratch::backend_tests,
    };

    backend_tests! {
        async fn append_assigns_consecutive_seqs_and_chains(db) {
            let writer = AuditWriter::spawn(db.store.clone());
            for n in 1..=5 {
                assert_eq!(writer.append(sample(n)).await.unwrap(), n);
            }
            writer.close().await;
            let entries = all_entries(&db.store).await;
            assert_eq!(entries.len(), 5);
            let mut prev = GENESIS_HASH.to_string();
            for (i, entry) in entries.iter().enumerate() {
                assert_eq!(entry.seq, i as i64 + 1);
                assert_eq!(entry.record, sample(entry.seq));
                assert_eq!(entry.prev_hash, prev);
                assert_eq!(entry.hash, entry_hash(&prev, entry.seq, &entry.record));
                prev = entry.hash.clone();
            }
            assert_eq!(head(&db.store).await, (5, prev));
            assert!(verify(&db.store).await.unwrap().is_ok());
        }

        async fn concurrent_appends_land_without_gaps(db) {
            let writer = AuditWriter::spawn(db.store.clone());
            let mut tasks = tokio::task::JoinSet::new();
            for task in 0..50i64 {
                let writer = writer.clone();
                tasks.spawn(async move {
                    let mut seqs = Vec::new();
                    for i in 0..40 {
                        seqs.push(writer.append(sample(task * 40 + i)).await.unwrap());
                    }
                    seqs
                });
            }
            let mut seqs: Vec<i64> = tasks.join_all().await.into_iter().flatten().collect();
            seqs.sort_unstable();
            assert_eq!(seqs, (1..=2000).collect::<Vec<_>>());
            writer.close().await;
            let report = verify(&db.store).await.unwrap();
            assert!(report.is_ok(), "{report}");
            assert_eq!(report.checked, 2000);
            assert_eq!((report.first_seq, report.last_seq), (Some(1), Some(2000)));
        }

        async fn two_replicas_keep_one_chain(db) {
            let other = Store::connect(&db.url, 4).await.unwrap();
            let a = AuditWriter::spawn(db.store.clone());
            let b = AuditWriter::spawn(other.clone());
            let mut tasks = tokio::task::JoinSet::new();
            for task in 0..16i64 {
                let writer = if task % 2 == 0 { a.clone() } else { b.clone() };
                tasks.spawn(async move {
                    for i in 0..50 {
                        writer.append(sample(task * 50 + i)).await.unwrap();
                    }
                });
            }
            tasks.join_all().await;
            a.close().await;
            b.close().await;
            let report = verify(&db.store).await.unwrap();
            assert!(report.is_ok(), "{report}");
            assert_eq!(report.checked, 800);
            other.close().await;
        }

        async fn a_writer_whose_head_moved_appends_after_the_new_one(db) {
            // Each writer remembers where it left the chain (PostgreSQL appends after
            // that in one statement); after another replica appended, the first writes
            // nothing there and chains after the real head instead.
            let other = Store::connect(&db.url, 4).await.unwrap();
            let a = AuditWriter::spawn(db.store.clone());
            let b = AuditWriter::spawn(other.clone());
            assert_eq!(a.append(sample(1)).await.unwrap(), 1);
            assert_eq!(b.append(sample(2)).await.unwrap(), 2);
            assert_eq!(a.append(sample(3)).await.unwrap(), 3);
            assert_eq!(a.append(sample(4)).await.unwrap(), 4);
            assert_eq!(b.append(sample(5)).await.unwrap(), 5);
            a.close().await;
            b.close().await;
            let entries = all_entries(&db.store).await;
            let seqs: Vec<(i64, AuditRecord)> = entries.iter().map(|e| (e.seq, e.record.clone())).collect();
            assert_eq!(seqs, (1..=5).map(|n| (n, sample(n))).collect::<Vec<_>>());
            let report = verify(&db.store).await.unwrap();
            assert!(report.is_ok(), "{report}");
            assert_eq!(head(&db.store).await, (5, entries[4].hash.clone()));
            other.close().await;
        }

        async fn close_flushes_and_refuses_more(db) {
            let writer = AuditWriter::spawn(db.store.clone());
            let clone = writer.clone();
            let pending = tokio::spawn({
                let writer = writer.clone();
                async move { writer.append(sample(1)).await }
            });
            assert_eq!(pending.await.unwrap().unwrap(), 1);
            writer.close().await;
            assert!(matches!(clone.append(sample(2)).await, Err(AuditError::Closed)));
            assert_eq!(head(&db.store).await.0, 1);
        }

        async fn failed_batch_answers_every_waiter(db) {
            // A forged row where the next seq would go makes the batch's INSERT fail.
            crate::audit::testing::insert_raw(&db.store, 1, &sample(0), GENESIS_HASH, "x").await;
            let writer = AuditWriter::spawn(db.store.clone());
            let results = futures_join(&writer, 5).await;
            assert!(results.iter().all(|r| matches!(r, Err(AuditError::Batch(_)))));
            assert_eq!(head(&db.store).await.0, 0, "nothing was committed");
            // The writer (and on SQLite its hand-opened transaction) recovers.
            crate::audit::testing::exec(&db.store, "DELETE FROM audit_log").await;
            assert_eq!(writer.append(sample(1)).await.unwrap(), 1);
            writer.close().await;
            assert!(verify(&db.store).await.unwrap().is_ok());
        }
    }

    async fn futures_join(writer: &AuditWriter, n: i64) -> Vec<Result<i64, AuditError>> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let writer = writer.clone();
            tasks.spawn(async move { writer.append(sample(i)).await });
        }
        tasks.join_all().await
    }
}

//! Group commit for alert ingest: batches that arrive while a write transaction is
//! running wait in a queue and are written together in the next one, so a storm from
//! many senders costs one commit (one fsync on SQLite) per round, not one per batch.
//!
//! Every caller still gets its own answer only after its batch is committed. When a
//! shared transaction fails, each of its batches is retried alone, so one bad batch
//! never fails its neighbours.

use std::sync::Arc;

use opsbot_alerts::AlertBatch;
use opsbot_commands::Catalog;
use tokio::sync::{mpsc, oneshot};

use super::{IngestOutcome, ingest, settings::IncidentSettings};
use crate::store::{Store, StoreError};

/// At most this many batches share a transaction…
const MAX_BATCHES_PER_COMMIT: usize = 64;
/// …and at most about this many alerts.
const MAX_ALERTS_PER_COMMIT: usize = 10_000;
/// Batches waiting for the writer; senders wait (backpressure) beyond this.
const QUEUE_DEPTH: usize = 1024;

struct Job {
    batch: AlertBatch,
    now: jiff::Timestamp,
    done: oneshot::Sender<Result<IngestOutcome, StoreError>>,
}

/// The writer's side of the queue; cloned into every [`super::Incidents`].
#[derive(Clone)]
pub(crate) struct IngestQueue {
    jobs: mpsc::Sender<Job>,
}

impl IngestQueue {
    /// Starts the writer task (on the current Tokio runtime). It ends when the last
    /// queue handle is dropped.
    pub fn spawn(store: Store, settings: Arc<IncidentSettings>, catalog: Catalog) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(write_loop(queue, store, settings, catalog));
        Self { jobs }
    }

    /// Ingests `batch` with whatever else is queued; returns once it is committed. The
    /// batch is moved, not copied (a large Alertmanager batch is held once).
    /// `Err(batch)`: the writer is gone and never saw it; a writer that stops after
    /// taking it answers "unavailable".
    pub async fn ingest_owned(
        &self,
        batch: AlertBatch,
        now: jiff::Timestamp,
    ) -> Result<Result<IngestOutcome, StoreError>, AlertBatch> {
        let (done, outcome) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(Job { batch, now, done }).await {
            return Err(job.batch);
        }
        Ok(outcome
            .await
            .unwrap_or(Err(StoreError::Query(sqlx::Error::PoolClosed))))
    }
}

async fn write_loop(
    mut queue: mpsc::Receiver<Job>,
    store: Store,
    settings: Arc<IncidentSettings>,
    catalog: Catalog,
) {
    while let Some(first) = queue.recv().await {
        let mut alerts = first.batch.alerts.len();
        let mut round = vec![first];
        while round.len() < MAX_BATCHES_PER_COMMIT && alerts < MAX_ALERTS_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => {
                    alerts += job.batch.alerts.len();
                    round.push(job);
                }
                Err(_) => break,
            }
        }
        let batches: Vec<(&AlertBatch, jiff::Timestamp)> =
            round.iter().map(|job| (&job.batch, job.now)).collect();
        let result = ingest::ingest_all(&store, &settings, &catalog, &batches).await;
        store.observe(&result);
        match result {
            Ok(outcomes) => {
                for (job, outcome) in round.into_iter().zip(outcomes) {
                    let _ = job.done.send(Ok(outcome));
                }
            }
            Err(error) if round.len() == 1 => {
                if let Some(job) = round.pop() {
                    let _ = job.done.send(Err(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, batches = round.len(), "group commit of alert batches failed; writing them one by one");
                for job in round {
                    let outcome =
                        ingest::ingest(&store, &settings, &catalog, &job.batch, job.now).await;
                    store.observe(&outcome);
                    let _ = job.done.send(outcome);
                }
            }
        }
    }
}

//! The dispatcher: one task per lane claims due messages and hands each to a delivery
//! ([`super::delivery`]) through the [`ChatSink`] of its platform; crash recovery of a
//! part another dispatcher may have posted is [`super::recovery`]. This file owns the lane
//! loop: claims, the in-flight set per channel, waking, shutdown.
//!
//! - **Claims.** A claim takes, per channel, one pending message that heads its thread
//!   (per-thread order) — on the interactive lane the oldest; on the alerts lane the
//!   oldest new root, else the oldest root edit, else the oldest reply (`repo::claim_heads`)
//!   — and leases it (`claimed_by`, `claimed_until_us`), with `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL so replicas never take the same row. A channel with a delivery in flight
//!   in this lane, by this dispatcher or any other replica (its live lease), or blocked by
//!   `Retry-After`, is not claimed for, so each channel has one delivery per lane at a
//!   time across replicas and thread order holds.
//! - **Pacing and coalescing.** A delivery first waits for its channel's pacing slot
//!   (one budget per channel between all replicas on PostgreSQL: [`super::shared_pace`]),
//!   then takes the edits and replies queued behind the head in its thread
//!   ([`super::plan`]): replies become one digest, edits collapse to the newest.
//! - **Lanes.** Interactive and Alerts each have their own task, claims and pacing budget,
//!   so command replies never wait behind alert traffic.
//! - **Idempotency.** A part is marked delivered (only if still pending) right after the
//!   chat call returns. A crash between the call and the mark, or a lease that expired
//!   during the call, leaves the part's claim lapsed: the next dispatcher asks the sink
//!   for a post carrying the part's tag before posting it again (see `sink.rs`), so on
//!   platforms whose sink keeps tags nothing is posted twice; elsewhere that one part
//!   may be posted once more. Before each call the lease must have at least a quarter
//!   left, and calls time out well within it.
//! - **Failures.** `Retry` with a `Retry-After` (a rate limit) waits that long, blocks
//!   the channel as long, and never counts towards giving up. `Retry` without one
//!   reschedules with exponential backoff and jitter; after `max_attempts` the part is
//!   parked as failed, as on `Permanent`.
//! - **Crashes.** Everything is in the store. After `kill -9` the leases run out and any
//!   dispatcher takes over; a clean shutdown releases its leases at once.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, LazyLock},
    time::Duration,
};

use opsbot_commands::Platform;
use tokio::{
    sync::{Notify, watch},
    task::JoinSet,
};

use super::{
    ChatSink, Lane, OutboxMetrics,
    delivery::deliver,
    pacing::Pacer,
    repo::{self, ClaimRequest, Stored},
};
use crate::store::Store;

/// Wakes every dispatcher of this process (new messages were committed).
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Tells the dispatchers of this process to look for new messages now instead of at
/// their next poll. Call it after committing a transaction that enqueued messages.
pub fn wake() {
    WAKE.notify_waiters();
}

/// How the dispatcher behaves; [`From<&crate::config::OutboxConfig>`] fills it from
/// `[outbox]`.
#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    /// Chat calls per second per channel (and lane); 0 disables pacing and coalescing.
    pub channel_rate: f64,
    /// Attempts before a message is parked as failed.
    pub max_attempts: u32,
    /// How long a claim is held.
    pub lease: Duration,
    /// The first retry's backoff (doubled on each attempt, up to 5 minutes, jittered).
    pub retry_base: Duration,
    /// How often an idle lane looks for due messages (besides [`wake`]).
    pub poll_interval: Duration,
    /// Deliveries in flight per lane (each on its own channel).
    pub max_in_flight: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self::from(&crate::config::OutboxConfig::default())
    }
}

impl From<&crate::config::OutboxConfig> for DispatcherConfig {
    fn from(config: &crate::config::OutboxConfig) -> Self {
        Self {
            channel_rate: config.channel_rate,
            max_attempts: config.max_attempts.max(1),
            lease: config.lease.as_duration(),
            retry_base: config.retry_base.as_duration(),
            poll_interval: config.poll_interval.as_duration(),
            max_in_flight: 32,
        }
    }
}

/// The running dispatcher's tasks.
pub struct Dispatcher {
    stop: watch::Sender<bool>,
    lanes: Vec<tokio::task::JoinHandle<()>>,
    id: String,
}

impl Dispatcher {
    /// Starts one task per lane on the current runtime, delivering the platforms of
    /// `sinks` (messages for other platforms stay queued for a replica that has them).
    pub fn spawn(
        store: Store,
        sinks: Vec<Arc<dyn ChatSink>>,
        config: DispatcherConfig,
        metrics: OutboxMetrics,
    ) -> Dispatcher {
        let id = format!("dispatcher-{}", uuid::Uuid::now_v7().simple());
        // Which process holds an outbox lease (`claimed_by`), for operators and the
        // replica benchmark.
        tracing::debug!(dispatcher = %id, pid = std::process::id(), "outbox dispatcher started");
        let (stop, stop_rx) = watch::channel(false);
        let sinks: HashMap<Platform, Arc<dyn ChatSink>> =
            sinks.into_iter().map(|s| (s.platform(), s)).collect();
        let mut platforms: Vec<&'static str> = sinks.keys().map(|p| p.as_str()).collect();
        platforms.sort_unstable();
        // Replicas share a PostgreSQL store, and with it each channel's budget; a SQLite
        // store has one process, which paces in memory.
        let pacer = Arc::new(match store.backend() {
            crate::store::Backend::Sqlite => Pacer::new(config.channel_rate),
            crate::store::Backend::Postgres => Pacer::shared(config.channel_rate, store.clone()),
        });
        let lanes = [Lane::Interactive, Lane::Alerts]
            .into_iter()
            .map(|lane| {
                let shared = Arc::new(Shared {
                    store: store.clone(),
                    sinks: sinks.clone(),
                    platforms: platforms.clone(),
                    config: config.clone(),
                    id: id.clone(),
                    pacer: pacer.clone(),
                    metrics: metrics.clone(),
                    lane,
                    stop: stop_rx.clone(),
                });
                tokio::spawn(lane_loop(shared))
            })
            .collect();
        Dispatcher { stop, lanes, id }
    }

    /// This dispatcher's lease holder name (`claimed_by`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops claiming, lets deliveries in flight finish their current chat call, and
    /// releases every lease still held.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for lane in self.lanes {
            let _ = lane.await;
        }
    }

    /// Stops at once, as a crash would: deliveries are cut wherever they are and leases
    /// are left to expire. For tests.
    pub fn abort(self) {
        for lane in &self.lanes {
            lane.abort();
        }
    }
}

/// What a lane's tasks share: the store, the sinks, the pacing budget, the stop signal.
pub(super) struct Shared {
    pub(super) store: Store,
    pub(super) sinks: HashMap<Platform, Arc<dyn ChatSink>>,
    pub(super) platforms: Vec<&'static str>,
    pub(super) config: DispatcherConfig,
    pub(super) id: String,
    /// One per dispatcher, shared by its lanes: a channel's budget is the platform's,
    /// whichever lane spends it; command replies go first.
    pub(super) pacer: Arc<Pacer>,
    pub(super) metrics: OutboxMetrics,
    pub(super) lane: Lane,
    pub(super) stop: watch::Receiver<bool>,
}

impl Shared {
    pub(super) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    pub(super) fn lease_until_us(&self) -> i64 {
        now_us().saturating_add(micros(self.config.lease))
    }

    /// The longest a chat call may take: well within the lease.
    pub(super) fn call_timeout(&self) -> Duration {
        (self.config.lease / 4).max(Duration::from_millis(100))
    }
}

pub(super) fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

pub(super) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

async fn lane_loop(shared: Arc<Shared>) {
    let mut in_flight: JoinSet<()> = JoinSet::new();
    // Channel of each delivery in flight, by task id.
    let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut stop = shared.stop.clone();
    loop {
        if shared.stopping() {
            break;
        }
        let room = shared.config.max_in_flight.saturating_sub(in_flight.len());
        let mut wait = shared.config.poll_interval;
        if room > 0 {
            match next_batch(&shared, &busy, room).await {
                Ok((heads, next_due_in)) => {
                    wait = wait.min(next_due_in);
                    let full = heads.len() == room;
                    for head in heads {
                        let key = head.channel_key();
                        let handle = in_flight.spawn(deliver(shared.clone(), head));
                        busy.insert(handle.id(), key);
                    }
                    if full {
                        wait = Duration::ZERO;
                    }
                }
                Err(error) => {
                    // The loop keeps polling: once the store takes writes again, the
                    // next claim goes through (its connection is a fresh one).
                    shared.store.health().write_failed(&error);
                    tracing::warn!(%error, lane = ?shared.lane, "outbox claim failed; will retry");
                }
            }
        }
        let notified = WAKE.notified();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = notified => {}
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => {
                        if error.is_panic() {
                            tracing::error!(%error, "outbox delivery task panicked");
                        }
                        error.id()
                    }
                };
                busy.remove(&id);
            }
            _ = stop.changed() => {}
        }
    }
    while in_flight.join_next().await.is_some() {}
}

/// Claims due heads for channels without a delivery in flight; also says how soon the
/// next message of the lane becomes due.
async fn next_batch(
    shared: &Shared,
    busy: &HashMap<tokio::task::Id, String>,
    room: usize,
) -> Result<(Vec<Stored>, Duration), crate::store::StoreError> {
    let (pending, next_due) = repo::backlog(&shared.store, shared.lane).await?;
    shared.metrics.backlog(shared.lane, pending);
    let now = now_us();
    let Some(next_due) = next_due else {
        return Ok((Vec::new(), shared.config.poll_interval));
    };
    if next_due > now {
        let micros = u64::try_from(next_due - now).unwrap_or(0);
        return Ok((Vec::new(), Duration::from_micros(micros)));
    }
    let mut exclude: HashSet<String> = busy.values().cloned().collect();
    exclude.extend(shared.pacer.blocked_keys());
    let exclude: Vec<String> = exclude.into_iter().collect();
    let (heads, unreadable) = repo::claim_heads(
        &shared.store,
        &ClaimRequest {
            lane: shared.lane,
            dispatcher: &shared.id,
            lease_until_us: shared.lease_until_us(),
            platforms: &shared.platforms,
            exclude: &exclude,
            limit: room,
        },
    )
    .await?;
    park_unreadable(shared, unreadable).await;
    Ok((heads, shared.config.poll_interval))
}

pub(super) async fn park_unreadable(shared: &Shared, unreadable: Vec<repo::Unreadable>) {
    for (id, error) in unreadable {
        tracing::error!(id, %error, "outbox message cannot be read; parked as failed");
        if repo::mark_failed(&shared.store, &[id], &error)
            .await
            .is_ok()
        {
            shared.metrics.failed(shared.lane, 1);
        }
    }
}

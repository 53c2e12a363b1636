//! The dispatcher: one task per lane claims due messages and delivers them through the
//! [`ChatSink`] of their platform.
//!
//! - **Claims.** A claim takes, per channel, the oldest pending message that heads its
//!   thread (per-thread order), and leases it (`claimed_by`, `claimed_until_us`), with
//!   `FOR UPDATE SKIP LOCKED` on PostgreSQL so replicas never take the same row. A channel
//!   with a delivery in flight (or blocked by `Retry-After`) is not claimed for, so each
//!   channel has one delivery at a time and thread order holds.
//! - **Pacing and coalescing.** A delivery first waits for its channel's pacing slot,
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
    ChatSink, DeliveryError, Lane, MessageRef, OutboxMetrics,
    pacing::Pacer,
    plan::{MAX_DIGEST, Part, PartKind, plan},
    repo::{self, ClaimRequest, NewRoot, Stored},
};
use crate::store::Store;

/// Wakes every dispatcher of this process (new messages were committed).
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Tells the dispatchers of this process to look for new messages now instead of at
/// their next poll. Call it after committing a transaction that enqueued messages.
pub fn wake() {
    WAKE.notify_waiters();
}

/// How long an interactive reply waits before looking again for a root post still
/// queued in the alerts lane.
const ROOT_WAIT: Duration = Duration::from_millis(250);
/// Backoff ceiling.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

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
        let (stop, stop_rx) = watch::channel(false);
        let sinks: HashMap<Platform, Arc<dyn ChatSink>> =
            sinks.into_iter().map(|s| (s.platform(), s)).collect();
        let mut platforms: Vec<&'static str> = sinks.keys().map(|p| p.as_str()).collect();
        platforms.sort_unstable();
        let pacer = Arc::new(Pacer::new(config.channel_rate));
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

struct Shared {
    store: Store,
    sinks: HashMap<Platform, Arc<dyn ChatSink>>,
    platforms: Vec<&'static str>,
    config: DispatcherConfig,
    id: String,
    /// One per dispatcher, shared by its lanes: a channel's budget is the platform's,
    /// whichever lane spends it; command replies go first.
    pacer: Arc<Pacer>,
    metrics: OutboxMetrics,
    lane: Lane,
    stop: watch::Receiver<bool>,
}

impl Shared {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn lease_until_us(&self) -> i64 {
        now_us().saturating_add(micros(self.config.lease))
    }

    /// The longest a chat call may take: well within the lease.
    fn call_timeout(&self) -> Duration {
        (self.config.lease / 4).max(Duration::from_millis(100))
    }
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn micros(duration: Duration) -> i64 {
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

async fn park_unreadable(shared: &Shared, unreadable: Vec<repo::Unreadable>) {
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

/// How one part went.
enum Outcome {
    Delivered,
    /// Try again later (already rescheduled); stop this delivery.
    Later,
    /// Parked as failed; go on with the next part.
    Failed,
}

/// Delivers one claimed head and what may go with it, part by part.
async fn deliver(shared: Arc<Shared>, head: Stored) {
    let started = tokio::time::Instant::now();
    let key = head.channel_key();
    // Wait for the channel's slot first, so what queued meanwhile joins the digest.
    if !paced(&shared, head.platform, &head.channel, &key).await {
        let _ = repo::release(&shared.store, &[head.id], &shared.id).await;
        return;
    }
    let followers = if shared.pacer.is_paced()
        && head.thread_key.is_some()
        && head.operation != super::Operation::Post
    {
        match repo::claim_followers(
            &shared.store,
            &head,
            &shared.id,
            shared.lease_until_us(),
            MAX_DIGEST * 4,
        )
        .await
        {
            Ok((followers, unreadable)) => {
                park_unreadable(&shared, unreadable).await;
                followers
            }
            Err(error) => {
                tracing::warn!(%error, "reading the thread behind an outbox message failed");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let context = Context {
        platform: head.platform,
        channel: head.channel.clone(),
        thread_key: head.thread_key.clone(),
    };
    let (parts, left) = plan(head, followers);
    if let Err(error) = repo::release(&shared.store, &left, &shared.id).await {
        tracing::warn!(%error, "releasing outbox messages failed; their lease will expire");
    }
    let mut remaining: Vec<i64> = parts.iter().flat_map(|p| p.ids.iter().copied()).collect();
    for (index, part) in parts.into_iter().enumerate() {
        if index > 0 && !paced(&shared, context.platform, &context.channel, &key).await {
            break;
        }
        // Keep well inside the lease, or another replica may deliver this part too.
        if started.elapsed() + shared.call_timeout() > shared.config.lease * 3 / 4 {
            tracing::warn!(lane = ?shared.lane, "outbox lease running out; leaving the rest");
            break;
        }
        remaining.retain(|id| !part.ids.contains(id));
        match deliver_part(&shared, &context, part).await {
            Outcome::Delivered | Outcome::Failed => {}
            Outcome::Later => break,
        }
    }
    if let Err(error) = repo::release(&shared.store, &remaining, &shared.id).await {
        tracing::warn!(%error, "releasing outbox messages failed; their lease will expire");
    }
}

/// The thread root to remember when a part of `kind` was posted: a root post, or an
/// edit whose root never made it (posted as a new root), in a thread without one.
fn new_root<'c>(
    context: &'c Context,
    kind: PartKind,
    root: Option<&MessageRef>,
) -> Option<NewRoot<'c>> {
    match (kind, root, &context.thread_key) {
        (PartKind::PostRoot | PartKind::EditRoot, None, Some(thread)) => Some(NewRoot {
            platform: context.platform,
            thread_key: thread,
            channel: &context.channel,
        }),
        _ => None,
    }
}

/// How the dispatcher tags its posts: `opsbot-outbox:FIRST-LAST` (outbox ids).
pub(crate) const TAG_PREFIX: &str = "opsbot-outbox:";

/// Asks the sink whether a dispatcher that died had posted the part starting at outbox
/// id `first`: the message and the last outbox id it covered.
async fn find_earlier_post(
    shared: &Shared,
    sink: &dyn ChatSink,
    channel: &str,
    thread: Option<&MessageRef>,
    first: i64,
) -> Result<Option<(MessageRef, i64)>, DeliveryError> {
    let prefix = format!("{TAG_PREFIX}{first}-");
    let timeout = shared.call_timeout();
    let found =
        match tokio::time::timeout(timeout, sink.find_tagged(channel, thread, &prefix)).await {
            Ok(found) => found?,
            Err(_) => {
                return Err(DeliveryError::Retry {
                    reason: "no answer to the lookup".into(),
                    retry_after: None,
                });
            }
        };
    Ok(found.and_then(|(message_ref, tag)| {
        let covered = tag.strip_prefix(&prefix)?.parse::<i64>().ok()?;
        Some((message_ref, covered))
    }))
}

/// The part (up to outbox id `covered`) was posted before a crash as `message_ref`:
/// record it delivered without posting again; what it did not cover waits for the next
/// round.
async fn recovered(
    shared: &Shared,
    context: &Context,
    part: &Part,
    root: Option<&MessageRef>,
    message_ref: MessageRef,
    covered: i64,
) -> Outcome {
    let (done, rest): (Vec<i64>, Vec<i64>) = part.ids.iter().partition(|id| **id <= covered);
    let new_root = new_root(context, part.kind, root);
    tracing::info!(ids = ?done, message = %message_ref.0, "found the post of a dispatcher that died; not posting again");
    if let Err(error) = repo::mark_delivered(&shared.store, &done, &message_ref, new_root).await {
        let _ = repo::release(&shared.store, &part.ids, &shared.id).await;
        tracing::warn!(%error, "recording a recovered post failed; will retry");
        return Outcome::Later;
    }
    shared.metrics.recovered(done.len());
    shared.metrics.delivered(shared.lane, done.len());
    let _ = repo::release(&shared.store, &rest, &shared.id).await;
    if rest.is_empty() {
        Outcome::Delivered
    } else {
        Outcome::Later
    }
}

/// Waits for the channel's pacing slot (platforms without rate limits, and destinations
/// their sink does not pace, have none); false when the dispatcher is stopping.
async fn paced(shared: &Shared, platform: Platform, channel: &str, key: &str) -> bool {
    if shared.stopping() {
        return false;
    }
    if !shared
        .sinks
        .get(&platform)
        .is_some_and(|s| s.paces(channel))
    {
        return true;
    }
    let mut stop = shared.stop.clone();
    tokio::select! {
        () = shared.pacer.acquire(key, shared.lane) => !shared.stopping(),
        _ = stop.wait_for(|s| *s) => false,
    }
}

struct Context {
    platform: Platform,
    channel: String,
    thread_key: Option<String>,
}

async fn deliver_part(shared: &Shared, context: &Context, part: Part) -> Outcome {
    let Some(sink) = shared.sinks.get(&context.platform) else {
        // Claims only cover our platforms; keep it for whoever has this one.
        let _ = repo::release(&shared.store, &part.ids, &shared.id).await;
        return Outcome::Later;
    };
    let channel = context.channel.as_str();
    let root = match (&context.thread_key, part.kind) {
        (Some(thread), PartKind::EditRoot | PartKind::Replies) => {
            match repo::thread_root(&shared.store, context.platform, thread).await {
                Ok(Some(root)) => Some(root),
                Ok(None) => match repo::root_pending(&shared.store, context.platform, thread).await
                {
                    // The root is still queued (in the other lane): wait for it.
                    Ok(true) => {
                        return later(
                            shared,
                            &part,
                            ROOT_WAIT,
                            "waiting for the thread's root",
                            false,
                        )
                        .await;
                    }
                    Ok(false) => None,
                    Err(error) => return store_trouble(shared, &part, error).await,
                },
                Err(error) => return store_trouble(shared, &part, error).await,
            }
        }
        _ => None,
    };
    let timeout = shared.call_timeout();
    let first = part.ids.first().copied().unwrap_or_default();
    let last = part.ids.iter().copied().max().unwrap_or_default();
    let tag = format!("{TAG_PREFIX}{first}-{last}");
    let posts = !matches!((part.kind, &root), (PartKind::EditRoot, Some(_)));
    let post_thread = match part.kind {
        PartKind::Replies => root.as_ref(),
        _ => None,
    };
    if posts && part.uncertain {
        match find_earlier_post(shared, sink.as_ref(), channel, post_thread, first).await {
            Ok(Some((message_ref, covered))) => {
                return recovered(shared, context, &part, root.as_ref(), message_ref, covered)
                    .await;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "could not look for an earlier post; posting again");
            }
        }
    }
    let call = async {
        match (part.kind, &root) {
            (PartKind::EditRoot, Some(root)) => sink
                .edit(channel, root, &part.reply)
                .await
                .map(|()| root.clone()),
            // A root post, an edit whose root never made it (a new root), replies (in
            // the root's thread, or in the channel without one), a standalone post.
            _ => {
                sink.post_tagged(channel, post_thread, &part.reply, &tag)
                    .await
            }
        }
    };
    let result = match tokio::time::timeout(timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(DeliveryError::Retry {
            reason: format!("no answer within {}", humantime::format_duration(timeout)),
            retry_after: None,
        }),
    };
    match result {
        Ok(message_ref) => {
            let new_root = new_root(context, part.kind, root.as_ref());
            match repo::mark_delivered(&shared.store, &part.ids, &message_ref, new_root).await {
                Ok(marked) => {
                    if (marked as usize) < part.ids.len() {
                        tracing::warn!(
                            ids = ?part.ids, marked,
                            "outbox message was delivered by another dispatcher too (lease expired)"
                        );
                    }
                    shared.metrics.delivered(shared.lane, part.ids.len());
                    if part.merged > 1 {
                        shared.metrics.digest();
                    }
                    Outcome::Delivered
                }
                Err(error) => {
                    // Posted but not marked: the lease runs out and it is posted again.
                    tracing::error!(%error, ids = ?part.ids, "could not mark outbox messages delivered");
                    Outcome::Later
                }
            }
        }
        Err(DeliveryError::Permanent(reason)) => {
            shared.metrics.chat_api_error(context.platform, true);
            fail(shared, &part, &reason).await
        }
        Err(DeliveryError::Retry {
            reason,
            retry_after,
        }) => {
            shared.metrics.chat_api_error(context.platform, false);
            // A rate limit (an answer with `Retry-After`) is the platform pacing us, not
            // a failure: it never counts towards giving up, so a storm drops nothing.
            if retry_after.is_some() {
                let wait = retry_after.unwrap_or_default();
                shared
                    .pacer
                    .block(&repo::channel_key(context.platform, channel), wait);
                shared.metrics.retried(shared.lane);
                return later(shared, &part, wait, &reason, false).await;
            }
            if part.attempts + 1 >= shared.config.max_attempts {
                let error = format!("gave up after {} attempts: {reason}", part.attempts + 1);
                return fail(shared, &part, &error).await;
            }
            let wait = backoff(shared.config.retry_base, part.attempts);
            shared.metrics.retried(shared.lane);
            later(shared, &part, wait, &reason, true).await
        }
    }
}

async fn fail(shared: &Shared, part: &Part, reason: &str) -> Outcome {
    tracing::warn!(ids = ?part.ids, %reason, "outbox message failed permanently");
    match repo::mark_failed(&shared.store, &part.ids, reason).await {
        Ok(_) => shared.metrics.failed(shared.lane, part.ids.len()),
        Err(error) => tracing::error!(%error, "could not park outbox messages as failed"),
    }
    Outcome::Failed
}

async fn later(shared: &Shared, part: &Part, wait: Duration, reason: &str, count: bool) -> Outcome {
    let at = now_us().saturating_add(micros(wait));
    if let Err(error) = repo::schedule_retry(&shared.store, part.ids[0], at, reason, count).await {
        tracing::warn!(%error, "could not reschedule an outbox message; its lease will expire");
    }
    let _ = repo::release(&shared.store, &part.ids, &shared.id).await;
    Outcome::Later
}

async fn store_trouble(shared: &Shared, part: &Part, error: crate::store::StoreError) -> Outcome {
    tracing::warn!(%error, "outbox store query failed; will retry");
    let _ = repo::release(&shared.store, &part.ids, &shared.id).await;
    Outcome::Later
}

/// `base · 2^attempts`, at most five minutes, with full jitter over its upper half.
pub(crate) fn backoff(base: Duration, attempts: u32) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX));
    let capped = exp.min(MAX_BACKOFF);
    capped.mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let base = Duration::from_secs(1);
        for attempts in 0..6 {
            let d = backoff(base, attempts);
            let full = base * 2u32.pow(attempts);
            assert!(d >= full / 2 && d <= full, "{attempts}: {d:?}");
        }
        assert!(backoff(base, 40) <= MAX_BACKOFF);
    }
}

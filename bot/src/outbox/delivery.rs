//! Delivering one claimed message and what queued behind it in its thread: wait for the
//! channel's pacing slot, plan the parts ([`super::plan`]: digests, collapsed edits; on
//! the alerts lane a root or root edit goes alone, its replies come later), make
//! each chat call within the lease, then mark it delivered, reschedule it (backoff,
//! `Retry-After`) or park it as failed. A part that may already have been posted by a
//! dispatcher that died goes through [`super::recovery`] first.

use std::{sync::Arc, time::Duration};

use opsbot_commands::Platform;

use super::{
    DeliveryError, MessageRef,
    dispatcher::{Shared, micros, now_us, park_unreadable},
    plan::{MAX_DIGEST, Part, PartKind, plan, root_only},
    recovery::{TAG_PREFIX, find_earlier_post, recovered, unanswered},
    repo::{self, NewRoot, Stored},
};

/// How long an interactive reply waits before looking again for a root post still
/// queued in the alerts lane.
const ROOT_WAIT: Duration = Duration::from_millis(250);
/// Backoff ceiling.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How one part went.
pub(super) enum Outcome {
    Delivered,
    /// Try again later (already rescheduled); stop this delivery.
    Later,
    /// Parked as failed; go on with the next part.
    Failed,
}

/// Delivers one claimed head and what may go with it, part by part.
pub(super) async fn deliver(shared: Arc<Shared>, head: Stored) {
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
                retry_as_before(&shared, &head, followers).await
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
        parent_thread_key: match &head.operation {
            super::Operation::PostRootInThread { parent_thread_key } => {
                Some(parent_thread_key.clone())
            }
            _ => None,
        },
    };
    let (mut parts, mut left) = plan(head, followers);
    if shared.lane == super::Lane::Alerts {
        left.extend(root_only(&mut parts));
    }
    if let Err(error) = repo::release(&shared.store, &left, &shared.id).await {
        tracing::warn!(%error, "releasing outbox messages failed; their lease will expire");
    }
    let mut remaining: Vec<i64> = parts.iter().flat_map(|p| p.ids.iter().copied()).collect();
    // A slot taken is handed back (its call answered, or not made) before the next.
    let mut slot_taken = true;
    for (index, part) in parts.into_iter().enumerate() {
        if index > 0 {
            if !paced(&shared, context.platform, &context.channel, &key).await {
                break;
            }
            slot_taken = true;
        }
        // Keep well inside the lease, or another replica may deliver this part too.
        if started.elapsed() + shared.call_timeout() > shared.config.lease * 3 / 4 {
            tracing::warn!(lane = ?shared.lane, "outbox lease running out; leaving the rest");
            break;
        }
        remaining.retain(|id| !part.ids.contains(id));
        let outcome = deliver_part(&shared, &context, part).await;
        answered(&shared, context.platform, &context.channel, &key).await;
        slot_taken = false;
        match outcome {
            Outcome::Delivered | Outcome::Failed => {}
            Outcome::Later => break,
        }
    }
    if slot_taken {
        answered(&shared, context.platform, &context.channel, &key).await;
    }
    if let Err(error) = repo::release(&shared.store, &remaining, &shared.id).await {
        tracing::warn!(%error, "releasing outbox messages failed; their lease will expire");
    }
}

/// A head whose earlier attempt may have gone through is delivered again with what that
/// attempt covered: the followers claimed with it then (still marked `claim_lost`), not
/// the ones queued or released since; those are released for the next round (they all
/// come after the head, whose part goes first either way). So the part is planned as
/// before and carries the same tag, which is what a platform that recognises a repeated
/// post by its tag alone (a Discord nonce) needs.
async fn retry_as_before(shared: &Shared, head: &Stored, followers: Vec<Stored>) -> Vec<Stored> {
    if !head.claim_lost {
        return followers;
    }
    let (before, since): (Vec<Stored>, Vec<Stored>) =
        followers.into_iter().partition(|m| m.claim_lost);
    let later: Vec<i64> = since.iter().map(|m| m.id).collect();
    if let Err(error) = repo::release(&shared.store, &later, &shared.id).await {
        tracing::warn!(%error, "releasing outbox messages failed; their lease will expire");
    }
    before
}

/// The thread root to remember when a part of `kind` was posted: a root post, or an
/// edit whose root never made it (posted as a new root), in a thread without one.
pub(super) fn new_root<'c>(
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

/// Waits for the channel's pacing slot (platforms without rate limits, and destinations
/// their sink does not pace, have none); false when the dispatcher is stopping.
async fn paced(shared: &Shared, platform: Platform, channel: &str, key: &str) -> bool {
    if shared.stopping() {
        return false;
    }
    if !sink_paces(shared, platform, channel) {
        return true;
    }
    let mut stop = shared.stop.clone();
    tokio::select! {
        () = shared.pacer.acquire(key, shared.lane) => !shared.stopping(),
        _ = stop.wait_for(|s| *s) => false,
    }
}

/// Tells the pacer the call let go after [`paced`] was answered (or never made): with a
/// budget shared between replicas the channel's next call goes a period after this.
async fn answered(shared: &Shared, platform: Platform, channel: &str, key: &str) {
    if sink_paces(shared, platform, channel) {
        shared.pacer.answered(key).await;
    }
}

/// Whether calls to `channel` on `platform` are paced (platforms without rate limits,
/// and destinations their sink does not pace, are not).
fn sink_paces(shared: &Shared, platform: Platform, channel: &str) -> bool {
    shared
        .sinks
        .get(&platform)
        .is_some_and(|s| s.paces(channel))
}

/// Where a delivery's parts go.
pub(super) struct Context {
    pub(super) platform: Platform,
    pub(super) channel: String,
    pub(super) thread_key: Option<String>,
    /// The thread a root post goes into (`Operation::PostRootInThread`).
    pub(super) parent_thread_key: Option<String>,
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
    // A root posted inside another thread: that thread's root, once it is posted.
    let parent = match (&context.parent_thread_key, part.kind) {
        (Some(parent), PartKind::PostRoot) => {
            match repo::thread_root(&shared.store, context.platform, parent).await {
                Ok(Some(parent_root)) => Some(parent_root),
                Ok(None) => match repo::root_pending(&shared.store, context.platform, parent).await
                {
                    Ok(true) => {
                        return later(
                            shared,
                            &part,
                            ROOT_WAIT,
                            "waiting for the parent thread's root",
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
        PartKind::PostRoot => parent.as_ref(),
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
        // The platform may have taken the call: the next attempt looks first.
        Err(_) if posts => {
            let reason = format!("no answer within {}", humantime::format_duration(timeout));
            return unanswered(
                shared,
                &part,
                backoff(shared.config.retry_base, part.attempts),
                &reason,
            )
            .await;
        }
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
                    .block(&repo::channel_key(context.platform, channel), wait)
                    .await;
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

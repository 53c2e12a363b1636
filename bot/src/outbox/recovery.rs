//! Crash recovery for one part: a dispatcher that died between its chat call and marking
//! the part delivered leaves the claim lapsed and the part `uncertain`; so does a call
//! that got no answer in time ([`unanswered`]: the platform may have taken it). Before
//! posting it again, the delivery asks the sink for a post carrying the part's tag
//! (`opsbot-outbox:FIRST-LAST`) and, when found, records it delivered instead; it posts
//! again with the same tag and the same messages (see `delivery.rs`), so a platform that
//! recognises a repeat by its tag (a Discord nonce) answers the first post.
//!
//! What each platform keeps, and what it cannot: `slack/sink.rs` and `discord/sink.rs`.

use super::{
    ChatSink, DeliveryError, MessageRef,
    delivery::{Context, Outcome, new_root},
    dispatcher::Shared,
    plan::Part,
    repo,
};

/// How the dispatcher tags its posts: `opsbot-outbox:FIRST-LAST` (outbox ids).
pub(crate) const TAG_PREFIX: &str = "opsbot-outbox:";

/// Asks the sink whether a dispatcher that died had posted the part starting at outbox
/// id `first`: the message and the last outbox id it covered.
pub(super) async fn find_earlier_post(
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
pub(super) async fn recovered(
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

/// A post got no answer within the call timeout: it may have gone through. The part is
/// retried after `wait` as if its dispatcher had died in the call: its messages are left
/// marked as claimed by nobody alive (`claim_lost` on the next claim), so the next
/// attempt looks for the post first and repeats it with the same tag.
pub(super) async fn unanswered(
    shared: &Shared,
    part: &Part,
    wait: std::time::Duration,
    reason: &str,
) -> Outcome {
    shared.metrics.retried(shared.lane);
    if part.attempts + 1 >= shared.config.max_attempts {
        tracing::warn!(ids = ?part.ids, %reason, "outbox message failed permanently");
        let error = format!("gave up after {} attempts: {reason}", part.attempts + 1);
        match repo::mark_failed(&shared.store, &part.ids, &error).await {
            Ok(_) => shared.metrics.failed(shared.lane, part.ids.len()),
            Err(error) => tracing::error!(%error, "could not park outbox messages as failed"),
        }
        return Outcome::Failed;
    }
    let at = super::dispatcher::now_us().saturating_add(super::dispatcher::micros(wait));
    if let Err(error) =
        repo::schedule_unanswered(&shared.store, &part.ids, at, reason, &shared.id).await
    {
        tracing::warn!(%error, "could not mark an unanswered post; its lease will expire");
    }
    Outcome::Later
}

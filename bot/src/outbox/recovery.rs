//! Crash recovery for one part: a dispatcher that died between its chat call and marking
//! the part delivered leaves the claim lapsed and the part `uncertain`. Before posting it
//! again, the delivery asks the sink for a post carrying the part's tag
//! (`opsbot-outbox:FIRST-LAST`) and, when found, records it delivered instead.

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

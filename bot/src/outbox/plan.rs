//! What one delivery does with a thread's head and the messages queued behind it: a
//! root post absorbs the root edits queued after it (it is posted with the newest
//! content), consecutive root edits collapse to the newest, and replies become one
//! digest ("N updates") when there are several. Parts are delivered root first, then the
//! root's edit, then the replies; each part is one chat call, marked delivered on its own.
//!
//! A root edit only sets the root's content, so an edit queued after a reply is applied
//! before that reply is posted: the root shows its newest content one call sooner (what
//! a channel in a storm needs first), and replies keep their order.

use opsbot_commands::{Button, Reply, Status};

use super::{Operation, repo::Stored};

/// The most replies merged into one digest.
pub(crate) const MAX_DIGEST: usize = 50;
/// The most buttons a digest keeps (the newest ones).
const MAX_DIGEST_BUTTONS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PartKind {
    PostRoot,
    EditRoot,
    Replies,
    Post,
}

/// One chat call and the messages it delivers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Part {
    pub kind: PartKind,
    /// Oldest first; `ids[0]` carries the retry schedule if the call must be retried.
    pub ids: Vec<i64>,
    /// Attempts so far of `ids[0]`.
    pub attempts: u32,
    pub reply: Reply,
    /// How many replies were merged (1 when not a digest).
    pub merged: usize,
    /// A message of this part may have been delivered by a dispatcher that died.
    pub uncertain: bool,
}

/// Splits `head` and `followers` (oldest first) into parts; returns the parts and the ids
/// of followers left for a later delivery.
pub(crate) fn plan(head: Stored, followers: Vec<Stored>) -> (Vec<Part>, Vec<i64>) {
    let mut root: Option<Part> = None;
    let mut edit: Option<Part> = None;
    let mut replies: Vec<Stored> = Vec::new();
    let mut order: Vec<PartKind> = Vec::new();
    let mut left = Vec::new();
    if head.operation == Operation::Post {
        let part = single(PartKind::Post, head);
        left.extend(followers.into_iter().map(|m| m.id));
        return (vec![part], left);
    }
    let mut messages = std::iter::once(head).chain(followers);
    for message in messages.by_ref() {
        match message.operation {
            Operation::PostRoot | Operation::PostRootInThread { .. }
                if root.is_none() && order.is_empty() =>
            {
                order.push(PartKind::PostRoot);
                root = Some(single(PartKind::PostRoot, message));
            }
            Operation::EditRoot => {
                // A root posted by this delivery is posted with the newest content.
                let target = if root.is_some() { &mut root } else { &mut edit };
                match target {
                    Some(part) => {
                        part.ids.push(message.id);
                        part.uncertain |= message.claim_lost;
                        part.reply = message.reply;
                    }
                    None => {
                        order.push(PartKind::EditRoot);
                        *target = Some(single(PartKind::EditRoot, message));
                    }
                }
            }
            Operation::Reply if replies.len() < MAX_DIGEST => {
                if replies.is_empty() {
                    order.push(PartKind::Replies);
                }
                replies.push(message);
            }
            // A full digest: the rest of the replies wait for the next one, but the
            // root's newer edits still come along (a root shows its newest content
            // however many replies queued before it).
            Operation::Reply => left.push(message.id),
            // A second root or a standalone post: stop here, in order.
            _ => {
                left.push(message.id);
                break;
            }
        }
    }
    left.extend(messages.map(|m| m.id));
    // The root's edit goes before the replies queued with it (see the top of the file).
    if let (Some(edit_at), Some(replies_at)) = (
        order.iter().position(|k| *k == PartKind::EditRoot),
        order.iter().position(|k| *k == PartKind::Replies),
    ) && replies_at < edit_at
    {
        order.swap(edit_at, replies_at);
    }
    let mut replies_part = (!replies.is_empty()).then(|| {
        let attempts = replies[0].attempts;
        let ids = replies.iter().map(|m| m.id).collect();
        let merged = replies.len();
        let uncertain = replies.iter().any(|m| m.claim_lost);
        let reply = if merged == 1 {
            replies.pop().map(|m| m.reply).unwrap_or_default()
        } else {
            digest(replies.iter().map(|m| &m.reply))
        };
        Part {
            kind: PartKind::Replies,
            ids,
            attempts,
            reply,
            merged,
            uncertain,
        }
    });
    let parts = order
        .into_iter()
        .filter_map(|kind| match kind {
            PartKind::PostRoot => root.take(),
            PartKind::EditRoot => edit.take(),
            PartKind::Replies => replies_part.take(),
            PartKind::Post => None,
        })
        .collect();
    (parts, left)
}

/// On the alerts lane a delivery that posts or edits a root stops there: the replies
/// planned after it are taken out of `parts` and returned, to be released and delivered
/// once the channel has no root or root edit waiting (`repo::claim_heads` ranks them
/// last), as a bigger digest by then.
pub(crate) fn root_only(parts: &mut Vec<Part>) -> Vec<i64> {
    if !parts
        .first()
        .is_some_and(|p| matches!(p.kind, PartKind::PostRoot | PartKind::EditRoot))
    {
        return Vec::new();
    }
    let (keep, later): (Vec<Part>, Vec<Part>) = std::mem::take(parts)
        .into_iter()
        .partition(|p| p.kind != PartKind::Replies);
    *parts = keep;
    later.into_iter().flat_map(|p| p.ids).collect()
}

fn single(kind: PartKind, message: Stored) -> Part {
    Part {
        kind,
        ids: vec![message.id],
        attempts: message.attempts,
        reply: message.reply,
        merged: 1,
        uncertain: message.claim_lost,
    }
}

fn severity(status: Status) -> u8 {
    match status {
        Status::Info => 0,
        Status::Success => 1,
        Status::Warning => 2,
        Status::Danger => 3,
    }
}

/// One reply standing for several: titled "N updates", the worst status, each reply's
/// title (with its status emoji) followed by its lines, and the newest distinct buttons.
pub(crate) fn digest<'a>(replies: impl IntoIterator<Item = &'a Reply>) -> Reply {
    let mut out = Reply::default();
    let mut count = 0;
    let mut buttons: Vec<Button> = Vec::new();
    for reply in replies {
        count += 1;
        if severity(reply.status) > severity(out.status) {
            out.status = reply.status;
        }
        if !reply.title.is_empty() {
            out.lines
                .push(format!("{} {}", reply.status.emoji(), reply.title));
        }
        out.lines.extend(reply.lines.iter().cloned());
        for button in &reply.buttons {
            buttons.retain(|b| b.command != button.command);
            buttons.push(button.clone());
        }
    }
    let skip = buttons.len().saturating_sub(MAX_DIGEST_BUTTONS);
    out.buttons = buttons.into_iter().skip(skip).collect();
    out.title = format!("{count} updates");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Lane;
    use opsbot_commands::Platform;

    fn msg(id: i64, operation: Operation, title: &str) -> Stored {
        Stored {
            id,
            platform: Platform::Console,
            channel: "ops".into(),
            thread_key: Some("incident:1".into()),
            operation,
            lane: Lane::Alerts,
            reply: Reply::info(title),
            attempts: 0,
            claim_lost: false,
        }
    }

    #[test]
    fn root_absorbs_later_edits_and_replies_merge() {
        let (parts, left) = plan(
            msg(1, Operation::PostRoot, "root v1"),
            vec![
                msg(2, Operation::Reply, "fired"),
                msg(3, Operation::EditRoot, "root v2"),
                msg(4, Operation::Reply, "acked"),
                msg(5, Operation::EditRoot, "root v3"),
            ],
        );
        assert!(left.is_empty());
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].kind, PartKind::PostRoot);
        assert_eq!(parts[0].ids, [1, 3, 5]);
        assert_eq!(parts[0].reply.title, "root v3");
        assert_eq!(parts[1].kind, PartKind::Replies);
        assert_eq!(parts[1].ids, [2, 4]);
        assert_eq!(parts[1].reply.title, "2 updates");
        assert_eq!(parts[1].reply.lines, ["ℹ️ fired", "ℹ️ acked"]);
    }

    #[test]
    fn root_only_leaves_the_replies_for_later() {
        let (mut parts, _) = plan(
            msg(1, Operation::PostRoot, "root"),
            vec![
                msg(2, Operation::Reply, "fired"),
                msg(3, Operation::Reply, "acked"),
            ],
        );
        assert_eq!(root_only(&mut parts), [2, 3]);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].kind, PartKind::PostRoot);
        let (mut parts, _) = plan(
            msg(4, Operation::Reply, "fired"),
            vec![msg(5, Operation::EditRoot, "v2")],
        );
        assert_eq!(root_only(&mut parts), [4]);
        assert_eq!(parts[0].kind, PartKind::EditRoot);
        // Replies alone are what is left to deliver: kept.
        let (mut parts, _) = plan(msg(6, Operation::Reply, "fired"), Vec::new());
        assert!(root_only(&mut parts).is_empty());
        assert_eq!(parts.len(), 1);
    }

    #[test]
    fn edits_collapse_and_a_single_reply_stays_itself() {
        let (parts, left) = plan(
            msg(7, Operation::Reply, "one"),
            vec![
                msg(8, Operation::EditRoot, "e1"),
                msg(9, Operation::EditRoot, "e2"),
            ],
        );
        assert!(left.is_empty());
        // The root's newest content first, then the reply queued before the edits.
        assert_eq!(
            (parts[0].kind, parts[0].ids.clone()),
            (PartKind::EditRoot, vec![8, 9])
        );
        assert_eq!(parts[0].reply.title, "e2");
        assert_eq!(parts[1].kind, PartKind::Replies);
        assert_eq!(parts[1].reply, Reply::info("one"));
    }

    #[test]
    fn digest_is_capped_and_keeps_order() {
        let followers = (2..=60).map(|id| msg(id, Operation::Reply, "r")).collect();
        let (parts, left) = plan(msg(1, Operation::Reply, "r"), followers);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].merged, MAX_DIGEST);
        assert_eq!(left, (51..=60).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_digest_still_brings_the_roots_newest_edit() {
        let mut followers: Vec<Stored> =
            (2..=60).map(|id| msg(id, Operation::Reply, "r")).collect();
        followers.push(msg(61, Operation::EditRoot, "newest"));
        followers.push(msg(62, Operation::Reply, "after"));
        let (parts, left) = plan(msg(1, Operation::Reply, "r"), followers);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].kind, parts[0].reply.title.as_str()),
            (PartKind::EditRoot, "newest")
        );
        assert_eq!(parts[1].merged, MAX_DIGEST);
        let mut expected: Vec<i64> = (51..=60).collect();
        expected.push(62);
        assert_eq!(left, expected);
    }

    #[test]
    fn digest_takes_the_worst_status_and_newest_buttons() {
        let a = Reply::warning("a").button(Button::new("Ack", "incident ack 1"));
        let b = Reply::danger("b")
            .line("detail")
            .button(Button::new("Ack", "incident ack 1"));
        let d = digest([&a, &b]);
        assert_eq!(d.status, Status::Danger);
        assert_eq!(d.lines, ["⚠️ a", "❌ b", "detail"]);
        assert_eq!(d.buttons.len(), 1);
    }
}

//! What the outbox delivers: one chat operation (post a root, edit it, reply in its
//! thread) on one platform, with the neutral reply to render and an idempotency key.

use opsbot_commands::{Platform, Reply};

/// The chat operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Post a new root message; its platform id is remembered under `thread_key`.
    PostRoot,
    /// Post a root message of `thread_key` inside the thread of another thread's root
    /// (`parent_thread_key`, an incident's): a reply there that can be edited in place
    /// like any root (an investigation's answer, edited as it streams). Without the
    /// parent's root it is posted in the channel.
    PostRootInThread { parent_thread_key: String },
    /// Edit the root message posted for `thread_key` in place.
    EditRoot,
    /// Post into the thread of the root message of `thread_key`.
    Reply,
    /// Post a standalone message (a command reply, a notice).
    Post,
}

/// How urgent a message is. Command replies never wait behind alert traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// Replies to people (commands, button presses); also storm boards and who was paged
    /// for an incident folded into one (`crate::incidents::storm`), which must not wait
    /// behind the backlog they stand for.
    Interactive,
    /// Incident roots and thread updates.
    Alerts,
}

/// One message to deliver, as handed to [`super::Outbox::enqueue`].
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxMessage {
    pub platform: Platform,
    /// Channel id or name as the platform knows it.
    pub channel: String,
    /// Groups messages that must be delivered in order and may be coalesced
    /// (`incident:42`). Roots and their replies share it.
    pub thread_key: Option<String>,
    pub operation: Operation,
    pub lane: Lane,
    pub reply: Reply,
    /// Unique per logical message (`incident:42:event:7`); enqueueing the same key twice
    /// stores it once, and delivery is idempotent on it.
    pub dedupe_key: String,
}

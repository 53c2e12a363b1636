//! Slack replies are group-committed by the platform-neutral reply queue of the outbox
//! ([`crate::outbox::ReplyQueue`]), which Discord shares; re-exported here for the
//! responder.

pub use crate::outbox::ReplyQueue;

//! The durable outbox: every chat message opsbot sends is first stored, then delivered by
//! a dispatcher that retries with backoff (honouring `Retry-After`), never posts twice,
//! keeps each thread in order, paces each channel, coalesces storms into digests, and
//! serves command replies ahead of alert traffic.
//!
//! Contract for producers: call [`Outbox::enqueue`] inside the same transaction that
//! records what the message is about (so a crash never loses or invents a message).

mod message;
mod sink;

pub use message::{Lane, Operation, OutboxMessage};
pub use sink::{ChatSink, DeliveryError, MessageRef};

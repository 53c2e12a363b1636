//! The storm roll-up: when a channel falls behind, new incidents are folded into one
//! storm board per channel instead of each getting a root message.
//!
//! - [`backlog`]: whether a channel's queued chat work would take longer than its horizon
//!   (`[outbox.storm]`) to drain at its rate.
//! - [`fold`]: the decision, when an incident opens or alerts change one that has its
//!   own root (in its transaction); a folded incident's changes post nothing per
//!   incident (pages go to the board's thread).
//! - [`retract`]: as a board opens, incidents whose root or thread updates are queued
//!   but not sent yet join it (the board shows them sooner than the queue would).
//! - [`board`]: how a board looks (counts, one line per folded incident, buttons;
//!   pages when one message is full).
//! - [`keeper`]: tends open boards once a second: renders and edits them, gives folded
//!   incidents their own thread as the storm subsides, closes a board with a summary.
//! - [`unfold`]: one folded incident gets its own root and thread, or its root brought
//!   up to date (on demand: its button, `incident show`, a responder acting on it; or
//!   as the storm subsides).
//! - [`metrics`]: boards open, incidents folded, board edits, drains (Prometheus).
//!
//! Everything lives in the store (`storm_boards`, `incident_messages.storm_board` and
//! `.folded`, migration 0011), so the board and `incident list` agree with it, and a
//! restart or another replica continues the same board.

pub mod backlog;
pub mod board;
pub(crate) mod fold;
pub mod keeper;
pub mod metrics;
mod repo;
mod retract;
pub mod settings;
pub(crate) mod unfold;

#[cfg(test)]
mod tests;

pub use metrics::StormMetrics;
pub(crate) use repo::open_totals;
pub use settings::StormSettings;

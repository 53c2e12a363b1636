//! The append-only, hash-chained audit log.
//!
//! [`AuditWriter`] appends in group commits; [`AuditLog`] reads; [`verify`] checks the
//! chain; [`export_jsonl`] dumps it; [`prune`] applies retention. The chain itself (the
//! hash of an entry) is defined in [`chain`].
mod record;
pub use record::{AuditEntry, AuditRecord, Decision, Outcome};

mod batch;
pub mod chain;
mod error;
mod export;
mod head;
mod insert_sql;
mod log;
mod retention;
mod row;
#[cfg(test)]
mod testing;
mod verify;
mod writer;

pub use chain::{GENESIS_HASH, entry_hash};
pub use error::AuditError;
pub use export::export_jsonl;
pub use log::{AuditLog, view};
pub use retention::prune;
pub use verify::{ChainProblem, ProblemKind, VerifyReport, verify};
pub use writer::{AuditWriter, MAX_BATCH};

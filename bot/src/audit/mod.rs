//! The append-only, hash-chained audit log.
//!
//! [`AuditWriter`] appends in group commits (secret-shaped text redacted); [`AuditLog`]
//! reads; [`verify`] checks the chain ([`verify_with`]: also against signed checkpoints
//! and exports, [`Evidence`]); [`Checkpointer`] signs checkpoints with a key kept outside
//! the store; [`export_jsonl`] dumps it; [`prune`] applies retention. The chain itself (the
//! hash of an entry) is defined in [`chain`].
mod record;
pub use record::{AuditEntry, AuditRecord, Decision, Outcome};

mod batch;
pub mod chain;
mod checkpoint;
mod checkpoint_key;
mod checkpoint_store;
mod checkpointer;
mod error;
mod evidence;
mod export;
mod head;
mod insert_sql;
mod log;
mod redaction;
mod retention;
mod row;
#[cfg(test)]
pub(crate) mod testing;
mod verify;
mod writer;

pub use chain::{GENESIS_HASH, entry_hash};
pub use checkpoint::{Checkpoint, Rejected, SignedCheckpoint};
pub use checkpoint_key::{CheckpointKey, CheckpointSigner, KeyError};
pub use checkpointer::Checkpointer;
pub use error::AuditError;
pub use evidence::Evidence;
pub use export::export_jsonl;
pub use log::{AuditLog, view};
pub use retention::{prune, prune_checked};
pub use verify::{ChainProblem, ProblemKind, VerifyReport, verify, verify_with};
pub use writer::{AuditWriter, MAX_BATCH, Queued};

/// For other readers of whole entries (an incident's record).
pub(crate) use row::{ENTRY_COLUMNS, decode_entry};

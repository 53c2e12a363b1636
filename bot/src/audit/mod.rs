//! The append-only, hash-chained audit log.
mod record;
pub use record::{AuditEntry, AuditRecord, Decision, Outcome};

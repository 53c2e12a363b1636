//! [`AuditError`]: what can go wrong appending to, reading, verifying, exporting or
//! pruning the audit log.

use std::sync::Arc;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The batch holding this record failed to commit; every record of the batch gets
    /// the same error, and none of them was written.
    #[error("audit batch was not written: {0}")]
    Batch(Arc<StoreError>),
    /// The writer was closed (shutdown); nothing more can be appended through it.
    #[error("the audit writer is closed")]
    Closed,
    /// A stored entry cannot be read back (unknown decision, bad time, wrong type).
    #[error("audit entry {seq} is unreadable: {detail}")]
    Corrupt { seq: i64, detail: String },
    #[error("writing the audit export failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding the audit export failed: {0}")]
    Json(#[from] serde_json::Error),
}

impl AuditError {
    /// Whether the store is unreachable or overloaded (answer 503 and retry later),
    /// including a closed writer during shutdown.
    pub fn is_unavailable(&self) -> bool {
        match self {
            AuditError::Store(e) => e.is_unavailable(),
            AuditError::Batch(e) => e.is_unavailable(),
            AuditError::Closed => true,
            AuditError::Corrupt { .. } | AuditError::Io(_) | AuditError::Json(_) => false,
        }
    }
}

impl From<sqlx::Error> for AuditError {
    fn from(error: sqlx::Error) -> Self {
        AuditError::Store(StoreError::Query(error))
    }
}

//! [`RecordError`]: why an incident's record could not be read.

use crate::{audit::AuditError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("there is no incident {0}")]
    NoIncident(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl RecordError {
    /// Whether the store is unreachable or overloaded (try again shortly).
    pub fn is_unavailable(&self) -> bool {
        match self {
            RecordError::NoIncident(_) => false,
            RecordError::Store(error) => error.is_unavailable(),
            RecordError::Audit(error) => error.is_unavailable(),
        }
    }
}

impl From<sqlx::Error> for RecordError {
    fn from(error: sqlx::Error) -> Self {
        RecordError::Store(StoreError::Query(error))
    }
}

//! How times are stored: BIGINT unix microseconds (the Any driver has no time types).

use super::StoreError;

/// A timestamp as stored; sub-microsecond precision is dropped.
pub(crate) fn to_micros(at: jiff::Timestamp) -> i64 {
    at.as_microsecond()
}

/// A stored time back as a timestamp; `table` names where it came from for the error.
pub(crate) fn from_micros(micros: i64, table: &'static str) -> Result<jiff::Timestamp, StoreError> {
    jiff::Timestamp::from_microsecond(micros)
        .map_err(|e| StoreError::corrupt(table, format!("time {micros}us out of range: {e}")))
}

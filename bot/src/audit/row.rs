//! How an `audit_log` row maps to an [`AuditEntry`]: the column list every query selects
//! (and the writer inserts) and the decoder, which reports unreadable rows instead of
//! panicking so that `verify` can call them edits.

use sqlx::{Row, any::AnyRow};

use super::{AuditEntry, AuditError, AuditRecord, Decision, Outcome};

/// The `audit_log` columns in the order [`decode_entry`] reads them.
pub(crate) const ENTRY_COLUMNS: &str = "seq, at_us, request_id, platform, actor_id, \
     actor_name, channel, thread, text, command, service, environment, decision, reason, \
     approver, outcome, summary, duration_ms, prev_hash, hash";

/// How many columns [`ENTRY_COLUMNS`] names.
pub(crate) const ENTRY_COLUMN_COUNT: usize = 20;

/// A row that is not a valid entry (wrong type, unknown decision, time out of range).
#[derive(Debug)]
pub(crate) struct BadRow {
    pub seq: i64,
    pub detail: String,
}

impl From<BadRow> for AuditError {
    fn from(bad: BadRow) -> Self {
        AuditError::Corrupt {
            seq: bad.seq,
            detail: bad.detail,
        }
    }
}

/// The seq of a row selected with [`ENTRY_COLUMNS`]. Always an integer (it is the
/// primary key), so failure here is a store error, not bad data.
pub(crate) fn row_seq(row: &AnyRow) -> Result<i64, sqlx::Error> {
    row.try_get(0)
}

/// Decodes a row selected with [`ENTRY_COLUMNS`].
pub(crate) fn decode_entry(row: &AnyRow) -> Result<AuditEntry, BadRow> {
    let seq = row_seq(row).map_err(|e| BadRow {
        seq: -1,
        detail: e.to_string(),
    })?;
    decode_fields(row, seq).map_err(|detail| BadRow { seq, detail })
}

fn decode_fields(row: &AnyRow, seq: i64) -> Result<AuditEntry, String> {
    fn get<'r, T>(row: &'r AnyRow, index: usize) -> Result<T, String>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        row.try_get(index).map_err(|e| e.to_string())
    }
    let at_us: i64 = get(row, 1)?;
    let at = jiff::Timestamp::from_microsecond(at_us)
        .map_err(|e| format!("time {at_us}us is out of range: {e}"))?;
    let decision: String = get(row, 12)?;
    let decision =
        Decision::parse(&decision).ok_or_else(|| format!("unknown decision {decision:?}"))?;
    let outcome: String = get(row, 15)?;
    let outcome = Outcome::parse(&outcome).ok_or_else(|| format!("unknown outcome {outcome:?}"))?;
    Ok(AuditEntry {
        seq,
        record: AuditRecord {
            at,
            request_id: get(row, 2)?,
            platform: get(row, 3)?,
            actor_id: get(row, 4)?,
            actor_name: get(row, 5)?,
            channel: get(row, 6)?,
            thread: get(row, 7)?,
            text: get(row, 8)?,
            command: get(row, 9)?,
            service: get(row, 10)?,
            environment: get(row, 11)?,
            decision,
            reason: get(row, 13)?,
            approver: get(row, 14)?,
            outcome,
            summary: get(row, 16)?,
            duration_ms: get(row, 17)?,
        },
        prev_hash: get(row, 18)?,
        hash: get(row, 19)?,
    })
}

//! The `audit_checkpoints` table: the store's copy of every signed checkpoint. Rows are
//! trusted only after their signature is checked; deleting them loses nothing the
//! checkpoint file and the audit channel do not also hold.

use sqlx::{AnyConnection, Row, any::AnyRow};

use super::{
    AuditError,
    checkpoint::{Checkpoint, SignedCheckpoint},
    checkpoint_key::CheckpointKey,
};
use crate::store::Store;

const COLUMNS: &str = "seq, hash, anchor_seq, anchor_hash, at_us, key_id, signature";

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    signed: &SignedCheckpoint,
) -> Result<(), AuditError> {
    let c = &signed.checkpoint;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO audit_checkpoints ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )))
    .bind(c.seq)
    .bind(c.hash.as_str())
    .bind(c.anchor_seq)
    .bind(c.anchor_hash.as_str())
    .bind(c.at.as_microsecond())
    .bind(c.key_id.as_str())
    .bind(signed.signature.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

fn decode(row: &AnyRow) -> Result<SignedCheckpoint, AuditError> {
    let at_us: i64 = row.try_get(4)?;
    let at = jiff::Timestamp::from_microsecond(at_us).map_err(|e| AuditError::Corrupt {
        seq: row.try_get(0).unwrap_or(-1),
        detail: format!("checkpoint time {at_us}us: {e}"),
    })?;
    Ok(SignedCheckpoint {
        checkpoint: Checkpoint {
            seq: row.try_get(0)?,
            hash: row.try_get(1)?,
            anchor_seq: row.try_get(2)?,
            anchor_hash: row.try_get(3)?,
            at,
            key_id: row.try_get(5)?,
        },
        signature: row.try_get(6)?,
    })
}

/// Every stored checkpoint, oldest first (signatures unchecked).
pub(crate) async fn all(store: &Store) -> Result<Vec<SignedCheckpoint>, AuditError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_checkpoints ORDER BY at_us, seq"
    )))
    .fetch_all(store.read_pool())
    .await?;
    rows.iter().map(decode).collect()
}

/// The newest stored checkpoint of `key` whose signature verifies.
pub(crate) async fn newest(
    conn: &mut AnyConnection,
    key: &CheckpointKey,
) -> Result<Option<SignedCheckpoint>, AuditError> {
    Ok(recent(conn, key, i64::MAX).await?.into_iter().next())
}

/// The highest seq a valid checkpoint of `key` signed before `before` covers: every
/// entry up to it was written before then.
pub(crate) async fn covered_before(
    conn: &mut AnyConnection,
    key: &CheckpointKey,
    before: jiff::Timestamp,
) -> Result<Option<i64>, AuditError> {
    let found = recent(conn, key, before.as_microsecond()).await?;
    Ok(found.iter().map(|c| c.checkpoint.seq).max())
}

/// Up to 16 of the newest checkpoints of `key` signed before `before_us` that verify,
/// newest first (a forged row among them is skipped, not trusted).
async fn recent(
    conn: &mut AnyConnection,
    key: &CheckpointKey,
    before_us: i64,
) -> Result<Vec<SignedCheckpoint>, AuditError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_checkpoints WHERE key_id = $1 AND at_us < $2 \
         ORDER BY at_us DESC, seq DESC LIMIT 16"
    )))
    .bind(key.id())
    .bind(before_us)
    .fetch_all(conn)
    .await?;
    let keys = std::slice::from_ref(key);
    let mut valid = Vec::new();
    for row in &rows {
        let signed = decode(row)?;
        if signed.check(keys).is_ok() {
            valid.push(signed);
        } else {
            tracing::warn!(
                seq = signed.checkpoint.seq,
                "a stored audit checkpoint does not verify; ignoring it"
            );
        }
    }
    Ok(valid)
}

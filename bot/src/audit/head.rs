//! The chain's two singleton rows: `audit_head` (seq and hash of the newest entry;
//! updating it first in a transaction is the chain lock; the group commit moves it in
//! its last INSERT) and `audit_anchor` (seq and hash
//! of the last entry removed by retention; verification starts right after it).

use sqlx::{AnyConnection, Row};

use crate::store::StoreError;

/// A position in the chain: an entry's seq and hash (seq 0 and [`super::GENESIS_HASH`]
/// before the first entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainPoint {
    pub seq: i64,
    pub hash: String,
}

/// Takes the chain lock and returns the head: the row lock on PostgreSQL (other
/// replicas' writers wait here until we commit), the write lock on SQLite.
pub(crate) async fn lock_head(conn: &mut AnyConnection) -> Result<ChainPoint, StoreError> {
    let row = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
        .fetch_optional(conn)
        .await?;
    point(row, "audit_head")
}

pub(crate) async fn read_head(conn: &mut AnyConnection) -> Result<ChainPoint, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    point(row, "audit_head")
}

pub(crate) async fn read_anchor(conn: &mut AnyConnection) -> Result<ChainPoint, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_anchor WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    point(row, "audit_anchor")
}

pub(crate) async fn set_anchor(
    conn: &mut AnyConnection,
    seq: i64,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE audit_anchor SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(())
}

fn point(row: Option<sqlx::any::AnyRow>, table: &'static str) -> Result<ChainPoint, StoreError> {
    let row = row.ok_or_else(|| StoreError::corrupt(table, "the row is missing"))?;
    Ok(ChainPoint {
        seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    })
}

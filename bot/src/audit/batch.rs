//! One group commit: appends a batch of records to the chain in a single transaction.
//!
//! Lock the head, give each record the next seq, chain its hash to the previous one,
//! insert them with multi-row INSERTs ([`super::insert_sql`]), move the head, commit.
//!
//! Round trips matter more than anything else here once the batch is in memory:
//! * SQLite (each statement is a hop to the connection's worker thread): two calls —
//!   `BEGIN IMMEDIATE; UPDATE audit_head … RETURNING` and then the INSERTs, the last one
//!   carrying `UPDATE audit_head …; COMMIT`. This transaction is opened by hand, not by
//!   sqlx, so [`SqliteTx`] closes the connection (which rolls back) if it is abandoned.
//! * PostgreSQL: one statement, no explicit transaction, when the writer knows the head
//!   from its last commit: a CTE moves the head only if it is still where this writer
//!   left it (`seq` and `hash`), and the INSERT of every record runs only if it did. Over
//!   TCP that is one round trip per batch instead of six or more (BEGIN, the head lock,
//!   one INSERT per power-of-two chunk, COMMIT). When another replica moved the head
//!   meanwhile nothing is written (0 rows) and the batch goes the locked way: an sqlx
//!   transaction that locks the head, the last INSERT moving it in a CTE.

use sqlx::{Any, Arguments, Row, any::AnyArguments, pool::PoolConnection};

use super::{
    AuditRecord,
    chain::entry_hash,
    head::{ChainPoint, lock_head},
    insert_sql::{
        SQLITE_BEGIN_AND_LOCK, Tail, chunk_sizes, insert_statement, postgres_append_after_head,
    },
    row::ENTRY_COLUMN_COUNT,
};
use crate::store::{Backend, Store, StoreError};

/// Appends `records` (drained, in order) as one transaction and returns the seq given to
/// the first; the others follow consecutively. On error nothing was written.
/// `known_head`: where this writer left the chain (PostgreSQL; `None` at first and after
/// an error), kept up to date here.
pub(crate) async fn commit_batch(
    store: &Store,
    records: &mut Vec<AuditRecord>,
    known_head: &mut Option<ChainPoint>,
) -> Result<i64, StoreError> {
    match store.backend() {
        Backend::Sqlite => commit_sqlite(store, records).await,
        Backend::Postgres => commit_postgres(store, records, known_head).await,
    }
}

async fn commit_postgres(
    store: &Store,
    records: &mut Vec<AuditRecord>,
    known_head: &mut Option<ChainPoint>,
) -> Result<i64, StoreError> {
    if let Some(head) = known_head.take() {
        let first_seq = head.seq + 1;
        let unchained = records.clone();
        if let Some(moved) = commit_postgres_after(store, head, records).await? {
            *known_head = Some(moved);
            return Ok(first_seq);
        }
        // Another replica appended since: chain after the head it left, under its lock.
        *records = unchained;
    }
    let mut tx = store.pool().begin().await?;
    let head = lock_head(&mut tx).await?;
    let first_seq = head.seq + 1;
    let (statements, moved) = chain(Backend::Postgres, head, records)?;
    for (sql, args) in statements {
        sqlx::query_with(sql, args).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    *known_head = Some(moved);
    Ok(first_seq)
}

/// Appends `records` (drained) after `head` in one statement if the head is still
/// there; the new head, or `None` when it had moved (nothing written).
async fn commit_postgres_after(
    store: &Store,
    head: ChainPoint,
    records: &mut Vec<AuditRecord>,
) -> Result<Option<ChainPoint>, StoreError> {
    let rows = records.len();
    let mut args = AnyArguments::default();
    args.reserve(rows * ENTRY_COLUMN_COUNT + 4, 0);
    let mut point = head.clone();
    bind_chained(&mut args, records.drain(..), &mut point)?;
    add(&mut args, point.seq)?;
    add(&mut args, point.hash.clone())?;
    add(&mut args, head.seq)?;
    add(&mut args, head.hash)?;
    let sql = sqlx::AssertSqlSafe(postgres_append_after_head(rows));
    let written = sqlx::query_with(sql, args)
        .execute(store.pool())
        .await?
        .rows_affected();
    match written {
        0 => Ok(None),
        n if n as usize == rows => Ok(Some(point)),
        n => Err(StoreError::corrupt(
            "audit_log",
            format!("a batch of {rows} wrote {n} entries"),
        )),
    }
}

async fn commit_sqlite(store: &Store, records: &mut Vec<AuditRecord>) -> Result<i64, StoreError> {
    let mut tx = SqliteTx {
        conn: store.pool().acquire().await?,
        open: true,
    };
    // `fetch_all`: the Any driver's `fetch_optional` looks only at the first statement's
    // result (BEGIN's, which has no rows).
    let row = sqlx::query(SQLITE_BEGIN_AND_LOCK)
        .bind(1i64)
        .fetch_all(&mut *tx.conn)
        .await?
        .pop()
        .ok_or_else(|| StoreError::corrupt("audit_head", "the row is missing"))?;
    let head = ChainPoint {
        seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    };
    let first_seq = head.seq + 1;
    for (sql, args) in chain(Backend::Sqlite, head, records)?.0 {
        sqlx::query_with(sql, args).execute(&mut *tx.conn).await?;
    }
    // The last statement ended with COMMIT.
    tx.open = false;
    Ok(first_seq)
}

/// A pooled SQLite connection inside a transaction sqlx does not know about. Unless
/// marked closed, dropping it (an error, or the future dropped) closes the connection
/// instead of returning it to the pool, and SQLite rolls the transaction back.
struct SqliteTx {
    conn: PoolConnection<Any>,
    open: bool,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

/// Gives the records (drained) their seqs and hashes after `head`, and returns the
/// statements that insert them, the last one also moving the head, and the new head.
fn chain(
    backend: Backend,
    head: ChainPoint,
    records: &mut Vec<AuditRecord>,
) -> Result<(Vec<(sqlx::SqlStr, AnyArguments)>, ChainPoint), sqlx::Error> {
    let mut point = head;
    let mut pending = records.drain(..);
    let sizes = chunk_sizes(pending.len());
    let chunks = sizes.len();
    let mut statements = Vec::with_capacity(chunks);
    for (i, rows) in sizes.enumerate() {
        let last = i + 1 == chunks;
        let mut args = AnyArguments::default();
        args.reserve(rows * ENTRY_COLUMN_COUNT + 2, 0);
        bind_chained(&mut args, pending.by_ref().take(rows), &mut point)?;
        let tail = if last {
            add(&mut args, point.seq)?;
            add(&mut args, point.hash.clone())?;
            Tail::InsertAndFinish
        } else {
            Tail::Insert
        };
        statements.push((insert_statement(backend, tail, rows), args));
    }
    Ok((statements, point))
}

/// Binds `records` as the entries after `point`, which moves to the last of them.
fn bind_chained(
    args: &mut AnyArguments,
    records: impl Iterator<Item = AuditRecord>,
    point: &mut ChainPoint,
) -> Result<(), sqlx::Error> {
    for mut record in records {
        point.seq += 1;
        scrub_nul(&mut record);
        let hash = entry_hash(&point.hash, point.seq, &record);
        let prev_hash = std::mem::replace(&mut point.hash, hash.clone());
        bind_entry(args, point.seq, record, prev_hash, hash)?;
    }
    Ok(())
}

/// Binds one entry in [`super::row::ENTRY_COLUMNS`] order, moving the strings.
fn bind_entry(
    args: &mut AnyArguments,
    seq: i64,
    record: AuditRecord,
    prev_hash: String,
    hash: String,
) -> Result<(), sqlx::Error> {
    let AuditRecord {
        at,
        request_id,
        platform,
        actor_id,
        actor_name,
        channel,
        thread,
        text,
        command,
        service,
        environment,
        decision,
        reason,
        approver,
        outcome,
        summary,
        duration_ms,
    } = record;
    add(args, seq)?;
    add(args, at.as_microsecond())?;
    add(args, request_id)?;
    add(args, platform)?;
    add(args, actor_id)?;
    add(args, actor_name)?;
    add(args, channel)?;
    add_opt(args, thread)?;
    add(args, text)?;
    add_opt(args, command)?;
    add_opt(args, service)?;
    add_opt(args, environment)?;
    add(args, decision.as_str())?;
    add(args, reason)?;
    add_opt(args, approver)?;
    add(args, outcome.as_str())?;
    add(args, summary)?;
    add(args, duration_ms)?;
    add(args, prev_hash)?;
    add(args, hash)
}

fn add<'q, T>(args: &mut AnyArguments, value: T) -> Result<(), sqlx::Error>
where
    T: sqlx::Encode<'q, Any> + sqlx::Type<Any> + 'q,
{
    args.add(value).map_err(sqlx::Error::Encode)
}

/// `Option<String>` would be cloned by its `Encode`; move the string instead.
fn add_opt(args: &mut AnyArguments, value: Option<String>) -> Result<(), sqlx::Error> {
    match value {
        Some(text) => add(args, text),
        None => add(args, None::<String>),
    }
}

/// PostgreSQL TEXT cannot hold NUL, and one bad record must not sink its whole batch:
/// replace NUL with U+FFFD before hashing, on both backends alike.
fn scrub_nul(record: &mut AuditRecord) {
    fn scrub(text: &mut String) {
        if text.contains('\0') {
            *text = text.replace('\0', "\u{FFFD}");
        }
    }
    let AuditRecord {
        at: _,
        request_id,
        platform,
        actor_id,
        actor_name,
        channel,
        thread,
        text,
        command,
        service,
        environment,
        decision: _,
        reason,
        approver,
        outcome: _,
        summary,
        duration_ms: _,
    } = record;
    for field in [
        request_id, platform, actor_id, actor_name, channel, text, reason, summary,
    ] {
        scrub(field);
    }
    for field in [thread, command, service, environment, approver]
        .into_iter()
        .flatten()
    {
        scrub(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_nul() {
        let mut r = crate::audit::testing::sample(1);
        r.text = "a\0b".into();
        r.thread = Some("\0".into());
        scrub_nul(&mut r);
        assert_eq!(r.text, "a\u{FFFD}b");
        assert_eq!(r.thread.as_deref(), Some("\u{FFFD}"));
    }
}

//! One group commit: appends a batch of records to the chain in a single transaction.
//!
//! Lock the head (`UPDATE audit_head … RETURNING`), give each record the next seq, chain
//! its hash to the previous one, insert them with multi-row INSERTs, move the head,
//! commit. The INSERTs come in power-of-two sizes up to [`MAX_ROWS_PER_INSERT`] rows, so
//! only a handful of distinct statements exist and each stays prepared in the
//! connection's statement cache; 20 binds per row keeps every statement far below
//! SQLite's 32,766 and PostgreSQL's 65,535 parameter limits.
//!
//! SQLite gets positional `?` placeholders: sqlx looks up the name of every `$N`
//! parameter, and SQLite finds a name by scanning a list, which makes binding a
//! 5,120-parameter statement quadratic (it was 90% of the batch time).

use std::{fmt::Write as _, sync::OnceLock};

use sqlx::{Any, Arguments, SqlSafeStr, SqlStr, any::AnyArguments};

use super::{
    AuditRecord,
    chain::entry_hash,
    head::{lock_head, set_head},
    row::{ENTRY_COLUMN_COUNT, ENTRY_COLUMNS},
};
use crate::store::{Backend, Store, StoreError};

/// The largest multi-row INSERT (5,120 binds).
pub(crate) const MAX_ROWS_PER_INSERT: usize = 256;
/// `log2(MAX_ROWS_PER_INSERT) + 1` statement sizes: 1, 2, 4, …, 256 rows.
const STATEMENT_SIZES: usize = MAX_ROWS_PER_INSERT.trailing_zeros() as usize + 1;

/// Appends `records` (drained, in order) as one transaction and returns the seq given to
/// the first; the others follow consecutively. On error nothing was written.
pub(crate) async fn commit_batch(
    store: &Store,
    records: &mut Vec<AuditRecord>,
) -> Result<i64, StoreError> {
    let t0 = std::time::Instant::now();
    let n = records.len();
    let mut tx = store.pool().begin().await?;
    let t1 = t0.elapsed();
    let head = lock_head(&mut tx).await?;
    let t2 = t0.elapsed();
    let mut t_build = std::time::Duration::ZERO;
    let mut t_exec = std::time::Duration::ZERO;
    let first_seq = head.seq + 1;
    let mut seq = head.seq;
    let mut prev = head.hash;
    let mut pending = records.drain(..);
    for rows in chunk_sizes(pending.len()) {
        let tb = std::time::Instant::now();
        let mut args = AnyArguments::default();
        args.reserve(rows * ENTRY_COLUMN_COUNT, 0);
        for mut record in pending.by_ref().take(rows) {
            seq += 1;
            scrub_nul(&mut record);
            let hash = entry_hash(&prev, seq, &record);
            let prev_hash = std::mem::replace(&mut prev, hash.clone());
            bind_entry(&mut args, seq, record, prev_hash, hash)?;
        }
        t_build += tb.elapsed();
        let te = std::time::Instant::now();
        sqlx::query_with(insert_statement(store.backend(), rows), args)
            .execute(&mut *tx)
            .await?;
        t_exec += te.elapsed();
    }
    drop(pending);
    let t3 = t0.elapsed();
    set_head(&mut tx, seq, &prev).await?;
    let t4 = t0.elapsed();
    tx.commit().await?;
    let t5 = t0.elapsed();
    if std::env::var("OPSBOT_BATCH_TRACE").is_ok() {
        eprintln!(
            "n={n} begin={t1:?} lock={:?} build={t_build:?} exec={t_exec:?} sethead={:?} commit={:?} total={t5:?}",
            t2 - t1,
            t4 - t3,
            t5 - t4
        );
    }
    Ok(first_seq)
}

/// Splits `n` rows into statement sizes: as many full [`MAX_ROWS_PER_INSERT`] chunks as
/// fit, then the binary digits of the rest (300 → 256, 32, 8, 4).
fn chunk_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        n -= size;
        Some(size)
    })
}

/// The cached INSERT for `rows` rows (a power of two ≤ [`MAX_ROWS_PER_INSERT`]).
fn insert_statement(backend: Backend, rows: usize) -> SqlStr {
    static SQLITE: OnceLock<Vec<SqlStr>> = OnceLock::new();
    static POSTGRES: OnceLock<Vec<SqlStr>> = OnceLock::new();
    let cache = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    let all = cache.get_or_init(|| {
        (0..STATEMENT_SIZES)
            .map(|power| sqlx::AssertSqlSafe(insert_sql(backend, 1 << power)).into_sql_str())
            .collect()
    });
    all[rows.trailing_zeros() as usize].clone()
}

fn insert_sql(backend: Backend, rows: usize) -> String {
    let mut sql = String::with_capacity(64 + ENTRY_COLUMNS.len() + rows * ENTRY_COLUMN_COUNT * 7);
    sql.push_str("INSERT INTO audit_log (");
    sql.push_str(ENTRY_COLUMNS);
    sql.push_str(") VALUES ");
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 0..ENTRY_COLUMN_COUNT {
            if column > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${n}");
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Binds one entry in [`ENTRY_COLUMNS`] order, moving the strings (no copies here).
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
    fn chunks_are_powers_of_two_summing_to_n() {
        for n in [0, 1, 2, 3, 255, 256, 257, 300, 1023, 1024, 5000] {
            let sizes: Vec<usize> = chunk_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(
                sizes
                    .iter()
                    .all(|s| s.is_power_of_two() && *s <= MAX_ROWS_PER_INSERT)
            );
        }
        assert_eq!(chunk_sizes(300).collect::<Vec<_>>(), [256, 32, 8, 4]);
    }

    #[test]
    fn statements_have_the_right_placeholders() {
        assert_eq!(
            insert_statement(Backend::Postgres, 1).as_str(),
            format!(
                "INSERT INTO audit_log ({ENTRY_COLUMNS}) VALUES ({})",
                (1..=20)
                    .map(|n| format!("${n}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        );
        let big = insert_statement(Backend::Postgres, MAX_ROWS_PER_INSERT);
        assert!(
            big.as_str()
                .ends_with(&format!("${})", MAX_ROWS_PER_INSERT * 20))
        );
    }

    #[test]
    fn sqlite_statements_are_positional() {
        let q = vec!["?"; 20].join(",");
        let sql = insert_statement(Backend::Sqlite, 2);
        assert!(sql.as_str().ends_with(&format!("VALUES ({q}),({q})")));
    }

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

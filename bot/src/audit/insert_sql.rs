//! The SQL text of a group commit, per backend, built once and cached.
//!
//! INSERTs come in power-of-two sizes up to [`MAX_ROWS_PER_INSERT`] rows, so only a
//! handful of distinct statements exist and each stays prepared in the connection's
//! statement cache; 20 binds per row keeps every statement far below SQLite's 32,766 and
//! PostgreSQL's 65,535 parameter limits. The last INSERT of a batch also moves the chain
//! head (and on SQLite commits), saving round trips.
//!
//! SQLite gets positional `?` placeholders: sqlx looks up the name of every `$N`
//! parameter, and SQLite finds a name by scanning a list, which makes binding a
//! 5,120-parameter statement quadratic (it was 90% of the batch time).

use std::{fmt::Write as _, sync::OnceLock};

use sqlx::{SqlSafeStr, SqlStr};

use super::row::{ENTRY_COLUMN_COUNT, ENTRY_COLUMNS};
use crate::store::Backend;

/// The largest multi-row INSERT (5,120 binds).
pub(crate) const MAX_ROWS_PER_INSERT: usize = 256;
/// `log2(MAX_ROWS_PER_INSERT) + 1` statement sizes: 1, 2, 4, …, 256 rows.
const SIZES: usize = MAX_ROWS_PER_INSERT.trailing_zeros() as usize + 1;

/// SQLite: open the transaction with the write lock and lock the head, in one call.
/// Binds: the head row id (1), so the statement is cached.
pub(crate) const SQLITE_BEGIN_AND_LOCK: &str =
    "BEGIN IMMEDIATE; UPDATE audit_head SET seq = seq WHERE id = ? RETURNING seq, hash";

/// Splits `n` rows into statement sizes: as many full [`MAX_ROWS_PER_INSERT`] chunks as
/// fit, then the binary digits of the rest (300 → 256, 32, 8, 4).
pub(crate) fn chunk_sizes(mut n: usize) -> impl ExactSizeIterator<Item = usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let size = if n >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        sizes.push(size);
        n -= size;
    }
    sizes.into_iter()
}

/// What a chunk's statement does besides inserting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Only the INSERT.
    Insert,
    /// The INSERT, then `audit_head` moves to the last row (two more binds: seq, hash);
    /// on SQLite also `COMMIT`.
    InsertAndFinish,
}

/// The cached statement for a chunk of `rows` rows (a power of two ≤
/// [`MAX_ROWS_PER_INSERT`]).
pub(crate) fn insert_statement(backend: Backend, tail: Tail, rows: usize) -> SqlStr {
    static SQLITE_INSERT: OnceLock<Vec<SqlStr>> = OnceLock::new();
    static SQLITE_FINISH: OnceLock<Vec<SqlStr>> = OnceLock::new();
    static POSTGRES_INSERT: OnceLock<Vec<SqlStr>> = OnceLock::new();
    static POSTGRES_FINISH: OnceLock<Vec<SqlStr>> = OnceLock::new();
    let cache = match (backend, tail) {
        (Backend::Sqlite, Tail::Insert) => &SQLITE_INSERT,
        (Backend::Sqlite, Tail::InsertAndFinish) => &SQLITE_FINISH,
        (Backend::Postgres, Tail::Insert) => &POSTGRES_INSERT,
        (Backend::Postgres, Tail::InsertAndFinish) => &POSTGRES_FINISH,
    };
    let all = cache.get_or_init(|| {
        (0..SIZES)
            .map(|power| sqlx::AssertSqlSafe(statement(backend, tail, 1 << power)).into_sql_str())
            .collect()
    });
    all[rows.trailing_zeros() as usize].clone()
}

/// PostgreSQL: the whole batch of `rows` entries in one statement that writes only if the
/// chain head is still where the writer left it: binds `rows × 20` entry values, then the
/// new head (seq, hash), then the expected head (seq, hash). Without an explicit
/// transaction it is one round trip; 0 rows written means the head had moved.
pub(crate) fn postgres_append_after_head(rows: usize) -> String {
    let binds = rows * ENTRY_COLUMN_COUNT;
    let mut sql = String::with_capacity(256 + ENTRY_COLUMNS.len() + binds * 7);
    let _ = write!(
        sql,
        "WITH head AS (UPDATE audit_head SET seq = ${}, hash = ${} \
         WHERE id = 1 AND seq = ${} AND hash = ${} RETURNING 1) \
         INSERT INTO audit_log ({ENTRY_COLUMNS}) SELECT * FROM (VALUES ",
        binds + 1,
        binds + 2,
        binds + 3,
        binds + 4
    );
    push_rows(&mut sql, Backend::Postgres, rows);
    sql.push_str(") AS entries WHERE EXISTS (SELECT 1 FROM head)");
    sql
}

/// `(…),(…)`: `rows` rows of placeholders (`?`, or `$1`, `$2`, … on PostgreSQL).
fn push_rows(sql: &mut String, backend: Backend, rows: usize) {
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
}

fn statement(backend: Backend, tail: Tail, rows: usize) -> String {
    let binds = rows * ENTRY_COLUMN_COUNT;
    let mut sql = String::with_capacity(128 + ENTRY_COLUMNS.len() + binds * 7);
    if backend == Backend::Postgres && tail == Tail::InsertAndFinish {
        let _ = write!(
            sql,
            "WITH head AS (UPDATE audit_head SET seq = ${}, hash = ${} WHERE id = 1) ",
            binds + 1,
            binds + 2
        );
    }
    sql.push_str("INSERT INTO audit_log (");
    sql.push_str(ENTRY_COLUMNS);
    sql.push_str(") VALUES ");
    push_rows(&mut sql, backend, rows);
    if backend == Backend::Sqlite && tail == Tail::InsertAndFinish {
        sql.push_str("; UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1; COMMIT");
    }
    sql
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
    fn postgres_statements_number_their_placeholders() {
        let one: Vec<String> = (1..=20).map(|n| format!("${n}")).collect();
        assert_eq!(
            insert_statement(Backend::Postgres, Tail::Insert, 1).as_str(),
            format!(
                "INSERT INTO audit_log ({ENTRY_COLUMNS}) VALUES ({})",
                one.join(",")
            )
        );
        let last = insert_statement(Backend::Postgres, Tail::InsertAndFinish, 256);
        assert!(last.as_str().starts_with(
            "WITH head AS (UPDATE audit_head SET seq = $5121, hash = $5122 WHERE id = 1) INSERT"
        ));
        assert!(last.as_str().ends_with("$5120)"));
    }

    #[test]
    fn sqlite_statements_are_positional_and_finish_with_commit() {
        let q = ["?"; 20].join(",");
        let insert = insert_statement(Backend::Sqlite, Tail::Insert, 2);
        assert!(insert.as_str().ends_with(&format!("VALUES ({q}),({q})")));
        let last = insert_statement(Backend::Sqlite, Tail::InsertAndFinish, 1);
        assert!(last.as_str().ends_with(&format!(
            "VALUES ({q}); UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1; COMMIT"
        )));
    }
}

//! Test helpers for the audit modules: sample records, filling a log, and raw SQL
//! tampering the way an attacker with database access would.

use sqlx::Row;

use super::{AuditEntry, AuditRecord, AuditWriter, Decision, Outcome, log::AuditLog};
use crate::store::Store;

/// A plausible record, distinct per `n`, `n` seconds after a fixed instant.
pub(crate) fn sample(n: i64) -> AuditRecord {
    AuditRecord {
        at: jiff::Timestamp::from_second(1_700_000_000 + n).unwrap(),
        request_id: format!("req-{n}"),
        platform: "slack".into(),
        actor_id: "U1".into(),
        actor_name: "alice".into(),
        channel: "#ops".into(),
        thread: None,
        text: format!("restart gateway #{n}"),
        command: Some("restart".into()),
        service: Some("gateway".into()),
        environment: Some("prod".into()),
        decision: Decision::Allowed,
        reason: String::new(),
        approver: None,
        outcome: Outcome::Ok,
        summary: "restarted".into(),
        duration_ms: 1200,
    }
}

/// Appends `sample(1..=n)` one after another and closes the writer.
pub(crate) async fn fill(store: &Store, n: i64) {
    let writer = AuditWriter::spawn(store.clone());
    for i in 1..=n {
        writer.append(sample(i)).await.unwrap();
    }
    writer.close().await;
}

/// Every entry, in seq order.
pub(crate) async fn all_entries(store: &Store) -> Vec<AuditEntry> {
    AuditLog::new(store.clone())
        .entries(i64::MIN, i64::MAX)
        .await
        .unwrap()
}

/// Runs one tampering statement.
pub(crate) async fn exec(store: &Store, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(store.pool())
        .await
        .unwrap();
}

/// Shifts entries with seq ≥ `from` by `by` (both backends check the primary key per
/// row, so go through negative seqs).
pub(crate) async fn renumber(store: &Store, from: i64, by: i64) {
    exec(
        store,
        &format!("UPDATE audit_log SET seq = -seq WHERE seq >= {from}"),
    )
    .await;
    exec(
        store,
        &format!("UPDATE audit_log SET seq = -seq + ({by}) WHERE seq < 0"),
    )
    .await;
}

/// Inserts a row directly, bypassing the writer and the head.
pub(crate) async fn insert_raw(
    store: &Store,
    seq: i64,
    record: &AuditRecord,
    prev: &str,
    hash: &str,
) {
    sqlx::query(
        "INSERT INTO audit_log (seq, at_us, request_id, platform, actor_id, actor_name, \
         channel, thread, text, command, service, environment, decision, reason, approver, \
         outcome, summary, duration_ms, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(seq)
    .bind(record.at.as_microsecond())
    .bind(record.request_id.as_str())
    .bind(record.platform.as_str())
    .bind(record.actor_id.as_str())
    .bind(record.actor_name.as_str())
    .bind(record.channel.as_str())
    .bind(record.thread.as_deref())
    .bind(record.text.as_str())
    .bind(record.command.as_deref())
    .bind(record.service.as_deref())
    .bind(record.environment.as_deref())
    .bind(record.decision.as_str())
    .bind(record.reason.as_str())
    .bind(record.approver.as_deref())
    .bind(record.outcome.as_str())
    .bind(record.summary.as_str())
    .bind(record.duration_ms)
    .bind(prev)
    .bind(hash)
    .execute(store.pool())
    .await
    .unwrap();
}

/// The head row: (seq, hash).
pub(crate) async fn head(store: &Store) -> (i64, String) {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(store.read_pool())
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

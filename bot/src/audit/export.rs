//! `audit export`: the log as JSON Lines, one object per entry in seq order with every
//! field, its seq and both hashes, and the time as RFC 3339 (microsecond precision, as
//! stored and hashed), so the chain can be re-verified outside opsbot.

use std::io::Write;

use serde::Serialize;

use super::{
    AuditEntry, AuditError,
    row::{ENTRY_COLUMNS, decode_entry, row_seq},
};
use crate::store::Store;

const PAGE: i64 = 1000;

/// One line of the export.
#[derive(Serialize)]
struct Line<'a> {
    seq: i64,
    at: String,
    request_id: &'a str,
    platform: &'a str,
    actor_id: &'a str,
    actor_name: &'a str,
    channel: &'a str,
    thread: Option<&'a str>,
    text: &'a str,
    command: Option<&'a str>,
    service: Option<&'a str>,
    environment: Option<&'a str>,
    decision: &'static str,
    reason: &'a str,
    approver: Option<&'a str>,
    outcome: &'static str,
    summary: &'a str,
    duration_ms: i64,
    prev_hash: &'a str,
    hash: &'a str,
}

impl<'a> From<&'a AuditEntry> for Line<'a> {
    fn from(entry: &'a AuditEntry) -> Self {
        let r = &entry.record;
        Line {
            seq: entry.seq,
            at: r.at.to_string(),
            request_id: &r.request_id,
            platform: &r.platform,
            actor_id: &r.actor_id,
            actor_name: &r.actor_name,
            channel: &r.channel,
            thread: r.thread.as_deref(),
            text: &r.text,
            command: r.command.as_deref(),
            service: r.service.as_deref(),
            environment: r.environment.as_deref(),
            decision: r.decision.as_str(),
            reason: &r.reason,
            approver: r.approver.as_deref(),
            outcome: r.outcome.as_str(),
            summary: &r.summary,
            duration_ms: r.duration_ms,
            prev_hash: &entry.prev_hash,
            hash: &entry.hash,
        }
    }
}

/// Writes every entry at or after `since` (all when `None`) to `out`, one JSON object per
/// line, oldest first, reading the log in pages. Returns how many lines were written.
pub async fn export_jsonl(
    store: &Store,
    since: Option<jiff::Timestamp>,
    out: &mut (dyn Write + Send),
) -> Result<u64, AuditError> {
    let since_us = since.map_or(i64::MIN, jiff::Timestamp::as_microsecond);
    let mut after = i64::MIN;
    let mut written = 0u64;
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 AND at_us >= $2 \
             ORDER BY seq LIMIT $3"
        )))
        .bind(after)
        .bind(since_us)
        .bind(PAGE)
        .fetch_all(store.read_pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = row_seq(last)?;
        for row in &rows {
            let entry = decode_entry(row)?;
            serde_json::to_writer(&mut *out, &Line::from(&entry))?;
            out.write_all(b"\n")?;
            written += 1;
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::{
            entry_hash,
            testing::{fill, sample},
        },
        store::scratch::backend_tests,
    };

    backend_tests! {
        async fn exports_one_json_line_per_entry_since_a_time(db) {
            fill(&db.store, 30).await;
            let mut out = Vec::new();
            let written = export_jsonl(&db.store, Some(sample(11).at), &mut out).await.unwrap();
            assert_eq!(written, 20);
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            assert_eq!(lines.len(), 20);
            let first = &lines[0];
            assert_eq!(first["seq"], 11);
            assert_eq!(first["at"], "2023-11-14T22:13:31Z");
            assert_eq!(first["text"], "restart gateway #11");
            assert_eq!(first["thread"], serde_json::Value::Null);
            assert_eq!(first["decision"], "allowed");
            assert_eq!(first["outcome"], "ok");
            assert_eq!(first["duration_ms"], 1200);
            // The line carries enough to recompute the hash.
            let prev = first["prev_hash"].as_str().unwrap();
            assert_eq!(first["hash"].as_str().unwrap(), entry_hash(prev, 11, &sample(11)));
            assert_eq!(lines[1]["prev_hash"], first["hash"]);
            assert_eq!(lines.last().unwrap()["seq"], 30);

            let mut all = Vec::new();
            assert_eq!(export_jsonl(&db.store, None, &mut all).await.unwrap(), 30);
        }
    }
}

//! [`AuditLog`]: reading the audit log — the `audit` chat command's filtered "most
//! recent" view ([`AuditQuery`]) and seq-ordered paging over whole entries.

use async_trait::async_trait;
use opsbot_commands::context::{AuditFilter, AuditQuery, AuditQueryError, AuditView};
use sqlx::{Arguments, any::AnyArguments};

use super::{
    AuditEntry, AuditError,
    row::{ENTRY_COLUMNS, decode_entry},
};
use crate::store::Store;

/// `audit` shows this many entries when the filter asks for none.
const DEFAULT_LIMIT: u32 = 20;
/// And never more than this many.
const MAX_LIMIT: u32 = 1000;

/// Read access to the audit log.
#[derive(Clone, Debug)]
pub struct AuditLog {
    store: Store,
}

impl AuditLog {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Up to `limit` entries with seq greater than `after_seq`, oldest first. Page with
    /// the last seq returned; start from 0.
    pub async fn entries(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>, AuditError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(after_seq)
        .bind(limit.max(0))
        .fetch_all(self.store.read_pool())
        .await?;
        rows.iter()
            .map(|row| decode_entry(row).map_err(AuditError::from))
            .collect()
    }

    /// The newest entries matching `filter`, newest first. `actor` matches the actor id
    /// or the display name; `since` is inclusive.
    pub async fn search(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AuditError> {
        let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE 1 = 1");
        let mut args = AnyArguments::default();
        let mut bind = |sql: &mut String, clause: &str, value: Bind| -> Result<(), AuditError> {
            let n = args.len() + 1;
            sql.push_str(&clause.replace("$?", &format!("${n}")));
            match value {
                Bind::Text(text) => args.add(text.to_string()),
                Bind::Int(int) => args.add(int),
            }
            .map_err(|e| AuditError::from(sqlx::Error::Encode(e)))
        };
        if let Some(actor) = &filter.actor {
            bind(
                &mut sql,
                " AND (actor_id = $? OR actor_name = $?)",
                Bind::Text(actor),
            )?;
        }
        if let Some(service) = &filter.service {
            bind(&mut sql, " AND service = $?", Bind::Text(service))?;
        }
        if let Some(command) = &filter.command {
            bind(&mut sql, " AND command = $?", Bind::Text(command))?;
        }
        if let Some(decision) = &filter.decision {
            bind(&mut sql, " AND decision = $?", Bind::Text(decision))?;
        }
        if let Some(since) = filter.since {
            bind(
                &mut sql,
                " AND at_us >= $?",
                Bind::Int(since.as_microsecond()),
            )?;
            // The same window as a range of seq, so the newest-first scan stops at the
            // window's first entry instead of reading the whole table when few entries
            // match. The smallest seq in the window comes from the `at_us` index; `+ 0`
            // keeps SQLite from answering MIN(seq) by walking the rowid from the start.
            bind(
                &mut sql,
                " AND seq >= (SELECT MIN(seq + 0) FROM audit_log WHERE at_us >= $?)",
                Bind::Int(since.as_microsecond()),
            )?;
        }
        let limit = match filter.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        bind(
            &mut sql,
            " ORDER BY seq DESC LIMIT $?",
            Bind::Int(i64::from(limit)),
        )?;
        let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .fetch_all(self.store.read_pool())
            .await?;
        rows.iter()
            .map(|row| decode_entry(row).map_err(AuditError::from))
            .collect()
    }
}

enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

/// How `audit` shows an entry.
pub fn view(entry: AuditEntry) -> AuditView {
    let r = entry.record;
    AuditView {
        seq: entry.seq,
        at: r.at,
        platform: r.platform,
        actor_id: r.actor_id,
        actor_name: r.actor_name,
        channel: r.channel,
        text: r.text,
        service: r.service,
        environment: r.environment,
        decision: r.decision.as_str().to_string(),
        reason: r.reason,
        approver: r.approver,
        status: r.outcome.as_str().to_string(),
        summary: r.summary,
        duration_ms: r.duration_ms,
    }
}

#[async_trait]
impl AuditQuery for AuditLog {
    async fn recent(&self, filter: &AuditFilter) -> Result<Vec<AuditView>, AuditQueryError> {
        match self.search(filter).await {
            Ok(entries) => Ok(entries.into_iter().map(view).collect()),
            Err(error) => Err(AuditQueryError(Box::new(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::{AuditRecord, AuditWriter, Decision, Outcome, testing::sample},
        store::scratch::backend_tests,
    };

    fn record(
        n: i64,
        actor: (&str, &str),
        service: Option<&str>,
        command: &str,
        decision: Decision,
    ) -> AuditRecord {
        AuditRecord {
            actor_id: actor.0.into(),
            actor_name: actor.1.into(),
            service: service.map(str::to_string),
            command: Some(command.into()),
            decision,
            outcome: if decision == Decision::Allowed {
                Outcome::Ok
            } else {
                Outcome::NotRun
            },
            ..sample(n)
        }
    }

    async fn seqs(log: &AuditLog, filter: AuditFilter) -> Vec<i64> {
        log.recent(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.seq)
            .collect()
    }

    backend_tests! {
        async fn recent_filters_newest_first(db) {
            let writer = AuditWriter::spawn(db.store.clone());
            let alice = ("U1", "alice");
            let bob = ("U2", "bob");
            for r in [
                record(1, alice, Some("gateway"), "restart", Decision::Allowed),
                record(2, bob, Some("gateway"), "restart", Decision::Denied),
                record(3, alice, Some("ollama"), "status", Decision::Allowed),
                record(4, bob, None, "help", Decision::Allowed),
                record(5, alice, Some("gateway"), "rollback", Decision::Pending),
            ] {
                writer.append(r).await.unwrap();
            }
            writer.close().await;
            let log = AuditLog::new(db.store.clone());

            assert_eq!(seqs(&log, AuditFilter { limit: 10, ..Default::default() }).await, [5, 4, 3, 2, 1]);
            assert_eq!(seqs(&log, AuditFilter { limit: 2, ..Default::default() }).await, [5, 4]);
            assert_eq!(seqs(&log, AuditFilter::default()).await.len(), 5, "0 means the default");
            let by = |actor: &str| AuditFilter { limit: 10, actor: Some(actor.into()), ..Default::default() };
            assert_eq!(seqs(&log, by("alice")).await, [5, 3, 1]);
            assert_eq!(seqs(&log, by("U2")).await, [4, 2]);
            assert_eq!(seqs(&log, by("carol")).await, Vec::<i64>::new());
            assert_eq!(
                seqs(&log, AuditFilter { limit: 10, service: Some("gateway".into()), ..Default::default() }).await,
                [5, 2, 1]
            );
            assert_eq!(
                seqs(&log, AuditFilter { limit: 10, command: Some("restart".into()), ..Default::default() }).await,
                [2, 1]
            );
            assert_eq!(
                seqs(&log, AuditFilter { limit: 10, decision: Some("denied".into()), ..Default::default() }).await,
                [2]
            );
            assert_eq!(
                seqs(&log, AuditFilter { limit: 10, since: Some(sample(3).at), ..Default::default() }).await,
                [5, 4, 3]
            );
            assert_eq!(
                seqs(&log, AuditFilter {
                    limit: 10,
                    actor: Some("alice".into()),
                    service: Some("gateway".into()),
                    since: Some(sample(2).at),
                    ..Default::default()
                }).await,
                [5]
            );
            let view = &log.recent(&AuditFilter { limit: 1, ..Default::default() }).await.unwrap()[0];
            assert_eq!(view.decision, "pending");
            assert_eq!(view.status, "not_run");
            assert_eq!(view.actor_name, "alice");
            assert_eq!(view.at, sample(5).at);
        }

        async fn since_holds_when_times_are_out_of_seq_order(db) {
            // A long command is recorded after shorter ones that started later: the window
            // is by time, whatever the seq (the seq bound of the scan must not cut it).
            let writer = AuditWriter::spawn(db.store.clone());
            for n in [1, 5, 2, 4, 3] {
                writer.append(sample(n)).await.unwrap();
            }
            writer.close().await;
            let log = AuditLog::new(db.store.clone());
            let since = |n: i64| AuditFilter { limit: 10, since: Some(sample(n).at), ..Default::default() };
            assert_eq!(seqs(&log, since(4)).await, [4, 2], "at 5 (seq 2) and at 4 (seq 4)");
            assert_eq!(seqs(&log, since(3)).await, [5, 4, 2]);
            assert_eq!(seqs(&log, since(1)).await, [5, 4, 3, 2, 1]);
            assert_eq!(seqs(&log, since(6)).await, Vec::<i64>::new(), "nothing that recent");
        }

        async fn entries_page_in_seq_order(db) {
            crate::audit::testing::fill(&db.store, 25).await;
            let log = AuditLog::new(db.store.clone());
            let mut after = 0;
            let mut seen = Vec::new();
            loop {
                let page = log.entries(after, 10).await.unwrap();
                let Some(last) = page.last() else { break };
                after = last.seq;
                seen.extend(page.iter().map(|e| e.seq));
            }
            assert_eq!(seen, (1..=25).collect::<Vec<_>>());
        }
    }
}

//! What the store holds about one incident, read for its record: the incident, its
//! alerts and timeline events, the audit entries of its thread and of its service during
//! its window, the runbook runs started there, and the health gate passes of its
//! service. Read-only SQL over `incidents`, `incident_alerts`, `incident_events`,
//! `outbox_threads`, `audit_log`, `runbook_runs`, `runbook_run_steps` and
//! `known_good_revisions`; nothing here writes.

use std::collections::HashSet;

use sqlx::{AnyConnection, Row as _};

use super::RecordError;
use crate::{
    audit::{AuditEntry, ENTRY_COLUMNS, decode_entry},
    incidents::{Incident, IncidentAlert, IncidentEvent, model::thread_key, repo},
    store::{
        Store,
        time::{from_micros, to_micros},
    },
};

/// A runbook run started in the incident's thread or by a command of its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunbookRunRecord {
    pub id: i64,
    pub runbook: String,
    /// `running`, `succeeded`, `failed`, …
    pub state: String,
    pub request_id: String,
    /// `Alice (slack:U1)`, `automation:restart-ai`.
    pub started_by: String,
    pub started_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
    pub steps: Vec<RunbookStepRecord>,
}

/// One step of a [`RunbookRunRecord`] that started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunbookStepRecord {
    pub position: i64,
    pub rollback: bool,
    pub description: String,
    pub state: String,
    pub detail: String,
    pub answered_by: Option<String>,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
}

/// A revision of the incident's service that passed the health gate in its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthGatePass {
    pub environment: String,
    pub revision: i64,
    pub revision_id: String,
    pub images: Vec<String>,
    pub passed_at: jiff::Timestamp,
    pub passed_by: String,
}

/// Everything read about one incident.
#[derive(Clone, Debug)]
pub struct IncidentSources {
    pub incident: Incident,
    pub alerts: Vec<IncidentAlert>,
    /// In the order they were written.
    pub events: Vec<IncidentEvent>,
    /// In seq order: typed in its thread, or about its service while it was open;
    /// never about another service.
    pub audit: Vec<AuditEntry>,
    pub runbook_runs: Vec<RunbookRunRecord>,
    pub health_gates: Vec<HealthGatePass>,
}

impl IncidentSources {
    /// Reads it all from the store's read pool.
    pub async fn load(store: &Store, id: i64) -> Result<Self, RecordError> {
        let mut conn = store.read_pool().acquire().await?;
        let incident = repo::get(&mut conn, store.backend(), id, false)
            .await?
            .ok_or(RecordError::NoIncident(id))?;
        let alerts = repo::alerts(&mut conn, id).await?;
        let events = repo::events(&mut conn, id, i64::MAX).await?;
        let until = incident.resolved_at.map_or(i64::MAX, to_micros);
        let audit = audit_entries(&mut conn, &incident, until).await?;
        let threads = thread_roots(&mut conn, id).await?;
        let request_ids: HashSet<&str> =
            audit.iter().map(|e| e.record.request_id.as_str()).collect();
        let runbook_runs =
            runbook_runs(&mut conn, &incident, until, &threads, &request_ids).await?;
        let health_gates = match &incident.service {
            Some(service) => health_gates(&mut conn, service, &incident, until).await?,
            None => Vec::new(),
        };
        Ok(Self {
            incident,
            alerts,
            events,
            audit,
            runbook_runs,
            health_gates,
        })
    }
}

/// `(platform, root message ref)` of every chat thread the incident has.
async fn thread_roots(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<HashSet<(String, String)>, RecordError> {
    let rows =
        sqlx::query("SELECT platform, message_ref FROM outbox_threads WHERE thread_key = $1")
            .bind(thread_key(id))
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// Audit entries typed in one of the incident's threads (from its opening on), about its
/// service from its opening until `until_us`, or `incident` commands that act on it by
/// number from anywhere (a channel, the web console; reads such as `incident show` left
/// out); entries about another service are left out even when typed in the thread.
async fn audit_entries(
    conn: &mut AnyConnection,
    incident: &Incident,
    until_us: i64,
) -> Result<Vec<AuditEntry>, RecordError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log a WHERE a.at_us >= $1 AND ( \
           (a.thread IS NOT NULL AND EXISTS (SELECT 1 FROM outbox_threads t \
              WHERE t.thread_key = $2 AND t.platform = a.platform AND t.message_ref = a.thread)) \
           OR (a.service = $3 AND a.at_us <= $4)) \
         ORDER BY a.seq"
    )))
    .bind(to_micros(incident.opened_at))
    .bind(incident.thread_key())
    .bind(incident.service.clone())
    .bind(until_us)
    .fetch_all(&mut *conn)
    .await?;
    let by_number = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log a WHERE a.at_us >= $1 \
           AND a.command = 'incident' AND (a.text LIKE $2 OR a.text LIKE $3) ORDER BY a.seq"
    )))
    .bind(to_micros(incident.opened_at))
    .bind(format!("% {}", incident.id))
    .bind(format!("% {} %", incident.id))
    .fetch_all(&mut *conn)
    .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in &by_number {
        let entry = decode_entry(row).map_err(crate::audit::AuditError::from)?;
        if names_incident(&entry.record.text, incident.id) {
            entries.push(entry);
        }
    }
    for row in &rows {
        let entry = decode_entry(row).map_err(crate::audit::AuditError::from)?;
        let other_service = entry
            .record
            .service
            .as_deref()
            .is_some_and(|s| Some(s) != incident.service.as_deref());
        if !other_service {
            entries.push(entry);
        }
    }
    entries.sort_by_key(|entry| entry.seq);
    entries.dedup_by_key(|entry| entry.seq);
    Ok(entries)
}

/// Whether `text` is an `incident ACTION ID …` that acts on incident `id` (not a read of
/// it: `show`, `timeline`, `postmortem`).
fn names_incident(text: &str, id: i64) -> bool {
    let mut words = text.split_whitespace();
    let action = words.nth(1);
    let number = words.next().map(|w| w.trim_start_matches('#'));
    number == Some(id.to_string().as_str())
        && !matches!(action, Some("show" | "timeline" | "postmortem"))
}

/// Runs started in the incident's window that were started in one of its threads, by a
/// command of its record (same request id), or with its service as a parameter.
async fn runbook_runs(
    conn: &mut AnyConnection,
    incident: &Incident,
    until_us: i64,
    threads: &HashSet<(String, String)>,
    request_ids: &HashSet<&str>,
) -> Result<Vec<RunbookRunRecord>, RecordError> {
    const TABLE: &str = "runbook_runs";
    let rows = sqlx::query(
        "SELECT id, runbook, params, state, request_id, starter_kind, starter_id, starter_name, \
         platform, thread, started_at_us, finished_at_us FROM runbook_runs \
         WHERE started_at_us >= $1 AND started_at_us <= $2 ORDER BY id",
    )
    .bind(to_micros(incident.opened_at))
    .bind(until_us)
    .fetch_all(&mut *conn)
    .await?;
    let mut runs = Vec::new();
    for row in &rows {
        let request_id: String = row.try_get("request_id")?;
        let platform: String = row.try_get("platform")?;
        let thread: Option<String> = row.try_get("thread")?;
        let params: String = row.try_get("params")?;
        let params: Vec<(String, String)> = serde_json::from_str(&params).unwrap_or_default();
        let in_thread = thread.is_some_and(|t| threads.contains(&(platform, t)));
        let on_service = incident
            .service
            .as_deref()
            .is_some_and(|s| params.iter().any(|(_, value)| value == s));
        if !(in_thread || on_service || request_ids.contains(request_id.as_str())) {
            continue;
        }
        let id: i64 = row.try_get("id")?;
        let kind: String = row.try_get("starter_kind")?;
        let starter_id: String = row.try_get("starter_id")?;
        let name: String = row.try_get("starter_name")?;
        let finished: Option<i64> = row.try_get("finished_at_us")?;
        runs.push(RunbookRunRecord {
            id,
            runbook: row.try_get("runbook")?,
            state: row.try_get("state")?,
            request_id,
            started_by: opsbot_commands::actor_label(&kind, &starter_id, &name),
            started_at: from_micros(row.try_get("started_at_us")?, TABLE)?,
            finished_at: finished.map(|m| from_micros(m, TABLE)).transpose()?,
            steps: runbook_steps(conn, id).await?,
        });
    }
    Ok(runs)
}

async fn runbook_steps(
    conn: &mut AnyConnection,
    run_id: i64,
) -> Result<Vec<RunbookStepRecord>, RecordError> {
    const TABLE: &str = "runbook_run_steps";
    let rows = sqlx::query(
        "SELECT position, rollback, description, state, detail, answered_by, started_at_us, \
         finished_at_us FROM runbook_run_steps WHERE run_id = $1 ORDER BY position",
    )
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut steps = Vec::with_capacity(rows.len());
    for row in &rows {
        let started: Option<i64> = row.try_get("started_at_us")?;
        let finished: Option<i64> = row.try_get("finished_at_us")?;
        steps.push(RunbookStepRecord {
            position: row.try_get("position")?,
            rollback: row.try_get::<i64, _>("rollback")? != 0,
            description: row.try_get("description")?,
            state: row.try_get("state")?,
            detail: row.try_get("detail")?,
            answered_by: row.try_get("answered_by")?,
            started_at: started.map(|m| from_micros(m, TABLE)).transpose()?,
            finished_at: finished.map(|m| from_micros(m, TABLE)).transpose()?,
        });
    }
    Ok(steps)
}

async fn health_gates(
    conn: &mut AnyConnection,
    service: &str,
    incident: &Incident,
    until_us: i64,
) -> Result<Vec<HealthGatePass>, RecordError> {
    const TABLE: &str = "known_good_revisions";
    let rows = sqlx::query(
        "SELECT environment, revision_id, revision, images, passed_at_us, passed_by \
         FROM known_good_revisions WHERE service = $1 AND passed_at_us >= $2 \
         AND passed_at_us <= $3 ORDER BY passed_at_us",
    )
    .bind(service)
    .bind(to_micros(incident.opened_at))
    .bind(until_us)
    .fetch_all(&mut *conn)
    .await?;
    let mut passes = Vec::with_capacity(rows.len());
    for row in &rows {
        let images: String = row.try_get("images")?;
        passes.push(HealthGatePass {
            environment: row.try_get("environment")?,
            revision: row.try_get("revision")?,
            revision_id: row.try_get("revision_id")?,
            images: images.lines().map(str::to_string).collect(),
            passed_at: from_micros(row.try_get("passed_at_us")?, TABLE)?,
            passed_by: row.try_get("passed_by")?,
        });
    }
    Ok(passes)
}

#[cfg(test)]
mod names_incident_tests {
    use super::names_incident;

    #[test]
    fn an_incident_command_names_its_incident_by_number_not_by_any_word() {
        assert!(names_incident("incident ack 1", 1));
        assert!(names_incident("incident note #12 rolled back", 12));
        assert!(!names_incident("incident ack 12", 1));
        assert!(!names_incident("incident note 5 saw 1 error", 1));
        assert!(!names_incident("incident show 1", 1));
        assert!(!names_incident("incident postmortem 1", 1));
    }
}

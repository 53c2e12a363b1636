//! The SQL of the incident tables. Every function takes the connection it runs on: the
//! writer's transaction for changes (so alerts, events and outbox messages commit
//! together), a reader for `incident list`/`show`.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row, any::AnyRow};

use super::{
    alert_tally::AlertTally,
    model::{EventKind, Incident, IncidentAlert, IncidentEvent, IncidentStatus},
};
use crate::store::{
    Backend, StoreError,
    time::{from_micros, to_micros},
};

const INCIDENT_COLUMNS: &str = "id, key, group_key, source, service, environment, title, \
     severity, status, silenced, silenced_reason, opened_at_us, acknowledged_at_us, \
     acknowledged_by, resolved_at_us, resolved_by, escalation_policy, escalation_level, \
     next_escalation_us, changed_at_us";

const ALERT_COLUMNS: &str = "fingerprint, name, status, severity, summary, labels, \
     annotations, generator_url, starts_at_us, ends_at_us, first_seen_us, last_seen_us, \
     silenced";

/// `FOR UPDATE` on PostgreSQL (the row stays locked until the transaction ends); nothing
/// on SQLite, where the write transaction already excludes every other writer.
fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// The current incident of a group, locked for the transaction.
pub(crate) async fn find_by_key(
    conn: &mut AnyConnection,
    backend: Backend,
    key: &str,
) -> Result<Option<Incident>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE key = $1{}",
        for_update(backend)
    )))
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode_incident).transpose()
}

/// An incident by id; locked for the transaction when `lock`.
pub(crate) async fn get(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    lock: bool,
) -> Result<Option<Incident>, StoreError> {
    let lock = if lock { for_update(backend) } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode_incident).transpose()
}

/// Inserts a new incident (its `id` is ignored) and returns it with its id. `None` when
/// another transaction took the key first (PostgreSQL); the caller reads that one.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    incident: &Incident,
) -> Result<Option<Incident>, StoreError> {
    let row = sqlx::query(
        "INSERT INTO incidents (key, group_key, source, service, environment, title, \
         severity, status, silenced, silenced_reason, opened_at_us, escalation_policy, \
         escalation_level, next_escalation_us, changed_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (key) DO NOTHING RETURNING id",
    )
    .bind(incident.key.as_str())
    .bind(incident.group_key.as_str())
    .bind(incident.source.as_str())
    .bind(incident.service.as_deref())
    .bind(incident.environment.as_deref())
    .bind(incident.title.as_str())
    .bind(incident.severity.as_str())
    .bind(incident.status.as_str())
    .bind(i64::from(incident.silenced))
    .bind(incident.silenced_reason.as_deref())
    .bind(to_micros(incident.opened_at))
    .bind(incident.escalation_policy.as_deref())
    .bind(incident.escalation_level)
    .bind(incident.next_escalation_at.map(to_micros))
    .bind(to_micros(incident.changed_at))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(row) => Some(Incident {
            id: row.try_get(0)?,
            ..incident.clone()
        }),
        None => None,
    })
}

/// Gives a resolved incident's key up (`key@id`) so a new incident of its group can
/// take it.
pub(crate) async fn retire_key(
    conn: &mut AnyConnection,
    incident: &Incident,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE incidents SET key = $1 WHERE id = $2")
        .bind(format!("{}@{}", incident.key, incident.id))
        .bind(incident.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes every mutable column of `incident`.
pub(crate) async fn update(
    conn: &mut AnyConnection,
    incident: &Incident,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE incidents SET title = $1, severity = $2, status = $3, silenced = $4, \
         silenced_reason = $5, acknowledged_at_us = $6, acknowledged_by = $7, \
         resolved_at_us = $8, resolved_by = $9, escalation_level = $10, \
         next_escalation_us = $11, changed_at_us = $12, opened_at_us = $13 WHERE id = $14",
    )
    .bind(incident.title.as_str())
    .bind(incident.severity.as_str())
    .bind(incident.status.as_str())
    .bind(i64::from(incident.silenced))
    .bind(incident.silenced_reason.as_deref())
    .bind(incident.acknowledged_at.map(to_micros))
    .bind(incident.acknowledged_by.as_deref())
    .bind(incident.resolved_at.map(to_micros))
    .bind(incident.resolved_by.as_deref())
    .bind(incident.escalation_level)
    .bind(incident.next_escalation_at.map(to_micros))
    .bind(to_micros(incident.changed_at))
    .bind(to_micros(incident.opened_at))
    .bind(incident.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every alert of an incident, firing first, then by name.
pub(crate) async fn alerts(
    conn: &mut AnyConnection,
    incident_id: i64,
) -> Result<Vec<IncidentAlert>, StoreError> {
    alerts_where(conn, incident_id, "", "status, name, fingerprint").await
}

/// The alerts of an incident firing now (what the automations and the investigator look
/// at each time it fires: not the resolved ones, however many).
pub(crate) async fn firing_alerts(
    conn: &mut AnyConnection,
    incident_id: i64,
) -> Result<Vec<IncidentAlert>, StoreError> {
    alerts_where(
        conn,
        incident_id,
        "AND status = 'firing'",
        "name, fingerprint",
    )
    .await
}

/// The alerts of an incident that pass `filter` (a constant `AND …` clause), in `order`.
async fn alerts_where(
    conn: &mut AnyConnection,
    incident_id: i64,
    filter: &'static str,
    order: &'static str,
) -> Result<Vec<IncidentAlert>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM incident_alerts WHERE incident_id = $1 {filter} \
         ORDER BY {order}"
    )))
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode_alert).collect()
}

/// The alerts of an incident with these fingerprints (those it has).
pub(crate) async fn alerts_with_fingerprints(
    conn: &mut AnyConnection,
    incident_id: i64,
    fingerprints: &[&str],
) -> Result<Vec<IncidentAlert>, StoreError> {
    let mut found = Vec::with_capacity(fingerprints.len());
    for chunk in fingerprints.chunks(rows_per_statement(1)) {
        let mut marks = Placeholders::for_connection(conn);
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM incident_alerts WHERE incident_id = {} \
             AND fingerprint IN ({})",
            marks.one(),
            marks.rows(chunk.len(), 1)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(incident_id);
        for fingerprint in chunk {
            query = query.bind(*fingerprint);
        }
        for row in query.fetch_all(&mut *conn).await? {
            found.push(decode_alert(&row)?);
        }
    }
    Ok(found)
}

/// The first `limit` alerts of an incident, firing first, then by name (for the root
/// message).
pub(crate) async fn listed_alerts(
    conn: &mut AnyConnection,
    incident_id: i64,
    limit: usize,
) -> Result<Vec<IncidentAlert>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM incident_alerts WHERE incident_id = $1 \
         ORDER BY status, name, fingerprint LIMIT $2"
    )))
    .bind(incident_id)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode_alert).collect()
}

/// The alerts of an incident, counted by status, severity and silencing.
pub(crate) async fn alert_tally(
    conn: &mut AnyConnection,
    incident_id: i64,
) -> Result<AlertTally, StoreError> {
    let rows = sqlx::query(
        "SELECT status, severity, silenced, COUNT(*) FROM incident_alerts \
         WHERE incident_id = $1 GROUP BY status, severity, silenced",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut tally = AlertTally::default();
    for row in rows {
        let status: String = row.try_get(0)?;
        let severity: String = row.try_get(1)?;
        let silenced: i64 = row.try_get(2)?;
        let count: i64 = row.try_get(3)?;
        tally.add(
            status == "firing",
            &severity,
            silenced != 0,
            usize::try_from(count).unwrap_or(0),
        );
    }
    Ok(tally)
}

/// Bind parameters per multi-row statement, far below both backends' limits (SQLite
/// 32,766, PostgreSQL 65,535).
const MAX_PARAMS_PER_STATEMENT: usize = 1024;

/// Rows of `width` columns per statement.
const fn rows_per_statement(width: usize) -> usize {
    MAX_PARAMS_PER_STATEMENT / width
}

/// Placeholders of a multi-row statement: `$1, $2, …` on PostgreSQL, plain `?` on SQLite,
/// where sqlx looks every named parameter up by name in a list (time linear in the
/// parameter count, so a large statement binds in quadratic time; measured: a third of
/// ingest time at 2,800 parameters).
struct Placeholders {
    positional: bool,
    next: usize,
}

impl Placeholders {
    fn for_connection(conn: &AnyConnection) -> Self {
        Self {
            positional: conn.backend_name().eq_ignore_ascii_case("sqlite"),
            next: 1,
        }
    }

    /// The next placeholder.
    fn one(&mut self) -> String {
        if self.positional {
            "?".to_string()
        } else {
            let text = format!("${}", self.next);
            self.next += 1;
            text
        }
    }

    /// `(…), (…)`: `rows` tuples of `width` placeholders, or a flat list when `width`
    /// is 1.
    fn rows(&mut self, rows: usize, width: usize) -> String {
        let mut sql = String::with_capacity(rows * width * 6);
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            if width > 1 {
                sql.push('(');
            }
            for column in 0..width {
                if column > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&self.one());
            }
            if width > 1 {
                sql.push(')');
            }
        }
        sql
    }
}

/// Inserts or replaces alerts of an incident, many rows per statement.
pub(crate) async fn upsert_alerts(
    conn: &mut AnyConnection,
    incident_id: i64,
    alerts: &[IncidentAlert],
) -> Result<(), StoreError> {
    for chunk in alerts.chunks(rows_per_statement(14)) {
        let sql = format!(
            "INSERT INTO incident_alerts (incident_id, fingerprint, name, status, severity, \
             summary, labels, annotations, generator_url, starts_at_us, ends_at_us, \
             first_seen_us, last_seen_us, silenced) VALUES {} \
             ON CONFLICT (incident_id, fingerprint) DO UPDATE SET name = excluded.name, \
             status = excluded.status, severity = excluded.severity, \
             summary = excluded.summary, labels = excluded.labels, \
             annotations = excluded.annotations, generator_url = excluded.generator_url, \
             starts_at_us = excluded.starts_at_us, ends_at_us = excluded.ends_at_us, \
             last_seen_us = excluded.last_seen_us, silenced = excluded.silenced",
            Placeholders::for_connection(conn).rows(chunk.len(), 14)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for alert in chunk {
            query = query
                .bind(incident_id)
                .bind(alert.fingerprint.as_str())
                .bind(alert.name.as_str())
                .bind(alert.status.as_str())
                .bind(alert.severity.as_str())
                .bind(alert.summary.as_str())
                .bind(json(&alert.labels))
                .bind(json(&alert.annotations))
                .bind(alert.generator_url.as_deref())
                .bind(alert.starts_at.map(to_micros))
                .bind(alert.ends_at.map(to_micros))
                .bind(to_micros(alert.first_seen))
                .bind(to_micros(alert.last_seen))
                .bind(i64::from(alert.silenced));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Appends timeline events of one incident, many per statement, and returns their ids
/// in the order given.
pub(crate) async fn insert_events(
    conn: &mut AnyConnection,
    incident_id: i64,
    events: &[(jiff::Timestamp, EventKind, Option<&str>, &str)],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(events.len());
    for chunk in events.chunks(rows_per_statement(5)) {
        let sql = format!(
            "INSERT INTO incident_events (incident_id, at_us, kind, actor, detail) \
             VALUES {} RETURNING id",
            Placeholders::for_connection(conn).rows(chunk.len(), 5)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (at, kind, actor, detail) in chunk {
            query = query
                .bind(incident_id)
                .bind(to_micros(*at))
                .bind(kind.as_str())
                .bind(*actor)
                .bind(*detail);
        }
        let mut chunk_ids = query
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        // Ids grow in insertion order on both backends (one statement, one sequence);
        // RETURNING's row order is not promised, so sort.
        chunk_ids.sort_unstable();
        ids.extend(chunk_ids);
    }
    Ok(ids)
}

/// Appends a timeline event and returns its id.
pub(crate) async fn insert_event(
    conn: &mut AnyConnection,
    incident_id: i64,
    at: jiff::Timestamp,
    kind: EventKind,
    actor: Option<&str>,
    detail: &str,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO incident_events (incident_id, at_us, kind, actor, detail) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(incident_id)
    .bind(to_micros(at))
    .bind(kind.as_str())
    .bind(actor)
    .bind(detail)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// An incident's timeline, oldest first (the newest `limit`).
pub(crate) async fn events(
    conn: &mut AnyConnection,
    incident_id: i64,
    limit: i64,
) -> Result<Vec<IncidentEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, incident_id, at_us, kind, actor, detail FROM incident_events \
         WHERE incident_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(incident_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut events = rows
        .iter()
        .map(decode_event)
        .collect::<Result<Vec<_>, _>>()?;
    events.reverse();
    Ok(events)
}

/// Where an incident is shown in chat: one platform and channel, and the open storm
/// board it is folded into there, if it is (`None`: it has, or gets, its own root and
/// thread; an incident left on a board that closed, resolved then, gets one if it
/// changes again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MessageTarget {
    pub platform: String,
    pub channel: String,
    pub folded_into: Option<i64>,
    /// Still folded into a board that closed (left there resolved): the board it was
    /// on. It gets its own root when it changes again.
    pub stranded_on: Option<i64>,
    /// The board it was last folded into, open or closed, folded now or not (None: it
    /// never was).
    pub last_board: Option<i64>,
}

/// Where an incident's thread is, by platform and channel.
pub(crate) async fn message_targets(
    conn: &mut AnyConnection,
    incident_id: i64,
) -> Result<Vec<MessageTarget>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.platform, m.channel, CASE WHEN m.folded = 1 THEN b.id END, \
           CASE WHEN m.folded = 1 AND b.id IS NULL THEN m.storm_board END, m.storm_board \
         FROM incident_messages m LEFT JOIN storm_boards b \
           ON b.id = m.storm_board AND b.closed_at_us IS NULL \
         WHERE m.incident_id = $1 ORDER BY m.platform, m.channel",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(MessageTarget {
                platform: row.try_get(0)?,
                channel: row.try_get(1)?,
                folded_into: row.try_get(2)?,
                stranded_on: row.try_get(3)?,
                last_board: row.try_get(4)?,
            })
        })
        .collect()
}

pub(crate) async fn insert_message_target(
    conn: &mut AnyConnection,
    incident_id: i64,
    platform: &str,
    channel: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO incident_messages (incident_id, platform, channel, thread_key) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(incident_id)
    .bind(platform)
    .bind(channel)
    .bind(super::model::thread_key(incident_id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Filters for [`list`].
#[derive(Clone, Debug, Default)]
pub(crate) struct ListFilter {
    /// Only these statuses (every status when empty).
    pub statuses: Vec<IncidentStatus>,
    pub service: Option<String>,
    pub limit: i64,
}

/// Incidents, newest first.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    filter: &ListFilter,
) -> Result<Vec<Incident>, StoreError> {
    let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1");
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if !filter.statuses.is_empty() {
        let marks: Vec<String> = filter
            .statuses
            .iter()
            .map(|_| format!("${}", next()))
            .collect();
        sql.push_str(&format!(" AND status IN ({})", marks.join(", ")));
    }
    if filter.service.is_some() {
        sql.push_str(&format!(" AND service = ${}", next()));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", next()));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for status in &filter.statuses {
        query = query.bind(status.as_str());
    }
    if let Some(service) = &filter.service {
        query = query.bind(service.as_str());
    }
    let rows = query.bind(filter.limit).fetch_all(&mut *conn).await?;
    rows.iter().map(decode_incident).collect()
}

/// Counts of alerts per incident: `(firing, total)`.
pub(crate) async fn alert_counts(
    conn: &mut AnyConnection,
    incident_id: i64,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN status = 'firing' THEN 1 ELSE 0 END), 0), COUNT(*) \
         FROM incident_alerts WHERE incident_id = $1",
    )
    .bind(incident_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The incident whose root message is `root_ref` in `channel` on `platform`, with its
/// service: joins our thread keys with the outbox's posted roots (`outbox_threads`).
pub(crate) async fn by_thread(
    conn: &mut AnyConnection,
    platform: &str,
    channel: &str,
    root_ref: &str,
) -> Result<Option<(i64, Option<String>)>, StoreError> {
    let row = sqlx::query(
        "SELECT i.id, i.service FROM outbox_threads t \
         JOIN incident_messages m ON m.platform = t.platform AND m.thread_key = t.thread_key \
         JOIN incidents i ON i.id = m.incident_id \
         WHERE t.platform = $1 AND t.channel = $2 AND t.message_ref = $3 \
         ORDER BY i.id DESC LIMIT 1",
    )
    .bind(platform)
    .bind(channel)
    .bind(root_ref)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}

/// Incidents whose escalation time has come, oldest deadline first; on PostgreSQL the
/// rows are claimed (`FOR UPDATE SKIP LOCKED`) so two replicas never escalate the same.
pub(crate) async fn due_escalations(
    conn: &mut AnyConnection,
    backend: Backend,
    now: jiff::Timestamp,
    limit: i64,
) -> Result<Vec<Incident>, StoreError> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents \
         WHERE next_escalation_us IS NOT NULL AND next_escalation_us <= $1 \
         AND status <> 'resolved' ORDER BY next_escalation_us LIMIT $2{lock}"
    )))
    .bind(to_micros(now))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode_incident).collect()
}

fn json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

fn unjson(text: &str, table: &'static str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(table, format!("bad JSON: {e}")))
}

fn optional_time(
    row: &AnyRow,
    column: &str,
    table: &'static str,
) -> Result<Option<jiff::Timestamp>, StoreError> {
    let micros: Option<i64> = row.try_get(column)?;
    micros.map(|m| from_micros(m, table)).transpose()
}

fn decode_incident(row: &AnyRow) -> Result<Incident, StoreError> {
    const TABLE: &str = "incidents";
    let status: String = row.try_get("status")?;
    let silenced: i64 = row.try_get("silenced")?;
    Ok(Incident {
        id: row.try_get("id")?,
        key: row.try_get("key")?,
        group_key: row.try_get("group_key")?,
        source: row.try_get("source")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        title: row.try_get("title")?,
        severity: row.try_get("severity")?,
        status: IncidentStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt(TABLE, format!("unknown status {status:?}")))?,
        silenced: silenced != 0,
        silenced_reason: row.try_get("silenced_reason")?,
        opened_at: from_micros(row.try_get("opened_at_us")?, TABLE)?,
        acknowledged_at: optional_time(row, "acknowledged_at_us", TABLE)?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        resolved_at: optional_time(row, "resolved_at_us", TABLE)?,
        resolved_by: row.try_get("resolved_by")?,
        escalation_policy: row.try_get("escalation_policy")?,
        escalation_level: row.try_get("escalation_level")?,
        next_escalation_at: optional_time(row, "next_escalation_us", TABLE)?,
        changed_at: from_micros(row.try_get("changed_at_us")?, TABLE)?,
    })
}

fn decode_alert(row: &AnyRow) -> Result<IncidentAlert, StoreError> {
    const TABLE: &str = "incident_alerts";
    let labels: String = row.try_get("labels")?;
    let annotations: String = row.try_get("annotations")?;
    let silenced: i64 = row.try_get("silenced")?;
    Ok(IncidentAlert {
        fingerprint: row.try_get("fingerprint")?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        severity: row.try_get("severity")?,
        summary: row.try_get("summary")?,
        labels: unjson(&labels, TABLE)?,
        annotations: unjson(&annotations, TABLE)?,
        generator_url: row.try_get("generator_url")?,
        starts_at: optional_time(row, "starts_at_us", TABLE)?,
        ends_at: optional_time(row, "ends_at_us", TABLE)?,
        first_seen: from_micros(row.try_get("first_seen_us")?, TABLE)?,
        last_seen: from_micros(row.try_get("last_seen_us")?, TABLE)?,
        silenced: silenced != 0,
    })
}

fn decode_event(row: &AnyRow) -> Result<IncidentEvent, StoreError> {
    const TABLE: &str = "incident_events";
    let kind: String = row.try_get("kind")?;
    Ok(IncidentEvent {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        at: from_micros(row.try_get("at_us")?, TABLE)?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::corrupt(TABLE, format!("unknown kind {kind:?}")))?,
        actor: row.try_get("actor")?,
        detail: row.try_get("detail")?,
    })
}

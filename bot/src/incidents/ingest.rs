//! Alert batches into incidents, in one write transaction per batch: map each alert to
//! a service, group it, dedupe it by fingerprint, move incidents through open →
//! (acknowledged) → resolved → reopened, record silenced alerts, append the timeline,
//! and enqueue the chat messages. When this returns `Ok`, everything is committed.

use std::collections::{BTreeMap, HashMap};

use opsbot_alerts::{Alert, AlertBatch, AlertStatus, Severity};
use opsbot_commands::{Catalog, Service};
use sqlx::AnyConnection;

use super::{
    escalation, maintenance,
    model::{EventKind, Incident, IncidentAlert, IncidentStatus},
    notify, repo, routing,
    settings::IncidentSettings,
    silence::{self, Silence},
    timeline::Change,
};
use crate::store::{Backend, Store, StoreError};

/// What one batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Alerts taken (all of the batch).
    pub accepted: usize,
    /// Incidents the batch touched (opened, updated or only deduplicated into), by id.
    pub incidents: Vec<i64>,
    /// Incidents that opened or fired again (an alert fired anew) in this batch and are
    /// not resolved: what `[[automations]]` are evaluated on, after the commit.
    pub fired: Vec<i64>,
}

/// The alerts of one incident group within a batch.
struct Group<'b> {
    key: String,
    service: Option<&'b Service>,
    alerts: Vec<(&'b Alert, BTreeMap<String, String>)>,
}

/// Opens the write transaction: `BEGIN IMMEDIATE` on SQLite (take the write lock now, so
/// a second process waits on the busy timeout instead of failing at the first write).
pub(crate) async fn begin_write(
    store: &Store,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    Ok(match store.backend() {
        Backend::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => store.pool().begin().await?,
    })
}

/// Ingests one batch. `now` is when it arrived.
pub async fn ingest(
    store: &Store,
    settings: &IncidentSettings,
    catalog: &Catalog,
    batch: &AlertBatch,
    now: jiff::Timestamp,
) -> Result<IngestOutcome, StoreError> {
    let mut outcomes = ingest_all(store, settings, catalog, &[(batch, now)]).await?;
    Ok(outcomes.pop().unwrap_or_default())
}

/// Ingests several batches in one write transaction (group commit): all of them are
/// committed when this returns `Ok`, none when it fails. Outcomes in the given order.
pub async fn ingest_all(
    store: &Store,
    settings: &IncidentSettings,
    catalog: &Catalog,
    batches: &[(&AlertBatch, jiff::Timestamp)],
) -> Result<Vec<IngestOutcome>, StoreError> {
    let planned: Vec<(Vec<Group<'_>>, &AlertBatch, jiff::Timestamp)> = batches
        .iter()
        .map(|&(batch, now)| (group(settings, catalog, batch), batch, now))
        .collect();
    let mut outcomes: Vec<IngestOutcome> = batches
        .iter()
        .map(|(batch, _)| IngestOutcome {
            accepted: batch.alerts.len(),
            incidents: Vec::new(),
            fired: Vec::new(),
        })
        .collect();
    let Some(earliest) = planned
        .iter()
        .filter(|(groups, _, _)| !groups.is_empty())
        .map(|(_, _, now)| *now)
        .min()
    else {
        return Ok(outcomes);
    };
    let mut tx = begin_write(store).await?;
    let silences = silence::active(&mut tx, earliest).await?;
    for ((groups, batch, now), outcome) in planned.iter().zip(&mut outcomes) {
        let ctx = GroupCtx {
            backend: store.backend(),
            settings,
            catalog,
            batch,
            silences: &silences,
            now: *now,
        };
        for group in groups {
            if let Some((id, fired)) = ingest_group(&mut tx, &ctx, group).await? {
                outcome.incidents.push(id);
                if fired {
                    outcome.fired.push(id);
                }
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Ingests one batch of a signed request unless `seen` is already recorded (a replay;
/// see [`crate::store::seen_requests`]): the record and the batch commit in the same
/// transaction, so a failed ingest leaves no record and the sender's retry is ingested,
/// and of two copies arriving together exactly one is. `Ok(None)`: a replay, nothing was
/// written. Outside the group commit: signed senders (Grafana) are few and small.
pub async fn ingest_once(
    store: &Store,
    settings: &IncidentSettings,
    catalog: &Catalog,
    batch: &AlertBatch,
    now: jiff::Timestamp,
    seen: &crate::store::seen_requests::SeenRequest,
) -> Result<Option<IngestOutcome>, StoreError> {
    let groups = group(settings, catalog, batch);
    let mut outcome = IngestOutcome {
        accepted: batch.alerts.len(),
        incidents: Vec::new(),
        fired: Vec::new(),
    };
    let mut tx = begin_write(store).await?;
    if !crate::store::seen_requests::record(&mut tx, seen, now).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    if !groups.is_empty() {
        let silences = silence::active(&mut tx, now).await?;
        let ctx = GroupCtx {
            backend: store.backend(),
            settings,
            catalog,
            batch,
            silences: &silences,
            now,
        };
        for group in &groups {
            if let Some((id, fired)) = ingest_group(&mut tx, &ctx, group).await? {
                outcome.incidents.push(id);
                if fired {
                    outcome.fired.push(id);
                }
            }
        }
    }
    tx.commit().await?;
    Ok(Some(outcome))
}

/// The alerts of `batch` by incident group, in order of first appearance.
fn group<'b>(
    settings: &IncidentSettings,
    catalog: &'b Catalog,
    batch: &'b AlertBatch,
) -> Vec<Group<'b>> {
    let mut groups: Vec<Group<'b>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for alert in &batch.alerts {
        let labels = routing::effective_labels(batch, alert);
        let service = routing::service_for(catalog, settings, &labels);
        let key = routing::group_key(batch, settings, service, &labels);
        let slot = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(Group {
                key,
                service,
                alerts: Vec::new(),
            });
            groups.len() - 1
        });
        groups[slot].alerts.push((alert, labels));
    }
    groups
}

struct GroupCtx<'a> {
    backend: Backend,
    settings: &'a IncidentSettings,
    catalog: &'a Catalog,
    batch: &'a AlertBatch,
    silences: &'a [Silence],
    now: jiff::Timestamp,
}

/// Why an alert is silenced now, if it is.
fn silenced_by(
    ctx: &GroupCtx<'_>,
    service: Option<&Service>,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    let name = service.map(|s| s.name.as_str());
    if let Some(window) = maintenance::covering(&ctx.settings.maintenance, name, ctx.now) {
        return Some(format!("maintenance window `{}`", window.name));
    }
    ctx.silences
        .iter()
        .find(|s| s.matches(name, labels))
        .map(|s| format!("silence {} ({}): {}", s.id, s.describe(), s.reason))
}

fn describe(alert: &Alert) -> String {
    if alert.summary() == alert.name() {
        alert.name().to_string()
    } else {
        format!("{} — {}", alert.name(), alert.summary())
    }
}

fn new_incident(ctx: &GroupCtx<'_>, group: &Group<'_>) -> Incident {
    let first = group
        .alerts
        .iter()
        .find(|(a, _)| a.status == AlertStatus::Firing)
        .or(group.alerts.first())
        .map(|(a, _)| *a);
    let title = match (first, group.service) {
        (Some(alert), Some(service)) => format!("{} on {}", alert.name(), service.name),
        (Some(alert), None) => alert.name().to_string(),
        (None, _) => "alert".to_string(),
    };
    Incident {
        id: 0,
        key: group.key.clone(),
        group_key: group.key.clone(),
        source: ctx.batch.source.as_str().to_string(),
        service: group.service.map(|s| s.name.to_string()),
        environment: group
            .service
            .map(|s| s.environment.to_string())
            .or_else(|| first.and_then(|a| a.labels.get("environment").cloned())),
        title,
        severity: first
            .map_or(Severity::Warning, |a| a.severity())
            .as_str()
            .to_string(),
        status: IncidentStatus::Open,
        silenced: false,
        silenced_reason: None,
        opened_at: ctx.now,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        escalation_policy: group
            .service
            .and_then(|s| s.escalation.clone())
            .or_else(|| ctx.settings.default_escalation.clone()),
        escalation_level: 0,
        next_escalation_at: None,
        changed_at: ctx.now,
    }
}

/// Creates the incident of a group (or finds the one a concurrent replica just made).
async fn open(
    conn: &mut AnyConnection,
    ctx: &GroupCtx<'_>,
    group: &Group<'_>,
) -> Result<(Incident, bool), StoreError> {
    let fresh = new_incident(ctx, group);
    match repo::insert(conn, &fresh).await? {
        Some(incident) => {
            for (platform, channel) in routing::channels(ctx.settings, group.service) {
                repo::insert_message_target(conn, incident.id, platform.as_str(), &channel).await?;
            }
            Ok((incident, true))
        }
        None => {
            let existing = repo::find_by_key(conn, ctx.backend, &group.key)
                .await?
                .ok_or_else(|| StoreError::corrupt("incidents", "key taken but not found"))?;
            Ok((existing, false))
        }
    }
}

async fn ingest_group(
    conn: &mut AnyConnection,
    ctx: &GroupCtx<'_>,
    group: &Group<'_>,
) -> Result<Option<(i64, bool)>, StoreError> {
    let now = ctx.now;
    let mut change = Change::default();
    let mut current = repo::find_by_key(conn, ctx.backend, &group.key).await?;
    // Only this group's alerts are loaded: an incident may hold thousands.
    let existing_alerts: HashMap<String, IncidentAlert> = match &current {
        Some(incident) => {
            let fingerprints: Vec<&str> = group
                .alerts
                .iter()
                .map(|(a, _)| a.fingerprint.as_str())
                .collect();
            repo::alerts_with_fingerprints(conn, incident.id, &fingerprints)
                .await?
                .into_iter()
                .map(|a| (a.fingerprint.clone(), a))
                .collect()
        }
        None => HashMap::new(),
    };
    // Does anything fire anew (a new alert, or one that had resolved)?
    let fires_anew = group.alerts.iter().any(|(alert, _)| {
        alert.status == AlertStatus::Firing
            && existing_alerts
                .get(&alert.fingerprint)
                .is_none_or(|a| !a.is_firing())
    });
    let mut opened = false;
    let mut restart_clock = false;
    if let Some(incident) = &current
        && incident.status == IncidentStatus::Resolved
        && fires_anew
    {
        let resolved_at = incident.resolved_at.unwrap_or(incident.changed_at);
        let window = jiff::SignedDuration::try_from(ctx.settings.reopen_window)
            .unwrap_or(jiff::SignedDuration::MAX);
        if now.duration_since(resolved_at) <= window {
            let mut reopened = incident.clone();
            reopened.status = IncidentStatus::Open;
            reopened.acknowledged_at = None;
            reopened.acknowledged_by = None;
            reopened.resolved_at = None;
            reopened.resolved_by = None;
            change
                .record(
                    conn,
                    reopened.id,
                    now,
                    EventKind::Reopened,
                    None,
                    format!(
                        "fired again {} after it resolved",
                        super::render::lasted(resolved_at, now)
                    ),
                )
                .await?;
            restart_clock = true;
            current = Some(reopened);
        } else {
            repo::retire_key(conn, incident).await?;
            current = None;
        }
    }
    let alerts_now: HashMap<String, IncidentAlert> = match &current {
        Some(_) => existing_alerts,
        None => HashMap::new(),
    };
    let mut incident = match current {
        Some(incident) => incident,
        None => {
            if !group
                .alerts
                .iter()
                .any(|(a, _)| a.status == AlertStatus::Firing)
            {
                // Resolved alerts of an incident we never opened (or long gone): nothing
                // to tell anyone.
                return Ok(None);
            }
            let (incident, created) = open(conn, ctx, group).await?;
            if created {
                opened = true;
                restart_clock = true;
                change
                    .record(
                        conn,
                        incident.id,
                        now,
                        EventKind::Opened,
                        None,
                        incident.title.clone(),
                    )
                    .await?;
            }
            incident
        }
    };

    let mut rows: Vec<IncidentAlert> = Vec::with_capacity(group.alerts.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(group.alerts.len());
    for (alert, labels) in &group.alerts {
        let silenced = silenced_by(ctx, group.service, labels);
        // A fingerprint twice in one batch: the later copy wins, as it would one by one.
        let previous = match seen.get(alert.fingerprint.as_str()) {
            Some(&slot) => Some(&rows[slot]),
            None => alerts_now.get(&alert.fingerprint),
        };
        let status = alert.status.as_str();
        let changed = previous.is_none_or(|p| p.status != status);
        let row = IncidentAlert {
            fingerprint: alert.fingerprint.clone(),
            name: alert.name().to_string(),
            status: status.to_string(),
            severity: alert.severity().as_str().to_string(),
            summary: alert.summary().to_string(),
            labels: labels.clone(),
            annotations: alert.annotations.clone(),
            generator_url: alert.generator_url.clone(),
            starts_at: alert.starts_at,
            ends_at: alert.ends_at,
            first_seen: previous.map_or(now, |p| p.first_seen),
            last_seen: now,
            silenced: silenced.is_some(),
        };
        if changed {
            let (kind, mut detail) = match alert.status {
                AlertStatus::Firing => (EventKind::AlertFiring, describe(alert)),
                AlertStatus::Resolved => (EventKind::AlertResolved, describe(alert)),
            };
            if alert.status == AlertStatus::Firing
                && let Some(reason) = &silenced
            {
                detail.push_str(&format!(" (silenced: {reason})"));
            }
            change.stage(incident.id, now, kind, None, detail);
        }
        match seen.get(alert.fingerprint.as_str()) {
            Some(&slot) => rows[slot] = row,
            None => {
                seen.insert(alert.fingerprint.as_str(), rows.len());
                rows.push(row);
            }
        }
    }
    repo::upsert_alerts(conn, incident.id, &rows).await?;
    change.flush(conn).await?;

    // The incident's state follows from all its alerts, counted in the store.
    let tally = repo::alert_tally(conn, incident.id).await?;
    let worst = tally.severity();
    let was_silenced = incident.silenced;
    let silenced_reason = if tally.all_firing_silenced() {
        // The reason of the first firing alert, re-derived for the message.
        group
            .alerts
            .iter()
            .find_map(|(_, labels)| silenced_by(ctx, group.service, labels))
            .or_else(|| incident.silenced_reason.clone())
            .or_else(|| Some("silenced".to_string()))
    } else {
        None
    };
    let severity_changed = incident.severity != worst.as_str();
    incident.severity = worst.as_str().to_string();
    incident.silenced = silenced_reason.is_some();
    incident.silenced_reason = silenced_reason.clone();
    if incident.silenced && !was_silenced && incident.status != IncidentStatus::Resolved {
        change
            .record(
                conn,
                incident.id,
                now,
                EventKind::Silenced,
                None,
                format!(
                    "{} — recorded, not paged",
                    silenced_reason.unwrap_or_default()
                ),
            )
            .await?;
        incident.next_escalation_at = None;
    } else if was_silenced && !incident.silenced && incident.status == IncidentStatus::Open {
        restart_clock = true;
    }
    if incident.status != IncidentStatus::Resolved && tally.all_resolved() {
        incident.status = IncidentStatus::Resolved;
        incident.resolved_at = Some(now);
        incident.resolved_by = Some(ctx.batch.source.as_str().to_string());
        incident.next_escalation_at = None;
        change
            .record(
                conn,
                incident.id,
                now,
                EventKind::Resolved,
                Some(ctx.batch.source.as_str()),
                format!(
                    "every alert resolved, after {}",
                    super::render::lasted(incident.opened_at, now)
                ),
            )
            .await?;
    } else if restart_clock && let Some(page) = escalation::start(&mut incident, ctx.settings, now)
    {
        change
            .record(conn, incident.id, now, EventKind::Escalated, None, page)
            .await?;
    }
    if change.is_empty() {
        // A repeat notification: the alerts' last_seen moved, nothing to tell.
        if severity_changed {
            repo::update(conn, &incident).await?;
        }
        let fired = fires_anew && incident.status != IncidentStatus::Resolved;
        return Ok(Some((incident.id, fired)));
    }
    incident.changed_at = now;
    repo::update(conn, &incident).await?;
    notify::publish(
        conn,
        ctx.settings,
        ctx.catalog,
        &incident,
        opened,
        &change.events,
        notify::Cause::Alerts,
    )
    .await?;
    let fired = fires_anew && incident.status != IncidentStatus::Resolved;
    Ok(Some((incident.id, fired)))
}

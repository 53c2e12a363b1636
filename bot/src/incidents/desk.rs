//! What people do to incidents and silences, behind the commands crate's
//! [`IncidentDesk`]: each action is one write transaction that updates the incident,
//! appends to its timeline and enqueues the root edit and thread reply. Acting on (or
//! showing) an incident folded into a storm board gives it its own root and thread;
//! acknowledging a whole service from the board does not.

use async_trait::async_trait;
use opsbot_commands::{
    Actor, Invocation, Platform,
    context::{
        IncidentAction, IncidentDesk, IncidentDetail, IncidentView, SilenceRequest, SilenceView,
        TimelineEntry,
    },
};

use super::{
    Incidents, escalation,
    ingest::begin_write,
    model::{EventKind, Incident, IncidentStatus},
    notify, render, repo,
    silence::{self, Silence},
    storm,
    timeline::Change,
};
use crate::{outbox::Lane, store::StoreError};

/// How a store error is shown to the person who typed the command.
fn shown(error: StoreError) -> String {
    if error.is_unavailable() {
        format!(
            "{} ({error}); try again shortly",
            crate::engine::CANNOT_RECORD
        )
    } else {
        format!("the store failed: {error}")
    }
}

/// The actor as incident timelines print them: `Alice (slack:U1)`.
fn who(actor: &Actor) -> String {
    actor.label()
}

impl Incidents {
    async fn view(
        &self,
        conn: &mut sqlx::AnyConnection,
        incident: &Incident,
    ) -> Result<IncidentView, StoreError> {
        let (firing, alerts) = repo::alert_counts(conn, incident.id).await?;
        Ok(IncidentView {
            id: incident.id,
            title: incident.title.clone(),
            service: incident.service.clone(),
            environment: incident.environment.clone(),
            severity: incident.severity.clone(),
            status: incident.status.as_str().to_string(),
            silenced: incident
                .silenced
                .then(|| incident.silenced_reason.clone().unwrap_or_default()),
            opened_at: incident.opened_at,
            acknowledged_by: incident.acknowledged_by.clone(),
            resolved_at: incident.resolved_at,
            escalation_level: incident.escalation_level,
            firing,
            alerts,
        })
    }

    /// Applies `action` to incident `id` as `actor` at `now`. `Err(Ok(text))` is a
    /// refusal for the user, `Err(Err(_))` a store failure.
    pub async fn act_at(
        &self,
        id: i64,
        action: &IncidentAction,
        actor: &str,
        now: jiff::Timestamp,
    ) -> Result<IncidentView, Result<String, StoreError>> {
        self.act_answered(id, action, actor, now, None).await
    }

    /// Like [`Self::act_at`]; `answered`: the platform and channel whose incident thread
    /// the actor acted in, where their command's reply is the only answer (no thread
    /// update is posted there).
    pub async fn act_answered(
        &self,
        id: i64,
        action: &IncidentAction,
        actor: &str,
        now: jiff::Timestamp,
        answered: Option<(Platform, &str)>,
    ) -> Result<IncidentView, Result<String, StoreError>> {
        self.act_unfolding(id, action, actor, now, answered, true)
            .await
    }

    /// Like [`Self::act_answered`]; `unfold`: an incident folded into a storm board gets
    /// its own root and thread (a responder acting on one incident), or stays on the
    /// board (acknowledging a whole service from the board).
    async fn act_unfolding(
        &self,
        id: i64,
        action: &IncidentAction,
        actor: &str,
        now: jiff::Timestamp,
        answered: Option<(Platform, &str)>,
        unfold: bool,
    ) -> Result<IncidentView, Result<String, StoreError>> {
        let mut tx = begin_write(&self.store).await.map_err(Err)?;
        match self
            .apply(&mut tx, id, action, actor, now, answered, unfold)
            .await
        {
            Ok(view) => {
                tx.commit().await.map_err(|e| Err(e.into()))?;
                crate::outbox::wake();
                Ok(view)
            }
            Err(refused) => {
                // Roll back now: a dropped transaction is rolled back only when its
                // connection is next used, and until then it holds the incident's row
                // lock (PostgreSQL) or the write lock (SQLite `BEGIN IMMEDIATE`).
                tx.rollback().await.map_err(|e| Err(e.into()))?;
                Err(refused)
            }
        }
    }

    /// The body of [`Self::act_at`] inside its transaction (which the caller ends).
    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: i64,
        action: &IncidentAction,
        actor: &str,
        now: jiff::Timestamp,
        answered: Option<(Platform, &str)>,
        unfold: bool,
    ) -> Result<IncidentView, Result<String, StoreError>> {
        let mut incident = repo::get(tx, self.store.backend(), id, true)
            .await
            .map_err(Err)?
            .ok_or_else(|| Ok(format!("there is no incident {id}")))?;
        let mut change = Change::default();
        let status = incident.status;
        let (kind, detail) = match action {
            IncidentAction::Acknowledge => match status {
                IncidentStatus::Open => {
                    incident.status = IncidentStatus::Acknowledged;
                    incident.acknowledged_at = Some(now);
                    incident.acknowledged_by = Some(actor.to_string());
                    escalation::acknowledged(&mut incident, &self.settings, now);
                    (
                        EventKind::Acknowledged,
                        "the paging clock is stopped".to_string(),
                    )
                }
                IncidentStatus::Acknowledged => {
                    return Err(Ok(format!(
                        "incident {id} is already acknowledged by {}",
                        incident.acknowledged_by.as_deref().unwrap_or("someone")
                    )));
                }
                IncidentStatus::Resolved => {
                    return Err(Ok(format!(
                        "incident {id} is resolved; `incident reopen {id}` first"
                    )));
                }
            },
            IncidentAction::Resolve => {
                if status == IncidentStatus::Resolved {
                    return Err(Ok(format!("incident {id} is already resolved")));
                }
                incident.status = IncidentStatus::Resolved;
                incident.resolved_at = Some(now);
                incident.resolved_by = Some(actor.to_string());
                incident.next_escalation_at = None;
                (
                    EventKind::Resolved,
                    format!("by hand, after {}", render::lasted(incident.opened_at, now)),
                )
            }
            IncidentAction::Reopen => {
                if status != IncidentStatus::Resolved {
                    return Err(Ok(format!("incident {id} is not resolved")));
                }
                incident.status = IncidentStatus::Open;
                incident.acknowledged_at = None;
                incident.acknowledged_by = None;
                incident.resolved_at = None;
                incident.resolved_by = None;
                (EventKind::Reopened, "by hand".to_string())
            }
            IncidentAction::Note(text) => (EventKind::Note, text.clone()),
            IncidentAction::Escalate => {
                if status == IncidentStatus::Resolved {
                    return Err(Ok(format!("incident {id} is resolved")));
                }
                let keep = incident.next_escalation_at;
                let page =
                    escalation::step(&mut incident, &self.settings, now).ok_or_else(|| {
                        Ok(format!("incident {id} has no escalation policy to follow"))
                    })?;
                if status == IncidentStatus::Acknowledged {
                    incident.next_escalation_at = keep;
                }
                (EventKind::Escalated, page)
            }
        };
        change
            .record(tx, id, now, kind, Some(actor), detail)
            .await
            .map_err(Err)?;
        if kind == EventKind::Reopened
            && let Some(page) = escalation::start(&mut incident, &self.settings, now)
        {
            change
                .record(tx, id, now, EventKind::Escalated, None, page)
                .await
                .map_err(Err)?;
        }
        incident.changed_at = now;
        repo::update(tx, &incident).await.map_err(Err)?;
        if unfold {
            // Posted with the content this change gives it, before the change's update.
            storm::unfold::unfold_everywhere(
                tx,
                &self.settings,
                &self.catalog,
                &incident,
                Lane::Interactive,
            )
            .await
            .map_err(Err)?;
        }
        notify::publish_answered(
            tx,
            &self.settings,
            &self.catalog,
            &incident,
            false,
            &change.events,
            answered,
        )
        .await
        .map_err(Err)?;
        self.view(tx, &incident).await.map_err(Err)
    }

    /// Gives incident `id` its own root and thread wherever it is folded into a storm
    /// board (`incident show ID`, the board's button); nothing when it is not folded.
    pub async fn unfold_on_demand(
        &self,
        id: i64,
        now: jiff::Timestamp,
    ) -> Result<usize, StoreError> {
        let folded = {
            let mut conn = self.store.read_pool().acquire().await?;
            repo::message_targets(&mut conn, id)
                .await?
                .iter()
                .any(|t| t.folded_into.is_some())
        };
        if !folded {
            return Ok(0);
        }
        let mut tx = begin_write(&self.store).await?;
        let Some(incident) = repo::get(&mut tx, self.store.backend(), id, true).await? else {
            tx.rollback().await?;
            return Ok(0);
        };
        let done = storm::unfold::unfold_everywhere(
            &mut tx,
            &self.settings,
            &self.catalog,
            &incident,
            Lane::Interactive,
        )
        .await?;
        tx.commit().await?;
        if done > 0 {
            tracing::debug!(incident = id, at = %now, "unfolded on demand");
            crate::outbox::wake();
        }
        Ok(done)
    }

    /// Stores a silence from `now` for `request.duration`.
    pub async fn silence_at(
        &self,
        request: &SilenceRequest,
        actor: &str,
        now: jiff::Timestamp,
    ) -> Result<SilenceView, Result<String, StoreError>> {
        let matchers = match &request.matchers {
            Some(text) => silence::parse_matchers(text).map_err(Ok)?,
            None => Vec::new(),
        };
        if matchers.is_empty() && request.service.is_none() {
            return Err(Ok("a silence needs a service or matchers".into()));
        }
        let until = jiff::SignedDuration::try_from(request.duration)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .ok_or_else(|| Ok("that duration is too long".to_string()))?;
        let mut silence = Silence {
            id: 0,
            matchers,
            service: request.service.clone(),
            created_at: now,
            until,
            expired_at: None,
            reason: request.reason.clone(),
            created_by: actor.to_string(),
        };
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(|e| Err(e.into()))?;
        silence.id = silence::insert(&mut conn, &silence).await.map_err(Err)?;
        Ok(silence_view(&silence))
    }
}

fn silence_view(silence: &Silence) -> SilenceView {
    SilenceView {
        id: silence.id,
        target: silence.describe(),
        until: silence.until,
        reason: silence.reason.clone(),
        created_by: silence.created_by.clone(),
    }
}

#[async_trait]
impl IncidentDesk for Incidents {
    async fn list(&self, all: bool, limit: u32) -> Result<Vec<IncidentView>, String> {
        let mut conn = self
            .store
            .read_pool()
            .acquire()
            .await
            .map_err(|e| shown(e.into()))?;
        let filter = repo::ListFilter {
            statuses: if all {
                Vec::new()
            } else {
                vec![IncidentStatus::Open, IncidentStatus::Acknowledged]
            },
            service: None,
            limit: i64::from(limit),
        };
        let incidents = repo::list(&mut conn, &filter).await.map_err(shown)?;
        let mut views = Vec::with_capacity(incidents.len());
        for incident in &incidents {
            views.push(self.view(&mut conn, incident).await.map_err(shown)?);
        }
        Ok(views)
    }

    async fn show(&self, id: i64) -> Result<Option<IncidentDetail>, String> {
        self.unfold_on_demand(id, jiff::Timestamp::now())
            .await
            .map_err(shown)?;
        let mut conn = self
            .store
            .read_pool()
            .acquire()
            .await
            .map_err(|e| shown(e.into()))?;
        let backend = self.store.backend();
        let Some(incident) = repo::get(&mut conn, backend, id, false)
            .await
            .map_err(shown)?
        else {
            return Ok(None);
        };
        let view = self.view(&mut conn, &incident).await.map_err(shown)?;
        let alerts = repo::alerts(&mut conn, id).await.map_err(shown)?;
        let events = repo::events(&mut conn, id, 50).await.map_err(shown)?;
        Ok(Some(IncidentDetail {
            incident: view,
            alerts: alerts
                .iter()
                .map(|a| {
                    format!(
                        "{} {} — {} ({}{})",
                        if a.is_firing() { "🔥" } else { "✅" },
                        a.name,
                        a.summary,
                        a.status,
                        if a.silenced { ", silenced" } else { "" }
                    )
                })
                .collect(),
            timeline: events
                .iter()
                .map(|e| TimelineEntry {
                    at: e.at,
                    text: render::event_line(e),
                })
                .collect(),
        }))
    }

    async fn act(
        &self,
        id: i64,
        action: IncidentAction,
        invocation: &Invocation,
    ) -> Result<IncidentView, String> {
        // In this incident's own thread the command's reply is the one answer there.
        let answered = (self.in_thread(invocation).await == Some(id))
            .then(|| (invocation.platform(), invocation.channel.as_str()));
        let actor = who(&invocation.actor);
        self.act_answered(id, &action, &actor, jiff::Timestamp::now(), answered)
            .await
            .map_err(|e| e.unwrap_or_else(shown))
    }

    async fn acknowledge_service(
        &self,
        service: &str,
        invocation: &Invocation,
    ) -> Result<Vec<IncidentView>, String> {
        let open = {
            let mut conn = self
                .store
                .read_pool()
                .acquire()
                .await
                .map_err(|e| shown(e.into()))?;
            let filter = repo::ListFilter {
                statuses: vec![IncidentStatus::Open],
                service: Some(service.to_string()),
                limit: 10_000,
            };
            repo::list(&mut conn, &filter).await.map_err(shown)?
        };
        let actor = who(&invocation.actor);
        let now = jiff::Timestamp::now();
        let mut done = Vec::with_capacity(open.len());
        // Oldest first; one that someone else acknowledged meanwhile is skipped.
        for incident in open.iter().rev() {
            match self
                .act_unfolding(
                    incident.id,
                    &IncidentAction::Acknowledge,
                    &actor,
                    now,
                    None,
                    false,
                )
                .await
            {
                Ok(view) => done.push(view),
                Err(Ok(_refused)) => {}
                Err(Err(error)) => return Err(shown(error)),
            }
        }
        Ok(done)
    }

    async fn in_thread(&self, invocation: &Invocation) -> Option<i64> {
        let thread = invocation.thread.as_deref()?;
        let platform: Platform = invocation.platform();
        match self
            .thread_incident(platform, &invocation.channel, thread)
            .await
        {
            Ok(found) => found.map(|(id, _)| id),
            Err(error) => {
                tracing::warn!(%error, "looking up the incident of a thread failed");
                None
            }
        }
    }

    async fn silence(&self, request: SilenceRequest, actor: &Actor) -> Result<SilenceView, String> {
        self.silence_at(&request, &who(actor), jiff::Timestamp::now())
            .await
            .map_err(|e| e.unwrap_or_else(shown))
    }

    async fn silences(&self) -> Result<Vec<SilenceView>, String> {
        let mut conn = self
            .store
            .read_pool()
            .acquire()
            .await
            .map_err(|e| shown(e.into()))?;
        let active = silence::active(&mut conn, jiff::Timestamp::now())
            .await
            .map_err(shown)?;
        Ok(active.iter().map(silence_view).collect())
    }

    async fn expire_silence(&self, id: i64, _actor: &Actor) -> Result<bool, String> {
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(|e| shown(e.into()))?;
        if silence::get(&mut conn, id).await.map_err(shown)?.is_none() {
            return Err(format!("there is no silence {id}"));
        }
        silence::expire(&mut conn, id, jiff::Timestamp::now())
            .await
            .map_err(shown)
    }
}

//! What people do to incidents and silences, behind the commands crate's
//! [`IncidentDesk`]: each action is one write transaction that updates the incident,
//! appends to its timeline and enqueues the root edit and thread reply. Failures are
//! [`DeskError`]s: a refusal for the person, or the store's error (unavailable or not).
//! Acting on (or showing) an incident folded into a storm board gives it its own root
//! and thread; acknowledging a whole service from the board does not.

use async_trait::async_trait;
use opsbot_commands::{
    Actor, Invocation, Platform,
    context::{
        DeskError, IncidentAction, IncidentDesk, IncidentDetail, IncidentView, SilenceRequest,
        SilenceView, TimelineEntry,
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

/// A store error at the desk: unavailable (try again shortly) or another failure.
impl From<StoreError> for DeskError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            DeskError::Unavailable(Box::new(error))
        } else {
            DeskError::Store(Box::new(error))
        }
    }
}

/// A refusal for the person who typed the command.
fn refused(why: impl Into<String>) -> DeskError {
    DeskError::Refused(why.into())
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

    /// Applies `action` to incident `id` as `actor` at `now`.
    pub async fn act_at(
        &self,
        id: i64,
        action: &IncidentAction,
        actor: &str,
        now: jiff::Timestamp,
    ) -> Result<IncidentView, DeskError> {
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
    ) -> Result<IncidentView, DeskError> {
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
    ) -> Result<IncidentView, DeskError> {
        let mut tx = begin_write(&self.store).await?;
        match self
            .apply(&mut tx, id, action, actor, now, answered, unfold)
            .await
        {
            Ok(view) => {
                tx.commit().await.map_err(StoreError::from)?;
                crate::outbox::wake();
                Ok(view)
            }
            Err(refused) => {
                // Roll back now: a dropped transaction is rolled back only when its
                // connection is next used, and until then it holds the incident's row
                // lock (PostgreSQL) or the write lock (SQLite `BEGIN IMMEDIATE`).
                tx.rollback().await.map_err(StoreError::from)?;
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
    ) -> Result<IncidentView, DeskError> {
        let mut incident = repo::get(tx, self.store.backend(), id, true)
            .await?
            .ok_or_else(|| refused(format!("there is no incident {id}")))?;
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
                    return Err(refused(format!(
                        "incident {id} is already acknowledged by {}",
                        incident.acknowledged_by.as_deref().unwrap_or("someone")
                    )));
                }
                IncidentStatus::Resolved => {
                    return Err(refused(format!(
                        "incident {id} is resolved; `incident reopen {id}` first"
                    )));
                }
            },
            IncidentAction::Resolve => {
                if status == IncidentStatus::Resolved {
                    return Err(refused(format!("incident {id} is already resolved")));
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
                    return Err(refused(format!("incident {id} is not resolved")));
                }
                incident.status = IncidentStatus::Open;
                incident.acknowledged_at = None;
                incident.acknowledged_by = None;
                incident.resolved_at = None;
                incident.resolved_by = None;
                (EventKind::Reopened, "by hand".to_string())
            }
            IncidentAction::Note(text) => (EventKind::Note, text.clone()),
            IncidentAction::FollowUp(text) => (EventKind::FollowUp, text.clone()),
            IncidentAction::Escalate => {
                if status == IncidentStatus::Resolved {
                    return Err(refused(format!("incident {id} is resolved")));
                }
                let keep = incident.next_escalation_at;
                let page =
                    escalation::step(&mut incident, &self.settings, now).ok_or_else(|| {
                        refused(format!("incident {id} has no escalation policy to follow"))
                    })?;
                if status == IncidentStatus::Acknowledged {
                    incident.next_escalation_at = keep;
                }
                (EventKind::Escalated, page)
            }
        };
        change
            .record(tx, id, now, kind, Some(actor), detail)
            .await?;
        if kind == EventKind::Reopened
            && let Some(page) = escalation::start(&mut incident, &self.settings, now)
        {
            change
                .record(tx, id, now, EventKind::Escalated, None, page)
                .await?;
        }
        incident.changed_at = now;
        repo::update(tx, &incident).await?;
        if unfold {
            // Posted with the content this change gives it, before the change's update.
            storm::unfold::unfold_everywhere(
                tx,
                &self.settings,
                &self.catalog,
                &incident,
                Lane::Interactive,
            )
            .await?;
        }
        notify::publish(
            tx,
            &self.settings,
            &self.catalog,
            &incident,
            false,
            &change.events,
            notify::Cause::Responder { answered },
        )
        .await?;
        Ok(self.view(tx, &incident).await?)
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
    ) -> Result<SilenceView, DeskError> {
        let matchers = match &request.matchers {
            Some(text) => silence::parse_matchers(text).map_err(refused)?,
            None => Vec::new(),
        };
        if matchers.is_empty() && request.service.is_none() {
            return Err(refused("a silence needs a service or matchers"));
        }
        let until = jiff::SignedDuration::try_from(request.duration)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .ok_or_else(|| refused("that duration is too long"))?;
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
            .map_err(StoreError::from)?;
        silence.id = silence::insert(&mut conn, &silence).await?;
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
    async fn list(&self, all: bool, limit: u32) -> Result<Vec<IncidentView>, DeskError> {
        let mut conn = self
            .store
            .read_pool()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let filter = repo::ListFilter {
            statuses: if all {
                Vec::new()
            } else {
                vec![IncidentStatus::Open, IncidentStatus::Acknowledged]
            },
            service: None,
            limit: i64::from(limit),
        };
        let incidents = repo::list(&mut conn, &filter).await?;
        let mut views = Vec::with_capacity(incidents.len());
        for incident in &incidents {
            views.push(self.view(&mut conn, incident).await?);
        }
        Ok(views)
    }

    async fn show(&self, id: i64) -> Result<Option<IncidentDetail>, DeskError> {
        self.unfold_on_demand(id, jiff::Timestamp::now()).await?;
        let mut conn = self
            .store
            .read_pool()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let backend = self.store.backend();
        let Some(incident) = repo::get(&mut conn, backend, id, false).await? else {
            return Ok(None);
        };
        let view = self.view(&mut conn, &incident).await?;
        let alerts = repo::alerts(&mut conn, id).await?;
        let events = repo::events(&mut conn, id, 50).await?;
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
    ) -> Result<IncidentView, DeskError> {
        // In this incident's own thread the command's reply is the one answer there.
        let answered = invocation
            .incident
            .as_ref()
            .is_some_and(|incident| incident.id == id)
            .then(|| (invocation.platform(), invocation.channel.as_str()));
        let actor = who(&invocation.actor);
        self.act_answered(id, &action, &actor, jiff::Timestamp::now(), answered)
            .await
    }

    async fn acknowledge_service(
        &self,
        service: &str,
        invocation: &Invocation,
    ) -> Result<Vec<IncidentView>, DeskError> {
        let open = {
            let mut conn = self
                .store
                .read_pool()
                .acquire()
                .await
                .map_err(StoreError::from)?;
            let filter = repo::ListFilter {
                statuses: vec![IncidentStatus::Open],
                service: Some(service.to_string()),
                limit: 10_000,
            };
            repo::list(&mut conn, &filter).await?
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
                Err(DeskError::Refused(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(done)
    }

    async fn silence(
        &self,
        request: SilenceRequest,
        actor: &Actor,
    ) -> Result<SilenceView, DeskError> {
        self.silence_at(&request, &who(actor), jiff::Timestamp::now())
            .await
    }

    async fn silences(&self) -> Result<Vec<SilenceView>, DeskError> {
        let mut conn = self
            .store
            .read_pool()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let active = silence::active(&mut conn, jiff::Timestamp::now()).await?;
        Ok(active.iter().map(silence_view).collect())
    }

    async fn expire_silence(&self, id: i64, _actor: &Actor) -> Result<bool, DeskError> {
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        if silence::get(&mut conn, id).await?.is_none() {
            return Err(refused(format!("there is no silence {id}")));
        }
        silence::expire(&mut conn, id, jiff::Timestamp::now())
            .await
            .map_err(DeskError::from)
    }
}

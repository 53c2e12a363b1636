//! Incidents: alerts become incidents with a living chat thread.
//!
//! [`Incidents::ingest`] takes an [`opsbot_alerts::AlertBatch`] in one write transaction
//! (see [`ingest`]); people act on incidents through the `incident` and `silence`
//! commands ([`desk`]); [`Incidents::escalate_due`] runs the durable escalation clock.
//! Every chat message goes through the outbox, enqueued in the transaction that made the
//! change ([`notify`]). Chat adapters find the incident of a thread a command was typed
//! in once, with [`incident_of_thread`], and carry it on the invocation. While a channel falls behind, new incidents there are
//! folded into a storm board instead of getting a root each ([`storm`]).

mod alert_tally;
mod desk;
pub mod escalation;
mod group_commit;
pub mod ingest;
pub mod maintenance;
pub mod model;
mod notify;
mod render;
pub(crate) mod repo;
pub mod routing;
pub mod settings;
pub mod silence;
pub mod storm;
mod timeline;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use opsbot_commands::{Catalog, IncidentRef, Platform};

pub use ingest::IngestOutcome;
pub use model::{EventKind, Incident, IncidentAlert, IncidentEvent, IncidentStatus};
pub use render::{event_line, lasted, seconds_text};
pub use settings::IncidentSettings;

use crate::store::{Store, StoreError};
use timeline::Change;

/// Incident handling over one store: ingestion, actions, escalation.
#[derive(Clone)]
pub struct Incidents {
    store: Store,
    settings: Arc<IncidentSettings>,
    catalog: Catalog,
    /// The group-commit writer of alert batches, started on first use.
    queue: Arc<std::sync::OnceLock<group_commit::IngestQueue>>,
    /// Where incidents that opened or fired again are told, after their batch is
    /// committed (the automations, automatic investigations; see [`Incidents::on_fired`]).
    fired: Arc<std::sync::RwLock<Vec<tokio::sync::mpsc::UnboundedSender<Fired>>>>,
}

/// An incident opened or fired again, in a committed batch.
#[derive(Clone, Copy, Debug)]
pub struct Fired {
    pub incident: i64,
    /// When its batch arrived.
    pub at: jiff::Timestamp,
    /// When the batch was committed (for the alert-to-automation latency).
    pub committed: std::time::Instant,
}

impl std::fmt::Debug for Incidents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incidents").finish_non_exhaustive()
    }
}

impl Incidents {
    pub fn new(store: Store, settings: IncidentSettings, catalog: Catalog) -> Self {
        Self {
            store,
            settings: Arc::new(settings),
            catalog,
            queue: Arc::default(),
            fired: Arc::default(),
        }
    }

    /// The incidents of a test's configuration text (its services and settings).
    #[cfg(test)]
    pub(crate) fn of_config(store: &Store, config: &str) -> Self {
        let config = crate::config::parse(config, "t.toml", &|_| None).unwrap();
        let catalog = Catalog::new(config.services.clone()).unwrap();
        Self::new(
            store.clone(),
            IncidentSettings::from_config(&config),
            catalog,
        )
    }

    /// Tells `sender` of every incident that opens or fires again, once its batch is
    /// committed (never on the request path: the send does not wait). Each subscriber
    /// (automations, the investigator) gets every firing.
    pub fn on_fired(&self, sender: tokio::sync::mpsc::UnboundedSender<Fired>) {
        if let Ok(mut senders) = self.fired.write() {
            senders.push(sender);
        }
    }

    fn tell_fired(&self, outcome: &IngestOutcome, at: jiff::Timestamp) {
        let Ok(senders) = self.fired.read() else {
            return;
        };
        let committed = std::time::Instant::now();
        for sender in senders.iter() {
            for &incident in &outcome.fired {
                let _ = sender.send(Fired {
                    incident,
                    at,
                    committed,
                });
            }
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> &IncidentSettings {
        &self.settings
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Ingests one batch (committed when this returns `Ok`) and wakes the outbox.
    /// Batches arriving together share a write transaction ([`group_commit`]).
    pub async fn ingest(
        &self,
        batch: &opsbot_alerts::AlertBatch,
        now: jiff::Timestamp,
    ) -> Result<IngestOutcome, StoreError> {
        self.ingest_owned(batch.clone(), now).await
    }

    /// Like [`Incidents::ingest`], taking the batch so that it is not copied into the
    /// group-commit queue (the alert endpoints: batches of thousands of alerts).
    pub async fn ingest_owned(
        &self,
        batch: opsbot_alerts::AlertBatch,
        now: jiff::Timestamp,
    ) -> Result<IngestOutcome, StoreError> {
        let queue = self.queue.get_or_init(|| {
            group_commit::IngestQueue::spawn(
                self.store.clone(),
                self.settings.clone(),
                self.catalog.clone(),
            )
        });
        let outcome = match queue.ingest_owned(batch, now).await {
            Ok(outcome) => outcome?,
            Err(batch) => {
                ingest::ingest(&self.store, &self.settings, &self.catalog, &batch, now).await?
            }
        };
        crate::outbox::wake();
        self.tell_fired(&outcome, now);
        Ok(outcome)
    }

    /// Ingests the batch of a signed request unless `seen` was already recorded, in one
    /// transaction ([`ingest::ingest_once`]); `Ok(None)`: a replay, nothing ingested.
    pub async fn ingest_once(
        &self,
        batch: &opsbot_alerts::AlertBatch,
        now: jiff::Timestamp,
        seen: &crate::store::seen_requests::SeenRequest,
    ) -> Result<Option<IngestOutcome>, StoreError> {
        let outcome =
            ingest::ingest_once(&self.store, &self.settings, &self.catalog, batch, now, seen)
                .await?;
        if let Some(outcome) = &outcome {
            crate::outbox::wake();
            self.tell_fired(outcome, now);
        }
        Ok(outcome)
    }

    /// The incident (and its service) whose root message is `thread` in `channel`.
    pub async fn thread_incident(
        &self,
        platform: Platform,
        channel: &str,
        thread: &str,
    ) -> Result<Option<IncidentRef>, StoreError> {
        thread_incident(&self.store, &self.catalog, platform, channel, thread).await
    }

    /// Pages the next level of every incident whose escalation time has come by `now`;
    /// returns how many were escalated. On PostgreSQL the due rows are claimed with
    /// `FOR UPDATE SKIP LOCKED`, so replicas share the work without doubling a page.
    pub async fn escalate_due(&self, now: jiff::Timestamp) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let mut tx = ingest::begin_write(&self.store).await?;
            let due = repo::due_escalations(&mut tx, self.store.backend(), now, 50).await?;
            if due.is_empty() {
                tx.commit().await?;
                break;
            }
            let count = due.len();
            for mut incident in due {
                let mut change = Change::default();
                if let Some(page) = escalation::step(&mut incident, &self.settings, now) {
                    change
                        .record(&mut tx, incident.id, now, EventKind::Escalated, None, page)
                        .await?;
                }
                incident.changed_at = now;
                repo::update(&mut tx, &incident).await?;
                if !change.is_empty() {
                    total += 1;
                    notify::publish(
                        &mut tx,
                        &self.settings,
                        &self.catalog,
                        &incident,
                        false,
                        &change.events,
                        notify::Cause::Clock,
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            crate::outbox::wake();
            if count < 50 {
                break;
            }
        }
        Ok(total)
    }
}

impl Incidents {
    /// Tends every open storm board once ([`storm::keeper`]).
    pub async fn tend_storm_boards(
        &self,
        now: jiff::Timestamp,
    ) -> Result<Vec<storm::keeper::Tended>, StoreError> {
        storm::keeper::tend_all(&self.store, &self.settings, &self.catalog, now).await
    }

    /// Tends every open storm board once and records the round and the boards still
    /// open in `metrics`.
    pub async fn tend_storm_boards_measured(
        &self,
        now: jiff::Timestamp,
        metrics: &storm::StormMetrics,
    ) -> Result<Vec<storm::keeper::Tended>, StoreError> {
        let tended = self.tend_storm_boards(now).await?;
        metrics.round(&tended);
        let mut conn = self.store.read_pool().acquire().await?;
        let (boards, folded) = storm::open_totals(&mut conn).await?;
        metrics.open(boards, folded);
        Ok(tended)
    }
}

/// The incident whose root message is `thread` in `channel` on `platform`, with its
/// service when `catalog` has it.
pub async fn thread_incident(
    store: &Store,
    catalog: &Catalog,
    platform: Platform,
    channel: &str,
    thread: &str,
) -> Result<Option<IncidentRef>, StoreError> {
    let mut conn = store.read_pool().acquire().await?;
    let found = repo::by_thread(&mut conn, platform.as_str(), channel, thread).await?;
    Ok(found.map(|(id, service)| IncidentRef {
        id,
        service: service
            .and_then(|s| catalog.get(&s))
            .map(|s| s.name.clone()),
    }))
}

/// For a chat adapter receiving a command typed (or a button pressed) in `thread`: the
/// incident of that thread, if any ([`opsbot_commands::Invocation::incident`]). A failed
/// lookup is logged and taken as none: the command still runs, only without the thread's
/// incident.
pub async fn incident_of_thread(
    store: &Store,
    catalog: &Catalog,
    platform: Platform,
    channel: &str,
    thread: Option<&str>,
) -> Option<IncidentRef> {
    let thread = thread?;
    match thread_incident(store, catalog, platform, channel, thread).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, %platform, "looking up the incident of a thread failed");
            None
        }
    }
}

/// What an automation needs to know of an incident that fired: the incident, its alerts
/// firing now, and where it is posted.
#[derive(Clone, Debug)]
pub struct FiredFacts {
    pub incident: Incident,
    pub firing: Vec<IncidentAlert>,
    pub places: Vec<IncidentPlace>,
}

/// A channel an incident is posted in, and whether it has a thread of its own there: an
/// incident folded into a storm board ([`storm`]) has none (the board stands for it), so
/// what is said about it goes into the channel, not into a thread that does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentPlace {
    pub platform: String,
    pub channel: String,
    pub threaded: bool,
}

impl FiredFacts {
    /// Where to report on the incident: the first place with its thread (the incident's
    /// thread key then), else the first channel (no thread).
    pub fn report_place(&self) -> Option<(&IncidentPlace, Option<String>)> {
        match self.places.iter().find(|p| p.threaded) {
            Some(place) => Some((place, Some(self.incident.thread_key()))),
            None => self.places.first().map(|place| (place, None)),
        }
    }
}

impl Incidents {
    /// The facts of incident `id` for the automations; `None` when it is gone.
    pub async fn fired_facts(&self, id: i64) -> Result<Option<FiredFacts>, StoreError> {
        self.fired_facts_if(id, |_| true).await
    }

    /// The facts of incident `id` when `wanted` says its incident row is worth them;
    /// `None` when it is gone or not wanted. An incident of a storm has hundreds of
    /// firing alerts, and fires again with every batch: reading them only for incidents
    /// an automation could start on keeps alert ingest from paying for them.
    pub async fn fired_facts_if(
        &self,
        id: i64,
        wanted: impl Fn(&Incident) -> bool,
    ) -> Result<Option<FiredFacts>, StoreError> {
        let mut conn = self.store.read_pool().acquire().await?;
        let Some(incident) = repo::get(&mut conn, self.store.backend(), id, false).await? else {
            return Ok(None);
        };
        if !wanted(&incident) {
            return Ok(None);
        }
        let firing = repo::firing_alerts(&mut conn, id).await?;
        let places = repo::message_targets(&mut conn, id)
            .await?
            .into_iter()
            .map(|t| IncidentPlace {
                threaded: t.folded_into.is_none() && t.stranded_on.is_none(),
                platform: t.platform,
                channel: t.channel,
            })
            .collect();
        Ok(Some(FiredFacts {
            incident,
            firing,
            places,
        }))
    }
}

//! Investigating incidents with the team's own model (`[investigator]`): `incident
//! investigate [ID] [QUESTION]`, the Investigate button on an incident's root, and (for
//! the `auto` severities) by itself when an incident opens.
//!
//! [`Investigator`] is the command's [`InvestigationDesk`]: it stores the investigation
//! ([`repo`]), posts its one living message into the incident's thread ([`live`]) and
//! runs the turn in a task of its own ([`session`]): evidence, then the model calling
//! read-only tools ([`tools`]) through the engine as the asker, its text streamed into
//! the message, its answer read back into buttons ([`answer`]).
//!
//! Guarantees:
//! * The model has no power: its tools are read-only command lines run through the
//!   engine (RBAC as the asker, or `automation:{auto_principal}` for automatic ones; an
//!   audit record each); any other tool call is refused and recorded. Its proposed
//!   actions are buttons, and a press is an ordinary invocation by whoever pressed.
//! * Nothing leaves opsbot unredacted: everything sent to the model passes the `logs`
//!   redactor ([`opsbot_commands::redact`]).
//! * Each turn is audited (model, endpoint, tokens, tool calls, duration, summary), its
//!   conversation and spend stored; a follow-up question continues the conversation.
//! * It never hangs: model calls time out, rounds and tool calls are bounded, and every
//!   failure ends as a plain message in the thread with the evidence gathered so far.
//!
//! Automatic investigations (`auto` severities, of the `auto_services` globs) start when
//! an incident opens or fires again and has none yet; the incident's row is read first
//! and its alerts only when it qualifies, so a storm of other incidents costs one read
//! each. They answer in the incident's chat thread (Slack, Discord) before the
//! console's; an incident with no thread of its own (folded into a storm board) is left
//! until it fires again with one. At most `max_concurrent` run at once in a process: an
//! incident beyond it is skipped, not queued (by the time a slot frees, people are
//! looking at it): a warning in the log, and one short note in its thread with an
//! Investigate button. It is considered again when it fires again. Investigations
//! people ask for are never capped.

mod answer;
mod live;
mod prompt;
pub mod repo;
#[cfg(test)]
mod repo_tests;
mod session;
mod tools;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, OnceLock, Weak},
};

use async_trait::async_trait;
use globset::{Glob, GlobSet, GlobSetBuilder};
use opsbot_commands::{Button, Invocation, Platform, Reply, investigations::InvestigationDesk};
use opsbot_llm::{ChatClient, ChatSettings, LlmError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::{
    config::InvestigatorConfig,
    engine::Engine,
    incidents::{Fired, FiredFacts, Incident, IncidentPlace, IncidentStatus, Incidents},
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::{Store, StoreError},
};
use live::{LiveMessage, Place};

/// The investigator of a configuration with `[investigator]`.
#[derive(Clone)]
pub struct Investigator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: InvestigatorConfig,
    client: ChatClient,
    store: Store,
    incidents: Incidents,
    /// The pipeline tools run through (set once the engine exists).
    engine: OnceLock<Weak<Engine>>,
    /// `auto_services`, compiled; `None`: every incident.
    auto_services: Option<GlobSet>,
    /// One permit per automatic investigation running (`max_concurrent`).
    auto_slots: Arc<Semaphore>,
    /// Incidents whose automatic investigation is being considered right now, so two
    /// firings of one incident close together start one.
    considering: Mutex<HashSet<i64>>,
}

impl Inner {
    fn engine(&self) -> Option<Arc<Engine>> {
        self.engine.get().and_then(Weak::upgrade)
    }
}

impl Investigator {
    pub fn new(
        config: InvestigatorConfig,
        store: Store,
        incidents: Incidents,
    ) -> Result<Self, LlmError> {
        let settings = ChatSettings {
            model: config.model.clone(),
            timeout: config.timeout.as_duration(),
            max_tokens: config.max_tokens,
            // Generous for text (a token is a few bytes), still a bound on a runaway.
            max_answer_bytes: (config.max_tokens as usize).saturating_mul(16).max(4096),
        };
        let client = ChatClient::new(
            &config.base_url,
            config.api_key.as_ref().map(|k| k.expose().to_string()),
            settings,
        )?;
        let auto_services = config.auto_services.as_deref().map(compile_globs);
        let auto_slots = Arc::new(Semaphore::new(config.max_concurrent.max(1) as usize));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                store,
                incidents,
                engine: OnceLock::new(),
                auto_services,
                auto_slots,
                considering: Mutex::default(),
            }),
        })
    }

    /// Connects the engine tools run through; with `auto` severities, starts
    /// investigating incidents of those severities as they open.
    pub fn attach(&self, engine: &Arc<Engine>) -> Option<tokio::task::JoinHandle<()>> {
        let _ = self.inner.engine.set(Arc::downgrade(engine));
        if self.inner.config.auto.is_empty() {
            return None;
        }
        let (sender, mut receiver) = mpsc::unbounded_channel::<Fired>();
        self.inner.incidents.on_fired(sender);
        let this = self.clone();
        Some(tokio::spawn(async move {
            while let Some(fired) = receiver.recv().await {
                let this = this.clone();
                tokio::spawn(async move { this.consider_auto(fired.incident).await });
            }
        }))
    }

    /// Whether `incident` is one `auto` investigates by itself: one of the `auto`
    /// severities, of an `auto_services` service, open.
    fn wants_auto(&self, incident: &Incident) -> bool {
        let config = &self.inner.config;
        config.auto.contains(&incident.severity)
            && incident.status == IncidentStatus::Open
            && match &self.inner.auto_services {
                None => true,
                Some(globs) => incident
                    .service
                    .as_deref()
                    .is_some_and(|service| globs.is_match(service)),
            }
    }

    /// Starts an automatic investigation of `incident` when [`Self::wants_auto`] says
    /// so, it has none yet, and fewer than `max_concurrent` automatic ones are running;
    /// beyond that it is skipped ([`Self::skipped`]).
    async fn consider_auto(&self, incident: i64) {
        let facts = match self
            .inner
            .incidents
            .fired_facts_if(incident, |i| self.wants_auto(i))
            .await
        {
            Ok(Some(facts)) => facts,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, incident, "the investigator could not read an incident");
                return;
            }
        };
        let Some(_considering) = Considering::claim(&self.inner, incident) else {
            return;
        };
        match repo::latest(&self.inner.store, incident).await {
            Ok(None) => {}
            Ok(Some(_)) => return,
            Err(error) => {
                tracing::warn!(%error, incident, "the investigator could not read its investigations");
                return;
            }
        }
        let Some((place, _)) = thread_place(&facts, Platform::Automation) else {
            tracing::info!(
                incident,
                "not investigating an incident by itself yet: it has no thread of its own \
                 (folded into a storm board); considered again when it fires again"
            );
            return;
        };
        let channel = place.channel.clone();
        let Ok(permit) = self.inner.auto_slots.clone().try_acquire_owned() else {
            self.skipped(&facts).await;
            return;
        };
        let config = &self.inner.config;
        let actor = crate::automations::actor(&config.auto_principal);
        let mut invocation =
            Invocation::new(actor, channel, format!("incident investigate {incident}"));
        invocation.incident = Some(self.incident_ref(&facts.incident));
        if let Err(error) = self.begin(facts, None, invocation, Some(permit)).await {
            tracing::warn!(%error, incident, "an automatic investigation did not start");
        }
    }

    /// An automatic investigation of `facts`' incident that `max_concurrent` kept from
    /// starting: a warning in the log and, when the incident has a thread of its own, a
    /// note there with an Investigate button (once per incident).
    async fn skipped(&self, facts: &FiredFacts) {
        let config = &self.inner.config;
        let incident = facts.incident.id;
        tracing::warn!(
            incident,
            service = facts.incident.service.as_deref().unwrap_or(""),
            max_concurrent = config.max_concurrent,
            "not investigating an incident by itself: max_concurrent automatic investigations \
             are already running"
        );
        let Some((place, platform)) = thread_place(facts, Platform::Automation) else {
            return;
        };
        let thread_key = facts.incident.thread_key();
        let command = format!("incident investigate {incident}");
        let reply = Reply::info(format!(
            "Not investigated automatically: incident #{incident}"
        ))
        .line(format!(
            "{} automatic investigation(s) already running, the most `[investigator] \
                 max_concurrent` allows. Press Investigate, or type `{command}`.",
            config.max_concurrent
        ))
        .button(Button::new("Investigate", command));
        let message = OutboxMessage {
            platform,
            channel: place.channel.clone(),
            thread_key: Some(thread_key.clone()),
            operation: Operation::Reply,
            lane: Lane::Alerts,
            reply,
            dedupe_key: format!("{thread_key}:investigation-skipped"),
        };
        if let Err(error) = Outbox::send(&self.inner.store, &message).await {
            tracing::warn!(%error, incident, "noting a skipped investigation failed");
        }
    }

    /// Starts (or, with `question`, continues) the investigation of `incident` as
    /// `invocation`'s actor; what to tell them.
    pub async fn start(
        &self,
        incident: i64,
        question: Option<&str>,
        invocation: &Invocation,
    ) -> Result<String, String> {
        let facts = self
            .inner
            .incidents
            .fired_facts(incident)
            .await
            .map_err(store_error)?
            .ok_or_else(|| format!("there is no incident {incident}"))?;
        let mut asker = invocation.clone();
        if asker.incident.as_ref().is_none_or(|i| i.id != incident) {
            asker.incident = Some(self.incident_ref(&facts.incident));
        }
        self.begin(facts, question.map(str::to_string), asker, None)
            .await
    }

    /// The incident as an invocation's thread incident (its service from the catalog).
    fn incident_ref(&self, incident: &Incident) -> opsbot_commands::IncidentRef {
        opsbot_commands::IncidentRef {
            id: incident.id,
            service: incident
                .service
                .as_deref()
                .and_then(|s| self.inner.incidents.catalog().get(s))
                .map(|s| s.name.clone()),
        }
    }

    /// Stores the investigation (or its next turn), queues its message and runs the turn
    /// in a task of its own; `slot` (an automatic one's) is held until the turn ends.
    async fn begin(
        &self,
        facts: FiredFacts,
        question: Option<String>,
        asker: Invocation,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Result<String, String> {
        let inner = &self.inner;
        let incident = facts.incident.id;
        let place = place(&facts, &asker);
        let previous = match &question {
            Some(_) => repo::latest(&inner.store, incident)
                .await
                .map_err(store_error)?,
            None => None,
        };
        let opening = Reply::info(format!(
            "🔎 Investigating incident #{incident} with {}…",
            inner.config.model
        ))
        .line(match &question {
            Some(question) => format!("Question from {}: {question}", asker.actor.label()),
            None => format!("Asked by {}", asker.actor.label()),
        });
        let begun = async {
            let mut tx = inner.store.pool().begin().await?;
            let (id, turn, history) = match previous {
                Some((id, _, history)) => {
                    let turn = repo::next_turn(&mut tx, id).await?;
                    (id, turn, history)
                }
                None => {
                    let started_by = asker.actor.key();
                    let new = repo::NewInvestigation {
                        incident,
                        service: facts.incident.service.as_deref(),
                        platform: place.platform.as_str(),
                        channel: &place.channel,
                        started_by: &started_by,
                        model: &inner.config.model,
                        endpoint: inner.client.endpoint(),
                        currency: &inner.config.currency,
                    };
                    (repo::insert(&mut tx, &new).await?, 1, Vec::new())
                }
            };
            let message = Arc::new(LiveMessage::new(
                inner.store.clone(),
                place.clone(),
                id,
                turn,
            ));
            message.post(&mut tx, opening).await?;
            tx.commit().await?;
            Ok::<_, StoreError>((id, turn, history, message))
        }
        .await;
        let (id, turn, history, message) = begun.map_err(store_error)?;
        crate::outbox::wake();
        let said = match &question {
            Some(_) if turn > 1 => format!(
                "Asking {} about incident #{incident} (investigation {id}, follow-up {}); \
                 the answer streams into the incident's thread",
                inner.config.model,
                turn - 1
            ),
            _ => format!(
                "Investigating incident #{incident} with {} (investigation {id}); the answer \
                 streams into the incident's thread",
                inner.config.model
            ),
        };
        let turn = session::Turn {
            investigation: id,
            turn,
            facts,
            asker,
            question,
            history,
            message,
            request_id: uuid::Uuid::now_v7().to_string(),
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            session::run(inner, turn).await;
            drop(slot);
        });
        Ok(said)
    }
}

/// An incident [`Investigator::consider_auto`] is looking at, released when dropped.
struct Considering<'a> {
    inner: &'a Inner,
    incident: i64,
}

impl<'a> Considering<'a> {
    fn claim(inner: &'a Inner, incident: i64) -> Option<Self> {
        let mut considering = inner.considering.lock().ok()?;
        considering
            .insert(incident)
            .then_some(Considering { inner, incident })
    }
}

impl Drop for Considering<'_> {
    fn drop(&mut self) {
        if let Ok(mut considering) = self.inner.considering.lock() {
            considering.remove(&self.incident);
        }
    }
}

/// `globs` as one set; a glob that does not compile matches nothing (`check-config`
/// reports it).
fn compile_globs(globs: &[String]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        if let Ok(glob) = Glob::new(glob) {
            set.add(glob);
        }
    }
    set.build().unwrap_or_else(|_| GlobSet::empty())
}

/// Where the answer goes: the incident's thread ([`thread_place`]), else (an incident
/// with no thread: none yet, or folded into a storm board) the asker's channel.
fn place(facts: &FiredFacts, asker: &Invocation) -> Place {
    match thread_place(facts, asker.platform()) {
        Some((place, platform)) => Place {
            platform,
            channel: place.channel.clone(),
            parent_thread_key: Some(facts.incident.thread_key()),
        },
        None => Place {
            platform: asker.platform(),
            channel: asker.channel.clone(),
            parent_thread_key: None,
        },
    }
}

/// The incident's thread to speak in for an asker on `platform`: the one on that
/// platform, else one in a chat (Slack, Discord) before the console's (which shows every
/// incident), each in the incident's order. An automatic investigation (no chat of its
/// own) so answers where the service's people are.
fn thread_place(facts: &FiredFacts, platform: Platform) -> Option<(&IncidentPlace, Platform)> {
    facts
        .places
        .iter()
        .filter(|place| place.threaded)
        .filter_map(|place| Some((place, Platform::parse(&place.platform)?)))
        .min_by_key(|(_, on)| match on {
            on if *on == platform => 0,
            Platform::Slack | Platform::Discord => 1,
            _ => 2,
        })
}

fn store_error(error: StoreError) -> String {
    format!("the store is unavailable ({error}); nothing was started")
}

#[async_trait]
impl InvestigationDesk for Investigator {
    async fn investigate(
        &self,
        incident: i64,
        question: Option<&str>,
        invocation: &Invocation,
    ) -> Result<String, String> {
        self.start(incident, question, invocation).await
    }

    async fn follow_up(
        &self,
        incident: i64,
        question: &str,
        invocation: &Invocation,
    ) -> Option<Result<String, String>> {
        match repo::latest(&self.inner.store, incident).await {
            Ok(Some(_)) => Some(self.start(incident, Some(question), invocation).await),
            Ok(None) => None,
            Err(error) => Some(Err(store_error(error))),
        }
    }
}

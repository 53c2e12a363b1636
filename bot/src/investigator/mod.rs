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

mod answer;
mod live;
mod prompt;
pub mod repo;
#[cfg(test)]
mod repo_tests;
mod session;
mod tools;

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use opsbot_commands::{Invocation, Platform, Reply, investigations::InvestigationDesk};
use opsbot_llm::{ChatClient, ChatSettings, LlmError};
use tokio::sync::mpsc;

use crate::{
    config::InvestigatorConfig,
    engine::Engine,
    incidents::{Fired, Incidents},
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
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                store,
                incidents,
                engine: OnceLock::new(),
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

    /// Starts an automatic investigation of `incident` when its severity is one of
    /// `auto`, it is open, and it has none yet.
    async fn consider_auto(&self, incident: i64) {
        let facts = match self.inner.incidents.fired_facts(incident).await {
            Ok(Some(facts)) => facts,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, incident, "the investigator could not read an incident");
                return;
            }
        };
        let config = &self.inner.config;
        if !config.auto.contains(&facts.incident.severity)
            || facts.incident.status != crate::incidents::IncidentStatus::Open
        {
            return;
        }
        match repo::latest(&self.inner.store, incident).await {
            Ok(None) => {}
            Ok(Some(_)) => return,
            Err(error) => {
                tracing::warn!(%error, incident, "the investigator could not read its investigations");
                return;
            }
        }
        let actor = crate::automations::actor(&config.auto_principal);
        let channel = facts
            .places
            .first()
            .map(|place| place.channel.clone())
            .unwrap_or_default();
        let mut invocation =
            Invocation::new(actor, channel, format!("incident investigate {incident}"));
        invocation.incident = Some(self.incident_ref(&facts.incident));
        if let Err(error) = self.begin(facts, None, invocation).await {
            tracing::warn!(%error, incident, "an automatic investigation did not start");
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
        self.begin(facts, question.map(str::to_string), asker).await
    }

    /// The incident as an invocation's thread incident (its service from the catalog).
    fn incident_ref(&self, incident: &crate::incidents::Incident) -> opsbot_commands::IncidentRef {
        opsbot_commands::IncidentRef {
            id: incident.id,
            service: incident
                .service
                .as_deref()
                .and_then(|s| self.inner.incidents.catalog().get(s))
                .map(|s| s.name.clone()),
        }
    }

    async fn begin(
        &self,
        facts: crate::incidents::FiredFacts,
        question: Option<String>,
        asker: Invocation,
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
        tokio::spawn(session::run(inner.clone(), turn));
        Ok(said)
    }
}

/// Where the answer goes: the incident's thread on the asker's platform, else its first
/// thread, else (an incident with no thread: none yet, or folded into a storm board) the
/// asker's channel.
fn place(facts: &crate::incidents::FiredFacts, asker: &Invocation) -> Place {
    let thread_key = facts.incident.thread_key();
    let on = |place: &crate::incidents::IncidentPlace| {
        Platform::parse(&place.platform).map(|platform| Place {
            platform,
            channel: place.channel.clone(),
            parent_thread_key: Some(thread_key.clone()),
        })
    };
    let threads = || facts.places.iter().filter(|place| place.threaded);
    threads()
        .find(|place| place.platform == asker.platform().as_str())
        .and_then(on)
        .or_else(|| threads().next().and_then(on))
        .unwrap_or_else(|| Place {
            platform: asker.platform(),
            channel: asker.channel.clone(),
            parent_thread_key: None,
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

//! Automated first response: `[[automations]]` start a runbook by themselves, as the
//! principal `automation:NAME` (bound to a role in `[[bindings]]` like anyone else; a
//! step its role does not allow is refused, and then nothing runs).
//!
//! Automations are evaluated on the incidents a committed alert batch opened or fired
//! again ([`crate::incidents::Incidents::on_fired`]), in a task of their own: alert
//! ingest never waits for them. Budget crossings are alerts too (see
//! [`crate::cost::budget_alerts`]): a budget automation starts once per threshold and
//! period (its trigger is the budget alert's fingerprint).
//!
//! Guardrails, checked in this order, each refusal said in the incident thread and kept
//! in the ledger ([`ledger`]): the kill switch (`automation pause`), a maintenance
//! window or a silence covering the incident (unless the automation says
//! `during_maintenance` / `during_silence`), at most `max_runs` runs per service per
//! `window`, and `cooldown` after the last run. When a run fails (or ends any other way
//! than succeeded: a `wait_healthy` step that times out means the service is still
//! unhealthy), or it succeeded but the service's health checks still fail, the incident
//! escalates to its next level at once.
//!
//! A run reports in the incident's thread (its living message and every step as a reply
//! there); an incident folded into a storm board has no thread, so its run reports in the
//! channel, in a thread of its own.

mod desk;
pub mod ledger;
pub mod matching;
pub mod metrics;

use std::{sync::Arc, time::Duration};

use opsbot_commands::{
    Actor, Platform,
    context::{DeskError, IncidentAction},
};
use tokio::sync::mpsc;

pub use metrics::AutomationMetrics;

use crate::{
    config::automations::AutomationConfig,
    incidents::{Fired, Incidents, maintenance},
    runbooks::Runbooks,
    store::{Store, time::to_micros},
};
use matching::Match;

/// How often a started run is looked at until it ends.
const RUN_POLL: Duration = Duration::from_millis(250);

/// The automations of a configuration.
#[derive(Clone)]
pub struct Automations {
    inner: Arc<Inner>,
}

struct Inner {
    automations: Vec<AutomationConfig>,
    /// The same, with their globs compiled for matching.
    triggers: matching::Triggers,
    incidents: Incidents,
    runbooks: Runbooks,
    /// Start latency (from a batch's commit to its automation's run) and outcomes.
    metrics: AutomationMetrics,
}

/// The principal of automation `name`.
pub fn actor(name: &str) -> Actor {
    Actor::new(Platform::Automation, name, name)
}

impl Automations {
    /// The automations of `automations`, acting on `incidents` through `runbooks`,
    /// observed by `metrics` (how long after its batch was committed each run started).
    pub fn new(
        automations: Vec<AutomationConfig>,
        incidents: Incidents,
        runbooks: Runbooks,
        metrics: AutomationMetrics,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                triggers: matching::Triggers::new(automations.clone()),
                automations,
                incidents,
                runbooks,
                metrics,
            }),
        }
    }

    pub fn configs(&self) -> &[AutomationConfig] {
        &self.inner.automations
    }

    pub(crate) fn store(&self) -> &Store {
        self.inner.incidents.store()
    }

    /// Subscribes to the incidents' firings and evaluates them in a task of its own.
    /// Nothing happens without automations.
    pub fn attach(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.inner.automations.is_empty() {
            return None;
        }
        let (sender, mut receiver) = mpsc::unbounded_channel::<Fired>();
        self.inner.incidents.on_fired(sender);
        let this = self.clone();
        Some(tokio::spawn(async move {
            while let Some(fired) = receiver.recv().await {
                let this = this.clone();
                tokio::spawn(async move { this.evaluate(fired).await });
            }
        }))
    }

    /// Evaluates every automation on one firing.
    pub async fn evaluate(&self, fired: Fired) {
        let triggers = &self.inner.triggers;
        let could_start = |incident: &crate::incidents::Incident| {
            incident
                .service
                .as_deref()
                .is_some_and(|service| matching::any_for_service(triggers, service))
        };
        let facts = match self
            .inner
            .incidents
            .fired_facts_if(fired.incident, could_start)
            .await
        {
            Ok(Some(facts)) => facts,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, incident = fired.incident, "automations could not read the incident");
                return;
            }
        };
        let at_us = to_micros(fired.at);
        for found in matching::matching(&self.inner.triggers, &facts, at_us) {
            let Some(config) = self
                .inner
                .automations
                .iter()
                .find(|a| a.name == found.automation)
            else {
                continue;
            };
            if let Err(error) = self.consider(config, &facts, &found, fired).await {
                tracing::warn!(%error, automation = %found.automation, "automation failed");
            }
        }
    }

    /// Why `config` may not start for `found` now, if it may not.
    async fn refusal(
        &self,
        config: &AutomationConfig,
        facts: &crate::incidents::FiredFacts,
        found: &Match,
        now: jiff::Timestamp,
    ) -> Result<Option<String>, crate::store::StoreError> {
        if let Some(why) = ledger::paused(self.store(), &config.name).await? {
            return Ok(Some(format!("it is {why}")));
        }
        let window = maintenance::covering(
            &self.inner.incidents.settings().maintenance,
            Some(found.service.as_str()),
            now,
        );
        if let Some(window) = window
            && !config.during_maintenance
        {
            return Ok(Some(format!(
                "maintenance window `{}` covers {}",
                window.name, found.service
            )));
        }
        if facts.incident.silenced && window.is_none() && !config.during_silence {
            return Ok(Some(format!(
                "the incident is silenced ({})",
                facts
                    .incident
                    .silenced_reason
                    .as_deref()
                    .unwrap_or("silenced")
            )));
        }
        let now_us = to_micros(now);
        let window_us = config.window.0.as_micros() as i64;
        let started = ledger::started_since(
            self.store(),
            &config.name,
            &found.service,
            now_us - window_us,
        )
        .await?;
        if started.len() >= config.max_runs as usize {
            return Ok(Some(format!(
                "rate limit: {} runs for {} within {} already",
                started.len(),
                found.service,
                humantime::format_duration(config.window.0)
            )));
        }
        let cooldown_us = config.cooldown.0.as_micros() as i64;
        if let Some(last) = started.first()
            && now_us - last < cooldown_us
        {
            return Ok(Some(format!(
                "cooldown: the last run for {} started less than {} ago",
                found.service,
                humantime::format_duration(config.cooldown.0)
            )));
        }
        Ok(None)
    }

    async fn consider(
        &self,
        config: &AutomationConfig,
        facts: &crate::incidents::FiredFacts,
        found: &Match,
        fired: Fired,
    ) -> Result<(), crate::store::StoreError> {
        let now = jiff::Timestamp::now();
        let who = actor(&config.name).label();
        let incident = facts.incident.id;
        let refusal = self.refusal(config, facts, found, now).await?;
        let entry = ledger::Entry {
            automation: &config.name,
            service: &found.service,
            trigger_key: &found.trigger_key,
            incident: Some(incident),
            outcome: "pending",
            detail: "",
            at_us: to_micros(now),
        };
        if !ledger::claim(self.store(), &entry).await? {
            return Ok(()); // Another replica (or an earlier delivery) took this trigger.
        }
        if let Some(why) = refusal {
            self.inner.metrics.outcome("refused");
            ledger::settle(
                self.store(),
                &config.name,
                &found.trigger_key,
                "refused",
                &why,
                None,
            )
            .await?;
            self.note(
                incident,
                &who,
                format!("did not start runbook `{}`: {why}", config.runbook),
            )
            .await;
            return Ok(());
        }
        // The incident's thread; without one (folded into a storm board) its channel.
        let (platform, channel, thread) = facts
            .report_place()
            .and_then(|(place, thread)| {
                Some((
                    Platform::parse(&place.platform)?,
                    place.channel.clone(),
                    thread,
                ))
            })
            .unwrap_or((Platform::Console, String::new(), None));
        let started = self
            .inner
            .runbooks
            .start_as(
                &config.runbook,
                &found.params,
                &actor(&config.name),
                platform,
                &channel,
                thread.as_deref(),
            )
            .await;
        match started {
            Err(why) => {
                self.inner.metrics.outcome("failed");
                ledger::settle(
                    self.store(),
                    &config.name,
                    &found.trigger_key,
                    "failed",
                    &why,
                    None,
                )
                .await?;
                self.note(
                    incident,
                    &who,
                    format!("could not start runbook `{}`: {why}", config.runbook),
                )
                .await;
                if config.escalate_on_failure {
                    self.escalate(incident, &who).await;
                }
            }
            Ok(run) => {
                self.inner.metrics.started(fired.committed.elapsed());
                ledger::settle(
                    self.store(),
                    &config.name,
                    &found.trigger_key,
                    "started",
                    "",
                    Some(run.id),
                )
                .await?;
                self.note(
                    incident,
                    &who,
                    format!(
                        "started runbook `{}` (run {}) for {}",
                        config.runbook, run.id, found.service
                    ),
                )
                .await;
                let this = self.clone();
                let config = config.clone();
                let service = found.service.clone();
                tokio::spawn(async move { this.follow(config, incident, &service, run.id).await });
            }
        }
        Ok(())
    }

    /// Waits for run `id` to end, says how it ended in the incident thread, and
    /// escalates at once when it did not succeed or `service` is still unhealthy.
    async fn follow(&self, config: AutomationConfig, incident: i64, service: &str, id: i64) {
        let who = actor(&config.name).label();
        let view = loop {
            match self.inner.runbooks.run_view(id).await {
                Ok(Some(view)) if !view.is_active() => break view,
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(error) => tracing::warn!(%error, run = id, "automation cannot see its run"),
            }
            tokio::time::sleep(RUN_POLL).await;
        };
        let escalating = if config.escalate_on_failure {
            ": escalating now"
        } else {
            ""
        };
        let said = if view.state != "succeeded" {
            format!(
                "runbook `{}` (run {id}) {}{escalating}",
                config.runbook, view.state
            )
        } else {
            match self
                .inner
                .runbooks
                .still_unhealthy(&actor(&config.name), service)
                .await
            {
                None => {
                    let said = format!("runbook `{}` (run {id}) succeeded", config.runbook);
                    return self.note(incident, &who, said).await;
                }
                Some(why) => format!(
                    "runbook `{}` (run {id}) succeeded, but {service} is still unhealthy ({why}){escalating}",
                    config.runbook
                ),
            }
        };
        self.note(incident, &who, said).await;
        if config.escalate_on_failure {
            self.escalate(incident, &who).await;
        }
    }

    async fn note(&self, incident: i64, who: &str, text: String) {
        let action = IncidentAction::Note(text);
        if let Err(error) = self
            .inner
            .incidents
            .act_at(incident, &action, who, jiff::Timestamp::now())
            .await
        {
            tracing::warn!(%error, incident, "automation could not write to the incident");
        }
    }

    async fn escalate(&self, incident: i64, who: &str) {
        match self
            .inner
            .incidents
            .act_at(
                incident,
                &IncidentAction::Escalate,
                who,
                jiff::Timestamp::now(),
            )
            .await
        {
            Ok(_) => {}
            Err(DeskError::Refused(refused)) => tracing::info!(incident, %refused, "not escalated"),
            Err(error) => tracing::warn!(%error, incident, "escalating failed"),
        }
    }

    pub(crate) fn known<'a>(&self, name: Option<&'a str>) -> Result<&'a str, String> {
        match name {
            None => Ok(ledger::ALL),
            Some(name) if self.inner.automations.iter().any(|a| a.name == name) => Ok(name),
            Some(name) => Err(format!(
                "there is no automation `{name}`; automations: {}",
                self.inner
                    .automations
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

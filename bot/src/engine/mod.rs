//! The command pipeline: parse → authorize → confirm → approve → execute → reply → audit.
//!
//! [`Engine::handle`] is the single entry point for every chat surface (console, Slack,
//! Discord, buttons). Every pass leaves exactly one audit record, whatever happened:
//! unparsable text, denial, a pending confirmation, an approval, a failure or a timeout.
//! The adapter resolves the incident of the thread a command was typed in and sets it on
//! the [`Invocation`]; the engine only reads it (its service fills a missing one).

mod confirmation;
mod execute;
mod expiry;
mod investigation;
mod metrics;
mod pipelined;
mod request_control;
mod runbook_steps;
mod trail;

use std::{sync::Arc, time::Duration};

use opsbot_commands::{
    Catalog, Invocation, Registry, Reply,
    context::{CostReader, IncidentDesk, KnownGood, Prober, Progress, Runtime},
    language,
};

use crate::{
    audit::{AuditLog, AuditWriter, Decision, Outcome},
    rbac::{Authorization, Policy},
    store::Store,
};

pub use metrics::CommandMetrics;
pub use pipelined::PendingReply;
pub use trail::{Trail, Verdict};

/// Everything the engine is built from.
pub struct EngineParts {
    pub registry: Registry,
    pub catalog: Catalog,
    pub policy: Policy,
    pub store: Store,
    pub audit: AuditWriter,
    pub audit_log: AuditLog,
    pub runtime: Arc<dyn Runtime>,
    /// Runs health checks for `health` and the health gate.
    pub prober: Arc<dyn Prober>,
    /// The engine's series (commands, latency, denials, audit writes).
    pub metrics: CommandMetrics,
    /// How long a destructive command waits for its requester's `confirm`.
    pub confirmation_timeout: Duration,
    /// Incidents and silences for the `incident` and `silence` commands.
    pub incidents: Arc<dyn IncidentDesk>,
    /// Incidents' timelines, postmortem drafts and statistics (`incident timeline`, …).
    pub records: Arc<dyn opsbot_commands::context::IncidentRecords>,
    /// Spend of services' cost sources for `cost` (cached).
    pub costs: Arc<dyn CostReader>,
    /// Revisions that passed the health gate (`rollback --to last-good`).
    pub known_good: Arc<dyn KnownGood>,
    /// Runbooks and their runs for `runbook`.
    pub runbooks: Arc<dyn opsbot_commands::runbooks::RunbookDesk>,
    /// The automations' kill switch (`automation`).
    pub automations: Arc<dyn opsbot_commands::automations::AutomationDesk>,
    /// Investigations with the team's model (`incident investigate`).
    pub investigations: Arc<dyn opsbot_commands::investigations::InvestigationDesk>,
    /// Sign-in links to the web console (`web`).
    pub web: Arc<dyn opsbot_commands::web_sign_in::WebSignIn>,
}

impl EngineParts {
    /// What a command's precheck may read.
    fn prechecks(&self) -> opsbot_commands::command::PrecheckCtx<'_> {
        opsbot_commands::command::PrecheckCtx {
            runtime: self.runtime.as_ref(),
            known_good: self.known_good.as_ref(),
        }
    }
}

/// The command pipeline, shared by every chat surface.
pub struct Engine {
    parts: EngineParts,
}

impl Engine {
    pub fn new(parts: EngineParts) -> Self {
        Self { parts }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.parts.catalog
    }

    pub fn registry(&self) -> &Registry {
        &self.parts.registry
    }

    pub fn policy(&self) -> &Policy {
        &self.parts.policy
    }

    pub fn metrics(&self) -> &CommandMetrics {
        &self.parts.metrics
    }

    pub fn store(&self) -> &Store {
        &self.parts.store
    }

    /// The audit writer (for records made outside the pipeline: interrupted commands).
    pub fn audit(&self) -> &AuditWriter {
        &self.parts.audit
    }

    /// Runs one invocation through the whole pipeline and returns the reply to show.
    pub async fn handle(&self, invocation: &Invocation, progress: &dyn Progress) -> Reply {
        self.handle_as(invocation, progress, uuid::Uuid::now_v7().to_string())
            .await
    }

    /// [`Engine::handle`] with the request id its audit record carries given by the
    /// caller (the command inbox's, so a restarted opsbot can tell whether an
    /// interrupted invocation was audited).
    pub async fn handle_as(
        &self,
        invocation: &Invocation,
        progress: &dyn Progress,
        request_id: String,
    ) -> Reply {
        self.pass(invocation, progress, request_id, None).await
    }

    /// One pass through the pipeline; with `deferred`, its audit record is queued and
    /// left there instead of waited for ([`Engine::handle_pipelined`]).
    async fn pass(
        &self,
        invocation: &Invocation,
        progress: &dyn Progress,
        request_id: String,
        deferred: Option<pipelined::Deferred>,
    ) -> Reply {
        let mut trail = Trail::continuing(invocation, request_id);
        trail.deferred = deferred;
        let parts = &self.parts;
        let call = match language::parse(
            &invocation.text,
            &parts.registry,
            &parts.catalog,
            invocation.thread_service(),
        ) {
            Ok(call) => call,
            Err(error) => {
                if matches!(
                    error,
                    language::ParseError::UnknownCommand { .. }
                        | language::ParseError::Malformed { .. }
                ) && let Some(reply) = self.follow_up(&trail).await
                {
                    return reply;
                }
                let mut verdict =
                    Verdict::new(Decision::Unparsed, Outcome::NotRun).reason(error.to_string());
                if let Some(command) = error.command() {
                    verdict = verdict.command(command.name);
                }
                let reply = Reply::warning("I did not understand that")
                    .line(error.to_string())
                    .only_actor();
                return self.finish(&trail, verdict, reply).await;
            }
        };
        let command = call.name();
        if call.command.is_request_control() {
            return self.request_control(&trail, &call, progress).await;
        }
        if let Authorization::Denied { reason } = parts.policy.authorize(
            &invocation.actor,
            command,
            call.service,
            &invocation.channel,
        ) {
            parts.metrics.denial(command);
            let verdict = Verdict::new(Decision::Denied, Outcome::NotRun)
                .command(command)
                .service(call.service)
                .reason(reason.clone());
            let reply = Reply::danger("Not allowed").line(reason).only_actor();
            return self.finish(&trail, verdict, reply).await;
        }
        if let Err(error) = call.command.precheck(&call, parts.prechecks()).await {
            // It can never succeed here: say so now, not after two people signed off.
            let reply =
                Reply::danger(format!("`{command}` cannot run here")).line(error.to_string());
            let verdict = Verdict::new(Decision::Allowed, Outcome::Failed)
                .command(command)
                .service(call.service)
                .summary(reply.summary());
            return self.finish(&trail, verdict, reply).await;
        }
        if call.command.is_destructive_call(&call) {
            return self.ask_confirmation(&trail, &call).await;
        }
        let (reply, outcome) = self.execute(&call, invocation, progress).await;
        let verdict = Verdict::new(Decision::Allowed, outcome)
            .command(command)
            .service(call.service)
            .summary(reply.summary());
        self.finish(&trail, verdict, reply).await
    }

    /// Audits, as unparsed, an input that never became a command (a press on a button
    /// opsbot does not know); the adapter has answered it already.
    pub async fn record_unparsed(&self, invocation: &Invocation, reason: &str) {
        let trail = Trail::new(invocation);
        let verdict = Verdict::new(Decision::Unparsed, Outcome::NotRun).reason(reason);
        self.finish(&trail, verdict, Reply::default()).await;
    }

    /// Writes the audit record (waiting for it to be durable), counts metrics, and
    /// returns the reply. A failed audit write is shown to the user, never hidden.
    async fn finish(&self, trail: &Trail<'_>, verdict: Verdict<'_>, reply: Reply) -> Reply {
        self.finish_recorded(trail, verdict, reply).await.0
    }

    /// [`Engine::finish`], also saying whether the audit record was written. When it was
    /// not and nothing ran, the reply becomes the plain [`CANNOT_RECORD`]; when something
    /// did run, the reply says it was not recorded.
    async fn finish_recorded(
        &self,
        trail: &Trail<'_>,
        verdict: Verdict<'_>,
        mut reply: Reply,
    ) -> (Reply, bool) {
        let command = verdict.command.unwrap_or("unparsed");
        let decision = verdict.decision.as_str();
        let outcome = verdict.outcome.as_str();
        let nothing_ran = verdict.outcome == Outcome::NotRun || reply.title == CANNOT_RECORD;
        let record = trail.record(verdict);
        let written = match &trail.deferred {
            // Pipelined: queued now, waited for by the caller (`PendingReply`).
            Some(deferred) => match self.parts.audit.submit(record).await {
                Ok(queued) => {
                    deferred.push(queued, nothing_ran);
                    Ok(())
                }
                Err(error) => Err(error),
            },
            None => self.parts.audit.append(record).await.map(drop),
        };
        let recorded = match written {
            Ok(()) if trail.deferred.is_some() => true,
            Ok(()) => {
                self.parts.metrics.audit_written();
                true
            }
            Err(error) => {
                reply = unrecorded(
                    &self.parts.metrics,
                    &trail.request_id,
                    &error,
                    nothing_ran,
                    reply,
                );
                false
            }
        };
        self.parts.metrics.command(
            command,
            decision,
            outcome,
            trail.invocation.surface().as_str(),
            trail.elapsed_seconds(),
        );
        (reply, recorded)
    }
}

/// Counts and logs an audit write that failed, and says so in `reply`: when nothing ran
/// it becomes the plain [`CANNOT_RECORD`], else it says it ran unrecorded.
fn unrecorded(
    metrics: &CommandMetrics,
    request_id: &str,
    error: &dyn std::fmt::Display,
    nothing_ran: bool,
    reply: Reply,
) -> Reply {
    metrics.audit_failed();
    tracing::error!(%request_id, %error, "audit write failed");
    if nothing_ran {
        cannot_record(error).only_actor()
    } else {
        reply.line(format!(
            "⚠️ opsbot cannot record this right now: it ran, but the audit log \
             did not take it ({error})"
        ))
    }
}

/// What a chat user is told when the store cannot record their command, so it was not run.
pub const CANNOT_RECORD: &str = "opsbot cannot record this right now; nothing was done";

/// The reply for a command refused because the store cannot write: the plain
/// [`CANNOT_RECORD`], the reason, and that trying again later is fine.
pub(crate) fn cannot_record(reason: &dyn std::fmt::Display) -> Reply {
    Reply::danger(CANNOT_RECORD).line(format!(
        "The store did not take it ({reason}). Try again in a minute."
    ))
}

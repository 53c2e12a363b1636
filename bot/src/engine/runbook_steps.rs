//! What a runbook run asks of the pipeline: a `command` step runs as the run's starter
//! (parse, RBAC, prechecks, execution, audit; no confirmation, the run was confirmed),
//! other steps leave one audit record each, and `wait_healthy` looks at a service the way
//! `health SERVICE` does, without an audit record per look.
//!
//! Every record of a run carries the run's request id and names the run and step in its
//! reason, so `audit` shows a run as one story.

use opsbot_commands::{Actor, Invocation, Reply, Status, context::NoProgress, language};

use super::{Engine, Trail, Verdict};
use crate::{
    audit::{Decision, Outcome},
    rbac::Authorization,
};

impl Engine {
    /// Whether `actor` may run the command line `text` (in `channel`): `Err` says why not
    /// (or why it would not parse). For dry runs and the check before a run starts.
    pub fn authorize_step(&self, actor: &Actor, text: &str, channel: &str) -> Result<(), String> {
        let parts = &self.parts;
        let call = language::parse(text, &parts.registry, &parts.catalog, None)
            .map_err(|e| format!("`{text}` does not parse: {e}"))?;
        match parts
            .policy
            .authorize(actor, call.name(), call.service, channel)
        {
            Authorization::Allowed { .. } => Ok(()),
            Authorization::Denied { reason } => Err(reason),
        }
    }

    /// Runs the command line of a `command` step as `invocation` (the run's starter, its
    /// text the command line) and audits it under `request_id` with `reason` (which run,
    /// which step). The reply and whether it succeeded.
    pub async fn run_step_command(
        &self,
        invocation: &Invocation,
        request_id: &str,
        reason: &str,
    ) -> (Reply, bool) {
        let parts = &self.parts;
        let trail = Trail::continuing(invocation, request_id.to_string());
        let call = match language::parse(&invocation.text, &parts.registry, &parts.catalog, None) {
            Ok(call) => call,
            Err(error) => {
                let verdict = Verdict::new(Decision::Unparsed, Outcome::NotRun)
                    .command("runbook")
                    .reason(format!("{reason}: {error}"));
                let reply = Reply::danger(format!("`{}` does not parse", invocation.text))
                    .line(error.to_string());
                return (self.finish(&trail, verdict, reply).await, false);
            }
        };
        let command = call.name();
        if call.command.is_request_control() || command == "runbook" {
            let verdict = Verdict::new(Decision::Denied, Outcome::NotRun)
                .command(command)
                .reason(format!("{reason}: `{command}` cannot be a runbook step"));
            let reply = Reply::danger(format!("`{command}` cannot be a runbook step"));
            return (self.finish(&trail, verdict, reply).await, false);
        }
        if let Authorization::Denied { reason: why } = parts.policy.authorize(
            &invocation.actor,
            command,
            call.service,
            &invocation.channel,
        ) {
            parts.metrics.denial(command);
            let verdict = Verdict::new(Decision::Denied, Outcome::NotRun)
                .command(command)
                .service(call.service)
                .reason(format!("{reason}: {why}"));
            let reply = Reply::danger(format!(
                "Not allowed: {} may not run `{}`",
                invocation.actor.label(),
                invocation.text
            ))
            .line(why);
            return (self.finish(&trail, verdict, reply).await, false);
        }
        if let Err(error) = call.command.precheck(&call, parts.prechecks()).await {
            let reply =
                Reply::danger(format!("`{command}` cannot run here")).line(error.to_string());
            let verdict = Verdict::new(Decision::Allowed, Outcome::Failed)
                .command(command)
                .service(call.service)
                .reason(reason.to_string())
                .summary(reply.summary());
            return (self.finish(&trail, verdict, reply).await, false);
        }
        let (reply, outcome) = self.execute(&call, invocation, &NoProgress).await;
        let verdict = Verdict::new(Decision::Allowed, outcome)
            .command(command)
            .service(call.service)
            .reason(reason.to_string())
            .summary(reply.summary());
        let reply = self.finish(&trail, verdict, reply).await;
        (reply, outcome == crate::audit::Outcome::Ok)
    }

    /// The `health SERVICE` reply for a `wait_healthy` step's look (not audited; the
    /// step's own record says how it ended). Healthy when the reply is a success.
    pub async fn look_at_health(&self, invocation: &Invocation, service: &str) -> (Reply, bool) {
        let parts = &self.parts;
        let text = format!("health {service}");
        let call = match language::parse(&text, &parts.registry, &parts.catalog, None) {
            Ok(call) => call,
            Err(error) => return (Reply::danger(error.to_string()), false),
        };
        let (reply, outcome) = self.execute(&call, invocation, &NoProgress).await;
        let healthy = outcome == Outcome::Ok && reply.status == Status::Success;
        (reply, healthy)
    }

    /// The audit record of a step that is not a command (`http`, `wait`, `manual`, …),
    /// and of a run's end: as `invocation` (the starter, or whoever answered), under the
    /// run's `request_id`.
    pub async fn audit_step(
        &self,
        invocation: &Invocation,
        request_id: &str,
        ok: Option<bool>,
        reason: String,
        summary: String,
    ) {
        let trail = Trail::continuing(invocation, request_id.to_string());
        let outcome = match ok {
            Some(true) => Outcome::Ok,
            Some(false) => Outcome::Failed,
            None => Outcome::NotRun,
        };
        let verdict = Verdict::new(Decision::Allowed, outcome)
            .command("runbook")
            .reason(reason)
            .summary(summary);
        self.finish(&trail, verdict, Reply::default()).await;
    }
}

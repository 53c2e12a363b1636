//! Executing an authorized call: run the command with its timeout and turn every ending
//! (success, failure, timeout) into a reply and an outcome.
//!
//! The outcome is the command's result, never its reply's colour: `Ok(reply)` ran (a
//! red listing of open incidents, a critical health report), `Err` failed, the timeout
//! timed out.

use opsbot_commands::{CommandError, Ctx, Invocation, Reply, context::Progress, language::Call};

use super::Engine;
use crate::audit::Outcome;

impl Engine {
    pub(super) async fn execute(
        &self,
        call: &Call<'_>,
        invocation: &Invocation,
        progress: &dyn Progress,
    ) -> (Reply, Outcome) {
        let parts = &self.parts;
        let ctx = Ctx {
            invocation,
            registry: &parts.registry,
            catalog: &parts.catalog,
            access: &parts.policy,
            audit: &parts.audit_log,
            runtime: parts.runtime.as_ref(),
            prober: parts.prober.as_ref(),
            progress,
            incidents: parts.incidents.as_ref(),
            records: parts.records.as_ref(),
            costs: parts.costs.as_ref(),
            known_good: parts.known_good.as_ref(),
            runbooks: parts.runbooks.as_ref(),
            automations: parts.automations.as_ref(),
            investigations: parts.investigations.as_ref(),
            web: parts.web.as_ref(),
        };
        let command = call.name();
        match tokio::time::timeout(call.command.timeout, call.command.run(call, ctx)).await {
            Ok(Ok(reply)) => (reply, Outcome::Ok),
            Ok(Err(CommandError::ActionFailed(reply))) => (*reply, Outcome::Failed),
            Ok(Err(error)) => (
                Reply::danger(format!("`{command}` failed")).line(error.to_string()),
                Outcome::Failed,
            ),
            Err(_) => (
                Reply::danger(format!("`{command}` timed out")).line(format!(
                    "No answer within {}; it may still be in progress, check before retrying.",
                    humantime::format_duration(call.command.timeout)
                )),
                Outcome::Timeout,
            ),
        }
    }
}

//! What an investigation (`crate::investigator`) asks of the pipeline: each tool call of
//! the model runs as a read-only command line through parse → RBAC → execution → audit
//! as the person who asked (or the automation principal), a call that would change
//! anything is refused and recorded, and the investigation itself leaves one record.
//! And the way in for follow-ups: text typed at opsbot in an incident's thread that is
//! no command continues the incident's investigation (as `incident`, RBAC and audit
//! included).
//!
//! Every record of an investigation carries its request id and names it in its reason,
//! so `audit` shows an investigation as one story.

use opsbot_commands::{Invocation, Reply, language};

use super::{Engine, Trail, Verdict};
use crate::{
    audit::{Decision, Outcome},
    rbac::Authorization,
};

impl Engine {
    /// Runs the command line `invocation.text` for an investigation's tool call, under
    /// `request_id` with `reason` (which investigation, which tool): only when it is
    /// read-only (no confirmation ever); anything else is refused and recorded as denied.
    /// The reply and whether it ran and succeeded.
    pub async fn run_tool_command(
        &self,
        invocation: &Invocation,
        request_id: &str,
        reason: &str,
    ) -> (Reply, bool) {
        let parts = &self.parts;
        if let Ok(call) = language::parse(&invocation.text, &parts.registry, &parts.catalog, None)
            && (call.command.is_destructive_call(&call) || call.command.is_request_control())
        {
            let why = format!(
                "`{}` is not read-only; an investigation only reads",
                invocation.text
            );
            self.refuse_tool(
                invocation,
                request_id,
                call.name(),
                &format!("{reason}: {why}"),
            )
            .await;
            return (Reply::danger("Refused").line(why), false);
        }
        self.run_step_command(invocation, request_id, reason).await
    }

    /// Records a tool call the investigator refused (a command that changes something,
    /// a tool it does not offer) as denied, as `invocation`'s actor.
    pub async fn refuse_tool(
        &self,
        invocation: &Invocation,
        request_id: &str,
        command: &str,
        reason: &str,
    ) {
        let trail = Trail::continuing(invocation, request_id.to_string());
        // A command's own name when the model named one, else the investigation's.
        let name = self
            .parts
            .registry
            .find(command)
            .map_or("incident", |c| c.name);
        self.parts.metrics.denial(name);
        let verdict = Verdict::new(Decision::Denied, Outcome::NotRun)
            .command(name)
            .reason(reason.to_string());
        self.finish(&trail, verdict, Reply::default()).await;
    }

    /// A follow-up question: the trail's text, typed in an incident's thread, is no
    /// command. When the incident has an investigation and the actor may use `incident`,
    /// the question continues it; the reply, audited. `None`: not a follow-up.
    pub(super) async fn follow_up(&self, trail: &Trail<'_>) -> Option<Reply> {
        let parts = &self.parts;
        let invocation = trail.invocation;
        let incident = invocation.incident.as_ref()?;
        let question = invocation.text.trim();
        if question.is_empty() {
            return None;
        }
        if let Authorization::Denied { .. } =
            parts
                .policy
                .authorize(&invocation.actor, "incident", None, &invocation.channel)
        {
            return None;
        }
        let said = parts
            .investigations
            .follow_up(incident.id, question, invocation)
            .await?;
        let (verdict, reply) = match said {
            Ok(said) => (
                Verdict::new(Decision::Allowed, Outcome::Ok),
                Reply::info(said),
            ),
            Err(why) => (
                Verdict::new(Decision::Allowed, Outcome::Failed),
                Reply::warning("The investigation cannot go on").line(why),
            ),
        };
        let verdict = verdict
            .command("incident")
            .reason(format!("follow-up question on incident #{}", incident.id))
            .summary(reply.summary());
        Some(self.finish(trail, verdict, reply).await)
    }

    /// The one record of an investigation: model, endpoint, tokens, tool calls and
    /// duration in `reason`, the answer's first line in `summary`.
    pub async fn audit_investigation(
        &self,
        invocation: &Invocation,
        request_id: &str,
        ok: bool,
        reason: String,
        summary: String,
    ) {
        let trail = Trail::continuing(invocation, request_id.to_string());
        let outcome = if ok { Outcome::Ok } else { Outcome::Failed };
        let verdict = Verdict::new(Decision::Allowed, outcome)
            .command("incident")
            .reason(reason)
            .summary(summary);
        self.finish(&trail, verdict, Reply::default()).await;
    }
}

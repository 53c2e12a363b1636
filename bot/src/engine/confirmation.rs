//! Step "confirm": a destructive command is stored as a pending request and the requester
//! is asked to confirm it, with buttons, before anything changes.

use opsbot_commands::{Button, Reply, language::Call};

use super::{Engine, Trail, Verdict};
use crate::{
    audit::{Decision, Outcome},
    store::{PendingRequest, PendingState},
};

/// A short id people can type: six hex digits from a fresh UUIDv7's random bits.
pub(super) fn new_request_id() -> String {
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    uuid[uuid.len() - 6..].to_string()
}

pub(super) fn plus(now: jiff::Timestamp, duration: std::time::Duration) -> jiff::Timestamp {
    jiff::SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

impl Engine {
    pub(super) async fn ask_confirmation(&self, trail: &Trail<'_>, call: &Call<'_>) -> Reply {
        let parts = &self.parts;
        let invocation = trail.invocation;
        let command = call.name();
        let rule = match (command, call.text("action"), call.text("target")) {
            ("runbook", Some("run"), Some(runbook)) => parts.policy.runbook_approval_rule(runbook),
            _ => parts.policy.approval_rule(command, call.service),
        };
        let now = jiff::Timestamp::now();
        let mut pending = PendingRequest {
            id: new_request_id(),
            state: PendingState::AwaitingConfirmation,
            request_id: trail.request_id.clone(),
            platform: invocation.platform().as_str().to_string(),
            requester_id: invocation.actor.id.clone(),
            requester_name: invocation.actor.display_name.clone(),
            requester_groups: invocation.actor.groups.clone(),
            channel: invocation.channel.clone(),
            thread: invocation.thread.clone(),
            text: call.canonical_text(),
            command: command.to_string(),
            service: call.service.map(|s| s.name.to_string()),
            environment: call.service.map(|s| s.environment.to_string()),
            policy: rule.map(|r| r.name.clone()),
            created_at: now,
            expires_at: plus(now, parts.confirmation_timeout),
            decided_by: None,
        };
        let mut stored = parts.store.insert_pending(&pending).await;
        if stored.is_err() {
            // An id collision is astronomically rare; a second id settles it.
            pending.id = new_request_id();
            stored = parts.store.insert_pending(&pending).await;
        }
        if let Err(error) = stored {
            let verdict = Verdict::new(Decision::Allowed, Outcome::Failed)
                .command(command)
                .service(call.service)
                .reason(format!("could not store the pending request: {error}"));
            let reply = super::cannot_record(&error);
            return self.finish(trail, verdict, reply).await;
        }
        let target = call
            .service
            .map(|s| format!("{} ({}, {})", s.name, s.environment, s.target.describe()))
            .unwrap_or_default();
        let expires = humantime::format_duration(parts.confirmation_timeout);
        let mut reply = Reply::warning(format!("Confirm `{}`?", pending.text))
            .line(format!("This will {command} {target}."))
            .line(format!(
                "Reply `confirm {id}` or `cancel {id}` within {expires}.",
                id = pending.id
            ))
            .button(
                Button::new("Confirm", format!("confirm {}", pending.id))
                    .danger()
                    .confirming(format!("Really {}?", pending.text)),
            )
            .button(Button::new("Cancel", format!("cancel {}", pending.id)));
        let mut reason = format!("awaiting confirmation of request {}", pending.id);
        if let Some(rule) = rule {
            reply = reply.line(format!(
                "After you confirm, someone else with role {} must approve it (policy `{}`).",
                rule.approver_roles.join(" or "),
                rule.name
            ));
            reason.push_str(&format!("; then approval under policy `{}`", rule.name));
        }
        let verdict = Verdict::new(Decision::Pending, Outcome::NotRun)
            .command(command)
            .service(call.service)
            .reason(reason)
            .summary(format!("request {}", pending.id));
        self.finish(trail, verdict, reply).await
    }
}

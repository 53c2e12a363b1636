//! Steps "confirm" and "approve": `confirm`, `cancel`, `approve` and `deny` act on a
//! pending request. Only the requester confirms; only someone else holding an approver
//! role approves; expired requests do nothing. State changes are compare-and-set in the
//! store, so two people (or two replicas) can never both act on one request.
//!
//! [`Engine::request_control`] reads as its steps: find the request, check it is still
//! open, then the command's own step (confirm as the requester, cancel, check the
//! approver and approve or deny); running the confirmed or approved command and claiming
//! the request (compare-and-set to done) are steps of their own below.

use opsbot_commands::{
    Actor, Button, Invocation, Platform, Registry, Reply, command::RequestAction,
    context::Progress, language, language::Call,
};

use super::{Engine, Trail, Verdict, confirmation::plus};
use crate::{
    audit::{Decision, Outcome},
    rbac::Authorization,
    store::{PendingRequest, PendingState},
};

impl Engine {
    /// Acts on the pending request `call` names: finds it, checks it is still open, then
    /// confirms, cancels, approves or denies it. Every way out is audited.
    pub(super) async fn request_control(
        &self,
        trail: &Trail<'_>,
        call: &Call<'_>,
        progress: &dyn Progress,
    ) -> Reply {
        let command = call.name();
        let pending = match self.find_pending(trail, call).await {
            Ok(pending) => pending,
            Err(reply) => return reply,
        };
        // Continue the original request's id so the whole story shares one request id.
        let trail = Trail::continuing(trail.invocation, pending.request_id.clone());
        let trail = &trail;
        let actor = &trail.invocation.actor;
        let is_requester =
            actor.platform.as_str() == pending.platform && actor.id == pending.requester_id;
        let service = pending
            .service
            .as_deref()
            .and_then(|s| self.parts.catalog.get(s));
        let base = Verdict::new(Decision::Denied, Outcome::NotRun)
            .command(command)
            .service(service)
            .summary(format!("request {}: {}", pending.id, pending.text));
        let base = match self.still_open(trail, &pending, base).await {
            Ok(base) => base,
            Err(reply) => return reply,
        };
        match call.command.request_action() {
            Some(RequestAction::Confirm) => {
                self.confirm_as_requester(trail, &pending, base, is_requester, progress)
                    .await
            }
            Some(RequestAction::Cancel) => self.cancel(trail, &pending, base, is_requester).await,
            Some(action @ (RequestAction::Approve | RequestAction::Deny)) => {
                let base = match self
                    .check_approver(trail, &pending, base, is_requester, action)
                    .await
                {
                    Ok(base) => base,
                    Err(reply) => return reply,
                };
                if action == RequestAction::Approve {
                    self.approve(trail, &pending, base, progress).await
                } else {
                    self.deny(trail, &pending, base).await
                }
            }
            None => Reply::danger("internal: not a request-control command"),
        }
    }

    /// The pending request `call` names (`request` argument, case-insensitive); when
    /// there is none or the store fails, audits that and returns the reply instead.
    async fn find_pending(
        &self,
        trail: &Trail<'_>,
        call: &Call<'_>,
    ) -> Result<PendingRequest, Reply> {
        let command = call.name();
        let id = call
            .text("request")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match self.parts.store.get_pending(&id).await {
            Ok(Some(pending)) => Ok(pending),
            Ok(None) => {
                let verdict = Verdict::new(Decision::Allowed, Outcome::Failed)
                    .command(command)
                    .reason(format!("no request `{id}`"));
                let reply = Reply::warning(format!("There is no request `{id}`")).only_actor();
                Err(self.finish(trail, verdict, reply).await)
            }
            Err(error) => {
                let verdict = Verdict::new(Decision::Allowed, Outcome::Failed)
                    .command(command)
                    .reason(format!("store unavailable: {error}"));
                let reply = super::cannot_record(&error);
                Err(self.finish(trail, verdict, reply).await)
            }
        }
    }

    /// `base` back when `pending` can still be acted on; when it was already handled or
    /// has expired (then marked expired), audits that and returns the reply instead.
    async fn still_open<'a>(
        &self,
        trail: &Trail<'_>,
        pending: &PendingRequest,
        base: Verdict<'a>,
    ) -> Result<Verdict<'a>, Reply> {
        if !pending.state.is_open() {
            let reply = Reply::warning(format!(
                "Request `{}` is already {}",
                pending.id, pending.state
            ))
            .only_actor();
            let verdict = Verdict {
                decision: Decision::Allowed,
                outcome: Outcome::Failed,
                ..base
            }
            .reason(format!("request is {}", pending.state));
            return Err(self.finish(trail, verdict, reply).await);
        }
        if jiff::Timestamp::now() > pending.expires_at {
            let _ = self
                .parts
                .store
                .transition_pending(
                    &pending.id,
                    pending.state,
                    PendingState::Expired,
                    None,
                    None,
                )
                .await;
            let reply =
                Reply::warning(format!("Request `{}` has expired", pending.id)).line(format!(
                    "`{}` was not run. Ask again if it is still needed.",
                    pending.text
                ));
            let verdict = Verdict {
                decision: Decision::Expired,
                ..base
            }
            .reason(format!(
                "expired at {}",
                pending.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            ));
            return Err(self.finish(trail, verdict, reply).await);
        }
        Ok(base)
    }

    /// `confirm ID`: only the requester, and only while it awaits confirmation.
    async fn confirm_as_requester(
        &self,
        trail: &Trail<'_>,
        pending: &PendingRequest,
        base: Verdict<'_>,
        is_requester: bool,
        progress: &dyn Progress,
    ) -> Reply {
        if !is_requester {
            let reason = format!(
                "only {} can confirm request {}; to approve someone else's request use `approve {}`",
                pending.requester_label(),
                pending.id,
                pending.id
            );
            return self
                .refuse(trail, base, Reply::danger("Not allowed"), reason)
                .await;
        }
        if pending.state != PendingState::AwaitingConfirmation {
            let reason = format!(
                "request {} is already confirmed and waits for approval",
                pending.id
            );
            let verdict = Verdict {
                decision: Decision::Pending,
                ..base
            };
            return self
                .refuse(trail, verdict, Reply::warning("Already confirmed"), reason)
                .await;
        }
        self.confirm(trail, pending, base, progress).await
    }

    /// `cancel ID`: the requester or an approver withdraws the request.
    async fn cancel(
        &self,
        trail: &Trail<'_>,
        pending: &PendingRequest,
        base: Verdict<'_>,
        is_requester: bool,
    ) -> Reply {
        let actor = &trail.invocation.actor;
        let may_cancel = is_requester || self.may_approve(actor, pending);
        if !may_cancel {
            let reason = format!(
                "only {} or an approver can cancel request {}",
                pending.requester_label(),
                pending.id
            );
            return self
                .refuse(trail, base, Reply::danger("Not allowed"), reason)
                .await;
        }
        let won = self
            .transition(pending, PendingState::Cancelled, actor)
            .await;
        let verdict = Verdict {
            decision: Decision::Cancelled,
            ..base
        }
        .reason(format!("cancelled by {}", actor.label()));
        let reply = match won {
            Ok(true) => Reply::info(format!("Cancelled `{}`", pending.text)),
            Ok(false) => Reply::warning(format!("Request `{}` was already handled", pending.id)),
            Err(error) => super::cannot_record(&error),
        };
        self.finish(trail, verdict, reply).await
    }

    /// `approve ID` / `deny ID`: `base` back when the actor may decide (someone other than
    /// the requester, holding an approver role, on a confirmed request); otherwise audits
    /// the refusal and returns its reply.
    async fn check_approver<'a>(
        &self,
        trail: &Trail<'_>,
        pending: &PendingRequest,
        base: Verdict<'a>,
        is_requester: bool,
        action: RequestAction,
    ) -> Result<Verdict<'a>, Reply> {
        let actor = &trail.invocation.actor;
        let approving = action == RequestAction::Approve;
        if is_requester {
            let reason = if approving {
                "you cannot approve your own request; another approver must".to_string()
            } else {
                format!("use `cancel {}` to withdraw your own request", pending.id)
            };
            return Err(self
                .refuse(trail, base, Reply::danger("Not allowed"), reason)
                .await);
        }
        if pending.state != PendingState::AwaitingApproval {
            let reason = format!(
                "request {} has not been confirmed by {} yet",
                pending.id,
                pending.requester_label()
            );
            let verdict = Verdict {
                decision: Decision::Pending,
                ..base
            };
            return Err(self
                .refuse(
                    trail,
                    verdict,
                    Reply::warning("Not ready for approval"),
                    reason,
                )
                .await);
        }
        if !self.may_approve(actor, pending) {
            let roles = pending
                .policy
                .as_deref()
                .and_then(|p| self.parts.policy.approval_rule_named(p))
                .map(|r| r.approver_roles.join(" or "))
                .unwrap_or_else(|| "an approver role".into());
            let reason = format!("approving request {} needs role {roles}", pending.id);
            self.parts
                .metrics
                .denial(if approving { "approve" } else { "deny" });
            return Err(self
                .refuse(trail, base, Reply::danger("Not allowed"), reason)
                .await);
        }
        Ok(base)
    }

    /// An eligible approver refused: the request is closed, nothing runs.
    async fn deny(&self, trail: &Trail<'_>, pending: &PendingRequest, base: Verdict<'_>) -> Reply {
        let actor = &trail.invocation.actor;
        let won = self.transition(pending, PendingState::Denied, actor).await;
        let verdict = Verdict {
            decision: Decision::Rejected,
            ..base
        }
        .approver(Some(actor.key()))
        .reason(format!("refused by {}", actor.label()));
        let reply = match won {
            Ok(true) => Reply::info(format!(
                "Refused `{}` requested by {}",
                pending.text,
                pending.requester_label()
            )),
            Ok(false) => Reply::warning(format!("Request `{}` was already handled", pending.id)),
            Err(error) => super::cannot_record(&error),
        };
        self.finish(trail, verdict, reply).await
    }

    /// Refuses a request-control command: the reason goes to the actor (only) and into
    /// the audit record.
    async fn refuse(
        &self,
        trail: &Trail<'_>,
        verdict: Verdict<'_>,
        reply: Reply,
        reason: String,
    ) -> Reply {
        let reply = reply.line(reason.clone()).only_actor();
        self.finish(trail, verdict.reason(reason), reply).await
    }

    fn may_approve(&self, actor: &Actor, pending: &PendingRequest) -> bool {
        pending
            .policy
            .as_deref()
            .and_then(|p| self.parts.policy.approval_rule_named(p))
            .is_some_and(|rule| self.parts.policy.may_approve(actor, rule))
    }

    async fn transition(
        &self,
        pending: &PendingRequest,
        to: PendingState,
        actor: &Actor,
    ) -> Result<bool, String> {
        self.parts
            .store
            .transition_pending(&pending.id, pending.state, to, Some(&actor.key()), None)
            .await
            .map_err(|e| e.to_string())
    }

    /// The requester confirmed: either wait for an approver or run it now.
    async fn confirm(
        &self,
        trail: &Trail<'_>,
        pending: &PendingRequest,
        base: Verdict<'_>,
        progress: &dyn Progress,
    ) -> Reply {
        let invocation = trail.invocation;
        let call = match self.reparse(pending) {
            Ok(call) => call,
            Err(reason) => {
                let reply = Reply::danger("Cannot run this any more").line(reason.clone());
                let verdict = Verdict {
                    decision: Decision::Allowed,
                    outcome: Outcome::Failed,
                    ..base
                }
                .reason(reason);
                return self.finish(trail, verdict, reply).await;
            }
        };
        if let Authorization::Denied { reason } = self.parts.policy.authorize(
            &invocation.actor,
            call.name(),
            call.service,
            &pending.channel,
        ) {
            let reply = Reply::danger("Not allowed any more").line(reason.clone());
            return self.finish(trail, base.reason(reason), reply).await;
        }
        let rule = pending
            .policy
            .as_deref()
            .and_then(|p| self.parts.policy.approval_rule_named(p));
        if let Some(rule) = rule {
            let expires = plus(jiff::Timestamp::now(), rule.expires);
            let moved = self
                .parts
                .store
                .transition_pending(
                    &pending.id,
                    PendingState::AwaitingConfirmation,
                    PendingState::AwaitingApproval,
                    None,
                    Some(expires),
                )
                .await;
            let reply = match moved {
                Ok(true) => Reply::warning(format!("Approval needed for `{}`", pending.text))
                    .line(format!(
                        "{} asked for this. Someone else with role {} must `approve {id}` or `deny {id}` within {}.",
                        pending.requester_label(),
                        rule.approver_roles.join(" or "),
                        humantime::format_duration(rule.expires),
                        id = pending.id
                    ))
                    .button(Button::new("Approve", format!("approve {}", pending.id)).primary())
                    .button(Button::new("Deny", format!("deny {}", pending.id)).danger()),
                Ok(false) => Reply::warning(format!("Request `{}` was already handled", pending.id)),
                Err(error) => super::cannot_record(&error),
            };
            let verdict = Verdict {
                decision: Decision::Pending,
                ..base
            }
            .reason(format!(
                "confirmed; needs approval by {} (policy `{}`)",
                rule.approver_roles.join(" or "),
                rule.name
            ));
            return self.finish(trail, verdict, reply).await;
        }
        let base = match self.claim(trail, pending, &invocation.actor, base).await {
            Ok(base) => base,
            Err(reply) => return reply,
        };
        let (reply, outcome) = self.execute(&call, invocation, progress).await;
        let verdict = Verdict {
            decision: Decision::Allowed,
            outcome,
            ..base
        }
        .command(base_command(pending, &self.parts.registry))
        .reason(format!("confirmed request {}", pending.id))
        .summary(reply.summary());
        self.finish(trail, verdict, reply).await
    }

    /// An eligible approver approved: record the approval, then run as the requester.
    async fn approve(
        &self,
        trail: &Trail<'_>,
        pending: &PendingRequest,
        base: Verdict<'_>,
        progress: &dyn Progress,
    ) -> Reply {
        let approver = &trail.invocation.actor;
        let base = match self.claim(trail, pending, approver, base).await {
            Ok(base) => base,
            Err(reply) => return reply,
        };
        let approval = Verdict {
            decision: Decision::Approved,
            outcome: Outcome::Ok,
            ..base
        }
        .approver(Some(approver.key()))
        .reason(format!(
            "approved request {} by {}",
            pending.id,
            pending.requester_label()
        ));
        let (acknowledgement, recorded) = self
            .finish_recorded(trail, approval, Reply::default())
            .await;
        if !recorded {
            // The approval is not in the audit log: a destructive command must not run
            // unrecorded. (The request is spent; the requester asks again.)
            return super::cannot_record(&"the approval could not be written to the audit log");
        }

        // Execute as the requester, in the requester's channel.
        let invocation = requester_invocation(pending);
        let run_trail = Trail::continuing(&invocation, pending.request_id.clone());
        let service = pending
            .service
            .as_deref()
            .and_then(|s| self.parts.catalog.get(s));
        let run_base = Verdict::new(Decision::Allowed, Outcome::NotRun)
            .command(base_command(pending, &self.parts.registry))
            .service(service)
            .approver(Some(approver.key()));
        let call = match self.reparse(pending) {
            Ok(call) => call,
            Err(reason) => {
                let reply = Reply::danger("Cannot run this any more").line(reason.clone());
                let verdict = Verdict {
                    outcome: Outcome::Failed,
                    ..run_base
                }
                .reason(reason);
                return self.finish(&run_trail, verdict, reply).await;
            }
        };
        if let Authorization::Denied { reason } = self.parts.policy.authorize(
            &invocation.actor,
            call.name(),
            call.service,
            &pending.channel,
        ) {
            let reply = Reply::danger("The requester is no longer allowed to run this")
                .line(reason.clone());
            let verdict = Verdict {
                decision: Decision::Denied,
                ..run_base
            }
            .reason(reason);
            return self.finish(&run_trail, verdict, reply).await;
        }
        let (mut reply, outcome) = self.execute(&call, &invocation, progress).await;
        reply.lines.insert(
            0,
            format!(
                "Approved by {} for {} ({} for {}).",
                approver.display_name,
                pending.requester_name,
                approver.key(),
                invocation.actor.key()
            ),
        );
        reply.lines.extend(acknowledgement.lines);
        let verdict = Verdict {
            outcome,
            ..run_base
        }
        .reason(format!("approved request {}", pending.id))
        .summary(reply.summary());
        self.finish(&run_trail, verdict, reply).await
    }

    /// Moves the request to done (compare-and-set), returning `base` for the caller's
    /// verdict; when someone else already acted, or the store fails, audits that and
    /// returns the reply to show instead.
    async fn claim<'a>(
        &self,
        trail: &Trail<'_>,
        pending: &PendingRequest,
        actor: &Actor,
        base: Verdict<'a>,
    ) -> Result<Verdict<'a>, Reply> {
        let (reply, reason) = match self.transition(pending, PendingState::Done, actor).await {
            Ok(true) => return Ok(base),
            Ok(false) => (
                Reply::warning(format!("Request `{}` was already handled", pending.id)),
                "already handled".to_string(),
            ),
            Err(error) => (super::cannot_record(&error), error),
        };
        let verdict = Verdict {
            decision: Decision::Allowed,
            outcome: Outcome::Failed,
            ..base
        }
        .reason(reason);
        Err(self.finish(trail, verdict, reply).await)
    }

    fn reparse(&self, pending: &PendingRequest) -> Result<Call<'_>, String> {
        language::parse(
            &pending.text,
            &self.parts.registry,
            &self.parts.catalog,
            None,
        )
        .map_err(|e| format!("`{}` no longer parses: {e}", pending.text))
    }
}

fn base_command(pending: &PendingRequest, registry: &Registry) -> &'static str {
    registry
        .find(&pending.command)
        .map(|c| c.name)
        .unwrap_or("unknown")
}

/// The invocation a pending request stands for: its requester, in its channel and thread.
pub(super) fn requester_invocation(pending: &PendingRequest) -> Invocation {
    let requester = Actor::new(
        Platform::parse(&pending.platform).unwrap_or(Platform::Console),
        pending.requester_id.clone(),
        pending.requester_name.clone(),
    )
    .with_groups(pending.requester_groups.clone());
    let mut invocation = Invocation::new(requester, pending.channel.clone(), pending.text.clone());
    invocation.thread = pending.thread.clone();
    invocation
}

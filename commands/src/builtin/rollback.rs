//! `rollback SERVICE [--to REVISION|last-good]`: undo the last rollout, like `kubectl
//! rollout undo`, then check its health (the health gate). `--to last-good` goes to the
//! last revision that passed the health gate ([`last_good`]). `rollback SERVICE --list`
//! shows the rollout history instead; it only reads, so it runs without confirmation.

use std::time::Duration;

use crate::{
    Button, CommandError, Ctx, Reply,
    command::PrecheckCtx,
    command::{Command, Handler},
    context::{Revision, Runtime},
    language::Call,
    registry::{FlagSpec, Safety, ServiceArg, ValueKind},
};

use super::{
    health_gate::{self, After},
    last_good::{self, LAST_GOOD},
};

pub static COMMAND: Command = Command {
    name: "rollback",
    summary: "Roll a service back to its previous (or a given) revision, or list revisions",
    service: ServiceArg::Required,
    args: &[],
    flags: &[
        FlagSpec {
            name: "to",
            kind: ValueKind::IntegerOr {
                min: 1,
                max: i64::MAX,
                words: &[LAST_GOOD],
            },
            help: "the revision to roll back to, or last-good (the last one that passed the health gate); default: the previous one",
        },
        FlagSpec {
            name: "list",
            kind: ValueKind::Switch,
            help: "only list the revisions (no change, no confirmation)",
        },
    ],
    safety: Safety::DestructiveUnless(&["list"]),
    timeout: Duration::from_secs(600),
    examples: &[
        "rollback ai-orchestration",
        "rollback ai-orchestration --to 3",
        "rollback ai-orchestration --to last-good",
        "rollback ai-orchestration --list",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: Some(|call, reads| Box::pin(precheck(call, reads))),
    },
};

/// How long the precheck waits for the revision history.
const PRECHECK_HISTORY_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses, before anyone confirms, a rollback the target cannot do: only Kubernetes
/// deployments keep revisions (docker compose and systemd have none to go back to), and
/// `--to N` must name one of them (read from the runtime's history, which only reads),
/// and `--to last-good` needs a revision known good other than the running one
/// ([`last_good::resolve`]). When the history or the record cannot be read now, the run
/// decides (and reports) instead. `--list` only reads, so it is never refused here.
pub async fn precheck(call: &Call<'_>, reads: PrecheckCtx<'_>) -> Result<(), CommandError> {
    if call.switch("list") {
        return Ok(());
    }
    let service = super::service_arg::required_service(call)?;
    match &service.target {
        crate::catalog::Target::Kubernetes { .. } => match call.integer("to") {
            Some(to) => known_revision(service, to, reads.runtime).await,
            None if call.text("to") == Some(LAST_GOOD) => known_good_revision(service, reads).await,
            None => Ok(()),
        },
        target => {
            let why = match target {
                crate::catalog::Target::Compose { .. } => format!(
                    "docker compose keeps no previous revision of {}, so there is nothing to roll back to",
                    service.name
                ),
                crate::catalog::Target::Systemd { unit, .. } => format!(
                    "systemd keeps no previous revision of {unit}, so there is nothing to roll back to"
                ),
                _ => format!("{} has no runtime target to roll back", service.name),
            };
            Err(CommandError::NotSupported(
                super::action_reply::points_to_runbook(service, why),
            ))
        }
    }
}

/// `--to N` names a revision the deployment has.
async fn known_revision(
    service: &crate::Service,
    to: i64,
    runtime: &dyn Runtime,
) -> Result<(), CommandError> {
    let history = tokio::time::timeout(PRECHECK_HISTORY_TIMEOUT, runtime.history(service)).await;
    let Ok(Ok(revisions)) = history else {
        return Ok(());
    };
    if revisions.iter().any(|r| r.number == to) {
        return Ok(());
    }
    let known: Vec<String> = revisions.iter().map(|r| r.number.to_string()).collect();
    let known = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    Err(CommandError::Failed(format!(
        "unable to find revision {to} of {}; known revisions: {known}",
        service.name
    )))
}

/// `--to last-good` names a revision: refused now (before anyone confirms) only when
/// the record and the history say there is none; anything unreadable is left to the run.
async fn known_good_revision(
    service: &crate::Service,
    reads: PrecheckCtx<'_>,
) -> Result<(), CommandError> {
    let resolved = tokio::time::timeout(
        PRECHECK_HISTORY_TIMEOUT,
        last_good::resolve(reads.known_good, reads.runtime, service),
    )
    .await;
    match resolved {
        Ok(Err(CommandError::Failed(why))) => Err(CommandError::Failed(why)),
        _ => Ok(()),
    }
}

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let service = super::service_arg::required_service(call)?;
    let mut to = call.integer("to");
    let to_last_good = call.text("to") == Some(LAST_GOOD);
    if call.switch("list") {
        if to.is_some() || to_last_good {
            return Err(CommandError::Failed(
                "`--list` only lists; leave out `--to`, or leave out `--list` to roll back".into(),
            ));
        }
        return list(service, ctx).await;
    }
    let mut known_good = None;
    if to_last_good {
        let (revision, good) = last_good::resolve(ctx.known_good, ctx.runtime, service).await?;
        ctx.progress.report(&format!(
            "Rolling back {} to #{}, the last revision known good…",
            service.name, revision.number
        ));
        to = Some(revision.number);
        known_good = Some(format!(
            "#{} is the last revision known good: it passed the health gate {} (after a command of {})",
            revision.number,
            crate::human_duration::age(jiff::Timestamp::now(), good.passed_at),
            good.passed_by,
        ));
    } else {
        ctx.progress
            .report(&format!("Rolling back {}…", service.name));
    }
    let result = ctx.runtime.rollback(service, to, ctx.progress).await;
    let reply = super::action_reply::action_reply("Rollback", service, result);
    let mut reply = last_good::after_rollout(ctx, service, false, reply).await?;
    if let Some(line) = known_good {
        reply = reply.line(line);
    }
    Ok(health_gate::check(ctx, service, After::Rollback, reply).await)
}

/// The rollout history, newest first, with the running revision marked.
async fn list(service: &crate::Service, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let revisions = ctx
        .runtime
        .history(service)
        .await
        .map_err(|e| super::action_reply::runtime_error(service, e))?;
    let name = service.name.as_str();
    if revisions.is_empty() {
        return Ok(Reply::info(format!("{name} has no recorded revisions")));
    }
    let now = jiff::Timestamp::now();
    let mut reply = Reply::info(format!("Revisions of {name} (newest first)"));
    for revision in revisions.iter().rev() {
        reply = reply.line(revision_line(revision, now));
    }
    reply = reply.field("Target", service.target.describe());
    // Offer the revision a plain `rollback` would go to: the newest one before the current.
    let current = revisions.iter().position(|r| r.current);
    let previous = match current {
        Some(index) => revisions[..index].last(),
        None => None,
    };
    if let Some(previous) = previous {
        reply = reply.button(
            Button::new(
                format!("Roll back to #{}", previous.number),
                format!("rollback {name} --to {}", previous.number),
            )
            .danger(),
        );
    }
    Ok(reply)
}

/// `▶ #5 (current) — app:1.4.2 — 3h ago — deploy 1.4.2`.
fn revision_line(revision: &Revision, now: jiff::Timestamp) -> String {
    let marker = if revision.current { "▶" } else { "•" };
    let mut line = format!("{marker} #{}", revision.number);
    if revision.current {
        line.push_str(" (current)");
    }
    if revision.images.is_empty() {
        line.push_str(" — (no image recorded)");
    } else {
        let images: Vec<String> = revision.images.iter().map(|i| format!("`{i}`")).collect();
        line.push_str(&format!(" — {}", images.join(", ")));
    }
    if let Some(created) = revision.created {
        line.push_str(&format!(" — {}", crate::human_duration::age(now, created)));
    }
    if let Some(cause) = revision.change_cause.as_deref().filter(|c| !c.is_empty()) {
        line.push_str(&format!(" — {cause}"));
    }
    line
}

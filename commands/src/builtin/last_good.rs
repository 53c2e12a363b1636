//! The revisions known good: which revision of a service passed the health gate, what
//! `rollback SERVICE --to last-good` means, and the way back a failed gate or a failed
//! rollout offers.
//!
//! A revision passes when the gate after a `restart` or `rollback` finds no check
//! critical; it is recorded by its stable id ([`Revision::id`], the ReplicaSet), since its
//! number changes when a rollback re-uses it. `last-good` is the revision that passed most
//! recently, other than the one running now, that the target still keeps. A service
//! without health checks never passes the gate, so it has no revision known good.

use crate::{
    Button, CommandError, Ctx, Reply, Service,
    context::{GoodRevision, KnownGood, Revision, Runtime},
};

#[cfg(test)]
#[path = "last_good_tests.rs"]
mod tests;

/// The word `--to` takes for the last revision known good.
pub(super) const LAST_GOOD: &str = "last-good";

/// Records the revision running now as good (the gate passed). The gate's verdict does not
/// depend on this: a target without revisions or an unavailable store only loses the record.
pub(super) async fn record_pass(ctx: Ctx<'_>, service: &Service) {
    let Ok(Ok(history)) = tokio::time::timeout(
        super::health_gate::HISTORY_TIMEOUT,
        ctx.runtime.history(service),
    )
    .await
    else {
        return;
    };
    let Some(current) = history.iter().find(|r| r.current) else {
        return;
    };
    let Some(id) = current.id.clone() else {
        return;
    };
    let good = GoodRevision {
        id,
        number: current.number,
        images: current.images.clone(),
        passed_at: jiff::Timestamp::now(),
        passed_by: ctx.invocation.actor.display_name.clone(),
    };
    // Losing the record only means `--to last-good` knows one revision fewer.
    let _ = ctx.known_good.passed(service, &good).await;
}

/// The revision `--to last-good` names now: its current number, and what was recorded.
pub(super) async fn resolve(
    known_good: &dyn KnownGood,
    runtime: &dyn Runtime,
    service: &Service,
) -> Result<(Revision, GoodRevision), CommandError> {
    let name = service.name.as_str();
    let good =
        known_good
            .good_revisions(service)
            .await
            .map_err(|reason| CommandError::Unavailable {
                what: "the record of revisions known good".into(),
                reason,
            })?;
    if good.is_empty() {
        return Err(CommandError::Failed(none_known_good(service)));
    }
    let history = runtime
        .history(service)
        .await
        .map_err(|e| super::action_reply::runtime_error(service, e))?;
    let current = history
        .iter()
        .find(|r| r.current)
        .and_then(|r| r.id.clone());
    let mut only_current = None;
    for passed in &good {
        if current.as_deref() == Some(passed.id.as_str()) {
            only_current.get_or_insert(passed);
            continue;
        }
        if let Some(revision) = history.iter().find(|r| r.id.as_ref() == Some(&passed.id)) {
            return Ok((revision.clone(), passed.clone()));
        }
    }
    Err(CommandError::Failed(match only_current {
        Some(running) if good.len() == 1 => format!(
            "the only revision of {name} known good ({}) is the one running now; roll back to the previous one with `rollback {name}`, or pick one with `rollback {name} --list`",
            describe(running)
        ),
        _ => format!(
            "no revision of {name} known good is still in its history (the newest known good: {}); pick one with `rollback {name} --list`",
            describe(&good[0])
        ),
    }))
}

/// Why there is no revision known good.
fn none_known_good(service: &Service) -> String {
    let name = service.name.as_str();
    if service.health.is_empty() {
        format!(
            "no revision of {name} is known good: {name} has no health checks, so no revision ever passes the health gate; use `rollback {name}` or `rollback {name} --to N` (see `rollback {name} --list`)"
        )
    } else {
        format!(
            "no revision of {name} is known good yet: a revision is recorded when it passes the health gate after a restart or rollback; use `rollback {name}` or `rollback {name} --to N` (see `rollback {name} --list`)"
        )
    }
}

/// `#5 (app:1.4, passed 3h ago)`.
fn describe(good: &GoodRevision) -> String {
    let age = crate::human_duration::age(jiff::Timestamp::now(), good.passed_at);
    if good.images.is_empty() {
        format!("#{} when it passed {age}", good.number)
    } else {
        format!(
            "#{} when it passed {age}, {}",
            good.number,
            good.images.join(", ")
        )
    }
}

/// The buttons back from a release that is unhealthy or did not roll out: to the last
/// revision known good (the default, first) when there is one other than the running one,
/// and, with `previous_too`, to the previous revision when that is another one. Nothing
/// when the target keeps fewer than two revisions (docker compose, systemd).
pub(super) async fn way_back(
    ctx: Ctx<'_>,
    service: &Service,
    previous_too: bool,
    mut reply: Reply,
) -> Reply {
    let name = service.name.as_str();
    let history = match tokio::time::timeout(
        super::health_gate::HISTORY_TIMEOUT,
        ctx.runtime.history(service),
    )
    .await
    {
        Ok(Ok(history)) if history.len() >= 2 => history,
        _ => return reply,
    };
    let current = history.iter().position(|r| r.current);
    let previous = current.and_then(|index| history[..index].last());
    let last_good = match ctx.known_good.good_revisions(service).await {
        Ok(good) if !good.is_empty() => resolve(ctx.known_good, ctx.runtime, service).await.ok(),
        _ => None,
    };
    if let Some((revision, _)) = &last_good {
        reply = reply.button(
            Button::new(
                format!("Roll back to last good #{}", revision.number),
                format!("rollback {name} --to {LAST_GOOD}"),
            )
            .danger(),
        );
    }
    let same = |r: &Revision| {
        last_good
            .as_ref()
            .is_some_and(|(good, _)| good.number == r.number)
    };
    match previous {
        _ if !previous_too => reply,
        Some(previous) if same(previous) => reply,
        Some(_) if last_good.is_some() => reply.button(Button::new(
            "Roll back to previous",
            format!("rollback {name}"),
        )),
        _ => reply.button(Button::new("Rollback", format!("rollback {name}")).danger()),
    }
}

/// A rollout that failed or timed out (the target's report, [`CommandError::ActionFailed`])
/// gets the way back on its reply, whether or not the service has health checks; any
/// other result passes unchanged.
pub(super) async fn after_rollout(
    ctx: Ctx<'_>,
    service: &Service,
    previous_too: bool,
    result: Result<Reply, CommandError>,
) -> Result<Reply, CommandError> {
    match result {
        Err(CommandError::ActionFailed(reply)) => {
            let reply = way_back(ctx, service, previous_too, *reply).await;
            Err(CommandError::ActionFailed(Box::new(reply)))
        }
        other => other,
    }
}

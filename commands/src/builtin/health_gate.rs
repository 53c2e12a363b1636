//! The health gate: after a successful `restart` or `rollback`, run the service's health
//! checks. When none is critical the running revision is recorded as known good
//! ([`last_good`](super::last_good)). When one is critical the reply says so, lists the
//! failing checks and offers the way back (to the last revision known good, else the
//! previous one, where the target keeps a history) and a look at the logs.

use std::time::Duration;

use crate::{Button, Ctx, Reply, Service, Status, context::HealthLevel};

use super::{checks, last_good};

/// What just happened to the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum After {
    Restart,
    Rollback,
}

impl After {
    fn noun(self) -> &'static str {
        match self {
            After::Restart => "restart",
            After::Rollback => "rollback",
        }
    }
}

/// How long the gate waits for the target's revision history.
pub(super) const HISTORY_TIMEOUT: Duration = Duration::from_secs(10);

/// Adds the health verdict to a successful action's reply; other replies pass unchanged.
pub(super) async fn check(ctx: Ctx<'_>, service: &Service, after: After, reply: Reply) -> Reply {
    if reply.status != Status::Success || service.health.is_empty() {
        return reply;
    }
    ctx.progress.report(&format!(
        "Checking {}'s health after the {}…",
        service.name,
        after.noun()
    ));
    let health = checks::check_service(ctx.prober, service).await;
    let name = service.name.as_str();
    let failing = health.failing();
    if health.level() != Some(HealthLevel::Critical) {
        last_good::record_pass(ctx, service).await;
    }
    match health.level() {
        None | Some(HealthLevel::Ok) => reply.line(format!(
            "{} health after the {}: all {} checks pass",
            HealthLevel::Ok.emoji(),
            after.noun(),
            health.outcomes.len()
        )),
        Some(HealthLevel::Warning) => reply
            .line(format!(
                "Health after the {}: {} of {} checks warn",
                after.noun(),
                failing.len(),
                health.outcomes.len()
            ))
            .lines(failing.into_iter().map(checks::outcome_line)),
        Some(HealthLevel::Critical) => {
            let critical = health.count(HealthLevel::Critical);
            let checks_word = if critical == 1 { "check" } else { "checks" };
            let mut reply = reply
                .line(format!(
                    "{} but {name} is unhealthy right after the {}: {critical} critical {checks_word}",
                    HealthLevel::Critical.emoji(),
                    after.noun()
                ))
                .lines(failing.into_iter().map(checks::outcome_line))
                .line(format!(
                    "It may still be starting: `health {name}` checks again."
                ));
            reply.title = format!("{} — {name} is unhealthy", reply.title);
            reply.status = Status::Warning;
            // A press runs `rollback NAME …` through the pipeline: RBAC, confirmation.
            reply = last_good::way_back(ctx, service, after == After::Restart, reply).await;
            if after == After::Rollback {
                reply = reply.button(Button::new("Revisions", format!("rollback {name} --list")));
            }
            reply
                .button(Button::new("Logs", format!("logs {name}")))
                .button(Button::new("Check again", format!("health {name}")))
        }
    }
}

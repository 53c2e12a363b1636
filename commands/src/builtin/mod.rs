//! The commands themselves, one file each: a static spec and a plain async function.
//!
//! [`run`] dispatches a parsed [`Call`] to its function. Request-control commands
//! (`confirm`, `cancel`, `approve`, `deny`) only have specs here; the engine runs them
//! because they act on its pending requests.

mod audit;
mod help;
mod request_control;
mod restart;
mod rollback;
mod scale;
mod services;
mod whoami;

use crate::{
    CommandError, CommandName, Ctx, Reply,
    context::{ActionReport, RuntimeError},
    language::Call,
    registry::CommandSpec,
};

/// Every built-in command spec, in the order `help` lists them.
pub static SPECS: &[&CommandSpec] = &[
    &help::SPEC,
    &whoami::SPEC,
    &services::SPEC,
    &audit::SPEC,
    &restart::SPEC,
    &rollback::SPEC,
    &scale::SPEC,
    &request_control::CONFIRM,
    &request_control::CANCEL,
    &request_control::APPROVE,
    &request_control::DENY,
];

/// Runs a parsed call.
pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    match call.command() {
        CommandName::Help => help::run(call, ctx).await,
        CommandName::Whoami => whoami::run(call, ctx).await,
        CommandName::Services => services::run(call, ctx).await,
        CommandName::Audit => audit::run(call, ctx).await,
        CommandName::Restart => restart::run(call, ctx).await,
        CommandName::Rollback => rollback::run(call, ctx).await,
        CommandName::Scale => scale::run(call, ctx).await,
        CommandName::Confirm | CommandName::Cancel | CommandName::Approve | CommandName::Deny => {
            Err(CommandError::Failed(format!(
                "`{}` is handled by the engine",
                call.command()
            )))
        }
    }
}

/// The service a call targets; the parser guarantees it for commands that require one.
fn required_service<'c>(call: &Call<'c>) -> Result<&'c crate::Service, CommandError> {
    call.service
        .ok_or_else(|| CommandError::Failed(format!("`{}` needs a service", call.command())))
}

/// Turns a runtime result into a reply titled after the action.
fn action_reply(
    action: &str,
    service: &crate::Service,
    result: Result<ActionReport, RuntimeError>,
) -> Result<Reply, CommandError> {
    match result {
        Ok(report) => {
            let reply = if report.succeeded {
                Reply::success(format!("{action} {}: {}", service.name, report.summary))
            } else {
                Reply::danger(format!(
                    "{action} {} failed: {}",
                    service.name, report.summary
                ))
            };
            let mut reply = reply
                .lines(report.details)
                .field("Target", service.target.describe());
            if let Some(runbook) = &service.runbook {
                reply = reply.field("Runbook", runbook.clone());
            }
            Ok(reply)
        }
        Err(RuntimeError::NotSupported(why)) => {
            Err(CommandError::NotSupported(match &service.runbook {
                Some(runbook) => format!("{why}; see the runbook: {runbook}"),
                None => why,
            }))
        }
        Err(RuntimeError::Unreachable { what, reason }) => {
            Err(CommandError::Unavailable { what, reason })
        }
        Err(RuntimeError::Refused(why) | RuntimeError::Failed(why)) => {
            Err(CommandError::Failed(why))
        }
    }
}

//! The commands themselves, one file each: a static spec and a plain async function.
//!
//! [`run`] dispatches a parsed [`Call`] to its function. Request-control commands
//! (`confirm`, `cancel`, `approve`, `deny`) only have specs here; the engine runs them
//! because they act on its pending requests.

mod audit;
mod checks;
mod cost;
pub mod cost_period;
mod health;
mod health_gate;
mod help;
mod incident;
mod logs;
mod request_control;
mod restart;
mod rollback;
mod runbook;
mod scale;
mod services;
mod silence;
mod whoami;

#[cfg(test)]
mod cost_tests;
#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod rollback_tests;
#[cfg(test)]
mod testing;

use crate::{
    CommandError, CommandName, Ctx, Environment, Reply,
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
    &health::SPEC,
    &logs::SPEC,
    &restart::SPEC,
    &rollback::SPEC,
    &scale::SPEC,
    &incident::SPEC,
    &silence::SPEC,
    &cost::SPEC,
    &runbook::SPEC,
    &request_control::CONFIRM,
    &request_control::CANCEL,
    &request_control::APPROVE,
    &request_control::DENY,
];

/// Refusals known before anything runs: a call that can never succeed on its service is
/// refused at once, before anyone is asked to confirm or approve it. Only read-only
/// runtime calls are made here (the revision history for `rollback --to`).
pub async fn precheck(
    call: &Call<'_>,
    runtime: &dyn crate::context::Runtime,
) -> Result<(), CommandError> {
    match call.command() {
        CommandName::Rollback if !call.switch("list") => rollback::precheck(call, runtime).await,
        CommandName::Scale => scale::precheck(call),
        _ => Ok(()),
    }
}

/// Runs a parsed call.
pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    match call.command() {
        CommandName::Help => help::run(call, ctx).await,
        CommandName::Whoami => whoami::run(call, ctx).await,
        CommandName::Services => services::run(call, ctx).await,
        CommandName::Audit => audit::run(call, ctx).await,
        CommandName::Health => health::run(call, ctx).await,
        CommandName::Logs => logs::run(call, ctx).await,
        CommandName::Restart => restart::run(call, ctx).await,
        CommandName::Rollback => rollback::run(call, ctx).await,
        CommandName::Scale => scale::run(call, ctx).await,
        CommandName::Incident => incident::run(call, ctx).await,
        CommandName::Silence => silence::run(call, ctx).await,
        CommandName::Cost => cost::run(call, ctx).await,
        CommandName::Runbook => runbook::run(call, ctx).await,
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

/// Turns a runtime result into a reply titled after the action; an action the target
/// reports as failed is [`CommandError::ActionFailed`], with the same detailed reply.
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
            if report.succeeded {
                Ok(reply)
            } else {
                Err(CommandError::ActionFailed(Box::new(reply)))
            }
        }
        Err(error) => Err(runtime_error(service, error)),
    }
}

/// A runtime error as the command's error; "not supported" points at the runbook.
fn runtime_error(service: &crate::Service, error: RuntimeError) -> CommandError {
    match error {
        RuntimeError::NotSupported(why) => CommandError::NotSupported(match &service.runbook {
            Some(runbook) => format!("{why}; see the runbook: {runbook}"),
            None => why,
        }),
        RuntimeError::Unreachable { what, reason } => CommandError::Unavailable { what, reason },
        RuntimeError::Refused(why) | RuntimeError::Failed(why) => CommandError::Failed(why),
    }
}

/// The `--env` flag, checked against the environments of the catalog.
fn wanted_environment(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Option<Environment>, CommandError> {
    let Some(text) = call.text("env") else {
        return Ok(None);
    };
    let env: Environment = text
        .parse()
        .map_err(|e: crate::catalog::NameError| CommandError::Failed(e.to_string()))?;
    if !ctx.catalog.environments().contains(&env) {
        let known: Vec<String> = ctx
            .catalog
            .environments()
            .iter()
            .map(|e| e.to_string())
            .collect();
        return Err(CommandError::Failed(format!(
            "no service is in environment `{env}`; environments: {}",
            known.join(", ")
        )));
    }
    Ok(Some(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target that reports the action failed: the command failed (audited `failed`),
    /// and its reply still shows the target's account.
    #[test]
    fn an_action_the_target_reports_failed_is_an_error_with_its_reply() {
        let service = testing::service("web", "prod", &[]);
        let report = ActionReport {
            succeeded: false,
            summary: "progress deadline exceeded".into(),
            details: vec!["1 of 3 pods ready".into()],
        };
        let Err(CommandError::ActionFailed(reply)) = action_reply("Restart", &service, Ok(report))
        else {
            panic!("a failed action is an error");
        };
        assert_eq!(
            reply.title,
            "Restart web failed: progress deadline exceeded"
        );
        assert_eq!(reply.lines, vec!["1 of 3 pods ready".to_string()]);
        assert!(reply.fields.iter().any(|f| f.name == "Target"));
        assert_eq!(
            CommandError::ActionFailed(reply).to_string(),
            "Restart web failed: progress deadline exceeded: 1 of 3 pods ready"
        );
        let done = ActionReport {
            succeeded: true,
            summary: "rolled out".into(),
            details: vec![],
        };
        assert!(action_reply("Restart", &service, Ok(done)).is_ok());
    }
}

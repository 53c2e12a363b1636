//! `automation list | pause [NAME] | resume [NAME]`: the kill switch of `[[automations]]`
//! (runbooks that start by themselves on incidents and budgets).
//!
//! `pause` takes effect at once, without confirmation (stopping automatic actions must
//! be quick); `resume` lets them act again, so the engine has it confirmed first. Without
//! a NAME both act on every automation. The automations are the [`AutomationDesk`]'s;
//! this file parses and words the replies.

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    automations::AutomationDesk,
    command::{Command, Handler},
    language::Call,
    registry::{ArgSpec, Safety, ServiceArg, ValueKind},
};

const ACTIONS: &[&str] = &["list", "pause", "resume"];

pub static COMMAND: Command = Command {
    name: "automation",
    summary: "List the automations, pause one (or all) as a kill switch, resume it",
    service: ServiceArg::None,
    args: &[
        ArgSpec {
            name: "action",
            kind: ValueKind::Choice(ACTIONS),
            required: false,
            help: "list (default), pause, resume",
        },
        ArgSpec {
            name: "name",
            kind: ValueKind::Word,
            required: false,
            help: "the automation (pause, resume); without it, every automation",
        },
    ],
    flags: &[],
    safety: Safety::DestructiveActions {
        arg: "action",
        actions: &["resume"],
        unless: &[],
    },
    timeout: Duration::from_secs(30),
    examples: &[
        "automation list",
        "automation pause ai-service-down",
        "automation pause",
        "automation resume ai-service-down",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let desk: &dyn AutomationDesk = ctx.automations;
    let action = call.text("action").unwrap_or("list");
    let name = call.text("name");
    let failed = CommandError::Failed;
    match action {
        "list" => {
            if let Some(extra) = name {
                return Err(failed(format!(
                    "`automation list` takes nothing more (got `{extra}`)"
                )));
            }
            let automations = desk.list().await.map_err(failed)?;
            if automations.is_empty() {
                return Ok(Reply::info("No automation is configured"));
            }
            let paused = automations.iter().filter(|a| a.paused_by.is_some()).count();
            let mut reply = Reply::info(format!(
                "Automations ({} active, {paused} paused)",
                automations.len() - paused
            ));
            for automation in &automations {
                let state = match &automation.paused_by {
                    Some(by) => format!("⏸ paused by {by}"),
                    None => "▶ active".to_string(),
                };
                reply = reply.line(format!(
                    "`{}` {}: {state}",
                    automation.name, automation.summary
                ));
            }
            Ok(reply)
        }
        "pause" => {
            let said = desk.pause(name, ctx.invocation).await.map_err(failed)?;
            Ok(Reply::success(capitalized(&said))
                .line(format!("by {}", ctx.invocation.actor.label()))
                .line(match name {
                    Some(name) => format!("`automation resume {name}` lets it act again."),
                    None => "`automation resume` lets them act again.".to_string(),
                }))
        }
        "resume" => {
            let said = desk.resume(name, ctx.invocation).await.map_err(failed)?;
            Ok(Reply::success(capitalized(&said))
                .line(format!("by {}", ctx.invocation.actor.label())))
        }
        other => Err(failed(format!("unknown action `{other}`"))),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::capitalized;

    #[test]
    fn replies_start_with_a_capital() {
        assert_eq!(
            capitalized("automation `x` is paused"),
            "Automation `x` is paused"
        );
        assert_eq!(capitalized(""), "");
    }
}

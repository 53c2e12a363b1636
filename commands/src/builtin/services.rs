//! `services [--env ENV]`: the catalog, grouped by environment.

use std::time::Duration;

use crate::{
    CommandError, Ctx, Environment, Reply,
    command::{Command, Handler},
    language::Call,
    registry::{FlagSpec, Safety, ServiceArg, ValueKind},
};

pub static COMMAND: Command = Command {
    name: "services",
    summary: "List the services in the catalog",
    service: ServiceArg::None,
    args: &[],
    flags: &[FlagSpec {
        name: "env",
        kind: ValueKind::Word,
        help: "only this environment (prod, staging, …)",
    }],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(5),
    examples: &["services", "services --env prod"],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let wanted: Option<Environment> = super::environment_flag::wanted_environment(call, ctx)?;
    let services: Vec<_> = ctx
        .catalog
        .services()
        .iter()
        .filter(|s| wanted.as_ref().is_none_or(|env| &s.environment == env))
        .collect();
    let title = match &wanted {
        Some(env) => format!("{} services in {env}", services.len()),
        None => format!("{} services", services.len()),
    };
    let mut reply = Reply::info(title);
    for env in ctx.catalog.environments() {
        let in_env: Vec<_> = services.iter().filter(|s| &s.environment == env).collect();
        if in_env.is_empty() {
            continue;
        }
        reply = reply.line(format!("*{env}*"));
        for service in in_env {
            let mut line = format!("• `{}` — {}", service.name, service.target.describe());
            if !service.description.is_empty() {
                line.push_str(&format!(" — {}", service.description));
            }
            if !service.aliases.is_empty() {
                let aliases: Vec<&str> = service.aliases.iter().map(|a| a.as_str()).collect();
                line.push_str(&format!(" (aka {})", aliases.join(", ")));
            }
            reply = reply.line(line);
        }
    }
    Ok(reply)
}

//! `whoami`: who the bot thinks you are, your roles, and what they allow.

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    command::{Command, Handler},
    language::Call,
    registry::{Safety, ServiceArg},
};

pub static COMMAND: Command = Command {
    name: "whoami",
    summary: "Show your identity, roles and what they allow",
    service: ServiceArg::None,
    args: &[],
    flags: &[],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(5),
    examples: &["whoami"],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(_call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let actor = &ctx.invocation.actor;
    let roles = ctx.access.describe(actor);
    let mut reply = Reply::info(format!("You are {}", actor.label()));
    if !actor.groups.is_empty() {
        reply = reply.line(format!("Groups: {}", actor.groups.join(", ")));
    }
    if roles.is_empty() {
        reply =
            reply.line("You hold no roles, so every command except `help` and `whoami` is denied.");
    }
    for role in roles {
        reply = reply.line(format!("Role `{}` (via {}):", role.role, role.via));
        for grant in role.grants {
            reply = reply.line(format!("  • {grant}"));
        }
    }
    Ok(reply.only_actor())
}

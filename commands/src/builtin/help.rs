//! `help [COMMAND]`: what this bot can do, tailored to what the asker may run.

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    command::{Command, Handler},
    language::Call,
    registry::{ArgSpec, Safety, ServiceArg, ValueKind},
};

pub static COMMAND: Command = Command {
    name: "help",
    summary: "List the commands you can run, or explain one",
    service: ServiceArg::None,
    args: &[ArgSpec {
        name: "command",
        kind: ValueKind::Word,
        required: false,
        help: "a command to explain",
    }],
    flags: &[],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(5),
    examples: &["help", "help restart"],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let actor = &ctx.invocation.actor;
    if let Some(name) = call.text("command") {
        let command = ctx.registry.find(name).ok_or_else(|| {
            let close = ctx.registry.close_matches(name);
            CommandError::Failed(if close.is_empty() {
                format!("there is no command `{name}`")
            } else {
                format!(
                    "there is no command `{name}`; did you mean `{}`?",
                    close.join("` or `")
                )
            })
        })?;
        let mut reply = Reply::info(format!("`{}`", command.usage())).line(command.summary);
        for arg in command.args {
            reply = reply.line(format!("  {}: {}", arg.name.to_ascii_uppercase(), arg.help));
        }
        for flag in command.flags {
            reply = reply.line(format!("  --{}: {}", flag.name, flag.help));
        }
        if command.is_destructive() {
            reply = reply.line(
                "Asks for confirmation; some environments also need a second person's approval.",
            );
        }
        if let Safety::DestructiveActions {
            actions, unless, ..
        } = command.safety
        {
            reply = reply.line(format!(
                "Only {} (without {}) changes anything and asks for confirmation.",
                actions.join(", "),
                unless
                    .iter()
                    .map(|s| format!("`--{s}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if let Safety::DestructiveUnless(switches) = command.safety {
            let switches: Vec<String> = switches.iter().map(|s| format!("`--{s}`")).collect();
            reply = reply.line(format!(
                "With {} it only reads, and runs without confirmation.",
                switches.join(" or ")
            ));
        }
        if !command.examples.is_empty() {
            reply = reply.line(format!(
                "Examples: {}",
                command
                    .examples
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !ctx.access.may_run(actor, command.name, None) {
            reply = reply.line(
                "You hold no role that allows this command; `whoami` shows what you can run.",
            );
        }
        return Ok(reply.only_actor());
    }
    let (mine, others): (Vec<&Command>, Vec<&Command>) = ctx
        .registry
        .commands()
        .iter()
        .copied()
        .partition(|command| {
            command.is_request_control() || ctx.access.may_run(actor, command.name, None)
        });
    let mut reply = Reply::info("Commands you can run").lines(
        mine.iter()
            .map(|command| format!("`{}` — {}", command.usage(), command.summary)),
    );
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|c| c.name).collect();
        reply = reply.line(format!("Not allowed for you: {}", names.join(", ")));
    }
    Ok(reply
        .line("`help COMMAND` explains one command.")
        .only_actor())
}

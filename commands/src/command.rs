//! [`Command`]: one chat command as one value — its name, grammar, safety class, timeout
//! and examples, and what runs it (a [`Handler`]).
//!
//! A command's name is data (`"restart"`): the parser, `help`, RBAC, the audit log,
//! metrics and the Slack and Discord adapters all read it from here. The commands this
//! crate ships are listed once, in [`crate::builtin::COMMANDS`]; a
//! [`Registry`](crate::Registry) is built from such a list by its caller.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::{
    CommandError, Ctx, Reply,
    context::{KnownGood, Runtime},
    language::Call,
    registry::{ArgSpec, FlagSpec, Safety, ServiceArg, ValueKind},
};

/// Runs a parsed call of the command (`restart::run`, boxed: `|call, ctx|
/// Box::pin(run(call, ctx))`).
pub type RunFn = for<'a> fn(&'a Call<'a>, Ctx<'a>) -> BoxFuture<'a, Result<Reply, CommandError>>;

/// Refuses, before anyone is asked to confirm or approve it, a call that can never
/// succeed on its service. Only read-only calls may be made here.
pub type PrecheckFn =
    for<'a> fn(&'a Call<'a>, PrecheckCtx<'a>) -> BoxFuture<'a, Result<(), CommandError>>;

/// What a precheck may read: the runtime (read-only calls only) and the record of the
/// revisions known good.
#[derive(Clone, Copy)]
pub struct PrecheckCtx<'a> {
    pub runtime: &'a dyn Runtime,
    pub known_good: &'a dyn KnownGood,
}

/// What a request-control command does to a pending request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestAction {
    Confirm,
    Cancel,
    Approve,
    Deny,
}

/// What runs a command.
#[derive(Clone, Copy, Debug)]
pub enum Handler {
    /// This crate runs it: `run` does the work; `precheck`, when there is one, refuses a
    /// call that can never succeed before anyone confirms it.
    Runs {
        run: RunFn,
        precheck: Option<PrecheckFn>,
    },
    /// It acts on a pending request (confirmation or approval), which the engine owns, so
    /// the engine runs it.
    RequestControl(RequestAction),
}

/// One chat command: everything static about it, and what runs it.
#[derive(Debug)]
pub struct Command {
    /// The word that invokes it (`restart`), also its name in RBAC grants, the audit log,
    /// metrics, and as a Slack or Discord slash command.
    pub name: &'static str,
    /// One line of help (also the slash commands' description).
    pub summary: &'static str,
    pub service: ServiceArg,
    pub args: &'static [ArgSpec],
    pub flags: &'static [FlagSpec],
    pub safety: Safety,
    /// How long execution may take before the pipeline gives up on it.
    pub timeout: Duration,
    /// Calls that `help` shows and a test parses.
    pub examples: &'static [&'static str],
    pub handler: Handler,
}

impl Command {
    /// `restart SERVICE`, `audit [--limit N] …`: the usage line.
    pub fn usage(&self) -> String {
        let mut usage = self.name.to_string();
        match self.service {
            ServiceArg::None => {}
            ServiceArg::Optional => usage.push_str(" [SERVICE]"),
            ServiceArg::Required => usage.push_str(" SERVICE"),
        }
        for arg in self.args {
            let name = arg.name.to_ascii_uppercase();
            if arg.required {
                usage.push_str(&format!(" {name}"));
            } else {
                usage.push_str(&format!(" [{name}]"));
            }
        }
        for flag in self.flags {
            match flag.kind {
                ValueKind::Switch => usage.push_str(&format!(" [--{}]", flag.name)),
                kind => usage.push_str(&format!(
                    " [--{} {}]",
                    flag.name,
                    value_hint(kind, flag.name)
                )),
            }
        }
        usage
    }

    /// Whether some call of this command changes something (for `help`, slash commands).
    pub fn is_destructive(&self) -> bool {
        matches!(
            self.safety,
            Safety::Destructive | Safety::DestructiveUnless(_) | Safety::DestructiveActions { .. }
        )
    }

    /// Whether this particular call changes something and so must be confirmed.
    pub fn is_destructive_call(&self, call: &Call<'_>) -> bool {
        match self.safety {
            Safety::ReadOnly => false,
            Safety::Destructive => true,
            Safety::DestructiveUnless(switches) => !switches.iter().any(|s| call.switch(s)),
            Safety::DestructiveActions {
                arg,
                actions,
                unless,
            } => {
                call.text(arg).is_some_and(|a| actions.contains(&a))
                    && !unless.iter().any(|s| call.switch(s))
            }
        }
    }

    pub fn flag(&self, name: &str) -> Option<&'static FlagSpec> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// What it does to a pending request, when it is a request-control command.
    pub fn request_action(&self) -> Option<RequestAction> {
        match self.handler {
            Handler::RequestControl(action) => Some(action),
            Handler::Runs { .. } => None,
        }
    }

    /// Whether it acts on a pending request rather than on a service (the engine runs it).
    pub fn is_request_control(&self) -> bool {
        self.request_action().is_some()
    }

    /// Refusals known before anything runs (see [`PrecheckFn`]); `Ok` when the command
    /// has no precheck.
    pub async fn precheck(
        &self,
        call: &Call<'_>,
        reads: PrecheckCtx<'_>,
    ) -> Result<(), CommandError> {
        match self.handler {
            Handler::Runs {
                precheck: Some(precheck),
                ..
            } => precheck(call, reads).await,
            _ => Ok(()),
        }
    }

    /// Runs a parsed call of this command.
    pub async fn run(&self, call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
        match self.handler {
            Handler::Runs { run, .. } => run(call, ctx).await,
            Handler::RequestControl(_) => Err(CommandError::Failed(format!(
                "`{}` is handled by the engine",
                self.name
            ))),
        }
    }
}

fn value_hint(kind: ValueKind, name: &str) -> String {
    match kind {
        ValueKind::Word | ValueKind::Rest => name.to_ascii_uppercase(),
        ValueKind::Integer { .. } => "N".into(),
        ValueKind::IntegerOr { words, .. } => format!("N|{}", words.join("|")),
        ValueKind::Duration => "DURATION".into(),
        ValueKind::Choice(choices) => choices.join("|"),
        ValueKind::Switch => String::new(),
    }
}

//! The commands this crate ships, one file each, listed once in [`COMMANDS`].
//!
//! # Adding a command
//!
//! A command is one value, a [`Command`]: its name, summary, grammar (service, arguments,
//! flags), safety class, timeout and examples, and its [`Handler`] — the `run` function
//! and, optionally, a `precheck` that refuses a call which can never succeed before
//! anyone confirms it. To add one:
//!
//! 1. Write `builtin/NAME.rs` with a `//!` doc, a `pub static COMMAND: Command` and its
//!    `async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError>`:
//!
//!    ```text
//!    pub static COMMAND: Command = Command {
//!        name: "restart",
//!        summary: "Restart a service",
//!        service: ServiceArg::Required,
//!        args: &[],
//!        flags: &[],
//!        safety: Safety::Destructive,
//!        timeout: Duration::from_secs(600),
//!        examples: &["restart wrkhrs-gateway"],
//!        handler: Handler::Runs {
//!            run: |call, ctx| Box::pin(run(call, ctx)),
//!            precheck: None,
//!        },
//!    };
//!    ```
//!
//! 2. Add `mod NAME;` below and `&NAME::COMMAND` to [`COMMANDS`].
//!
//! That is all: the parser, `help`, RBAC (grants name commands by their name), the audit
//! log, metrics, the Slack manifest and the Discord application commands all read the
//! registry built from [`COMMANDS`]. A test in the bot (`command_surfaces`) fails when a
//! command lacks help text, a Slack manifest entry (regenerate
//! `deploy/slack/manifest.example.json` with `opsbot slack manifest`) or a Discord
//! registration; another parses every example.
//!
//! Helpers shared by several commands live in files named for what they do:
//! `service_arg.rs`, `environment_flag.rs`, `action_reply.rs`, `health_gate.rs`, `checks.rs`,
//! [`cost_period`]. Request-control commands (`confirm`, `cancel`, `approve`, `deny`)
//! have [`Handler::RequestControl`]; the engine runs them because they act on its pending
//! requests.

mod action_reply;
mod audit;
mod automation;
mod checks;
mod cost;
pub mod cost_period;
mod environment_flag;
mod health;
mod health_gate;
mod help;
mod incident;
mod last_good;
mod logs;
mod request_control;
mod restart;
mod rollback;
mod runbook;
mod scale;
mod service_arg;
mod services;
mod silence;
mod web;
mod whoami;

#[cfg(test)]
mod cost_tests;
#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod incident_tests;
#[cfg(test)]
mod rollback_tests;
#[cfg(test)]
mod testing;
// The workspace's one recording runtime (`tests/fakes/src/runtime.rs`), compiled into this
// crate's tests so that it implements this copy of `Runtime`.
#[cfg(test)]
#[allow(dead_code)] // what only other crates' tests use
#[path = "../../../tests/fakes/src/runtime.rs"]
mod recording_runtime;

use crate::command::Command;
#[cfg(doc)]
use crate::command::Handler;

/// Every built-in command, in the order `help` lists them.
pub static COMMANDS: &[&Command] = &[
    &help::COMMAND,
    &whoami::COMMAND,
    &services::COMMAND,
    &audit::COMMAND,
    &health::COMMAND,
    &logs::COMMAND,
    &restart::COMMAND,
    &rollback::COMMAND,
    &scale::COMMAND,
    &incident::COMMAND,
    &silence::COMMAND,
    &cost::COMMAND,
    &runbook::COMMAND,
    &automation::COMMAND,
    &web::COMMAND,
    &request_control::CONFIRM,
    &request_control::CANCEL,
    &request_control::APPROVE,
    &request_control::DENY,
];

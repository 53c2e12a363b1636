//! # opsbot-commands
//!
//! The platform-neutral heart of opsbot: the service catalog model, the command language,
//! the neutral rich [`Reply`], and every chat command as one [`Command`] value (its
//! grammar and a plain async `run`), listed once in [`builtin::COMMANDS`]; a
//! [`Registry`] is built from that list by its caller.
//!
//! This crate knows nothing of Slack, Discord, SQL or HTTP. Commands reach the outside
//! world only through the traits in [`context`], which the `opsbot` binary implements
//! (and wires to adapters). Chat text is tokenized here and never reaches a shell.

// Lets `tests/fakes/src/runtime.rs`, compiled into this crate's tests, name this crate
// as every other crate does.
#[cfg(test)]
extern crate self as opsbot_commands;

pub mod automations;
pub mod builtin;
pub mod catalog;
pub mod command;
pub mod context;
pub mod error;
pub mod human_duration;
pub mod investigations;
pub mod invocation;
pub mod language;
pub mod redact;
pub mod registry;
pub mod reply;
pub mod runbooks;
pub mod web_sign_in;

pub use catalog::{Catalog, Environment, Service, ServiceName};
pub use command::Command;
pub use context::Ctx;
pub use error::CommandError;
pub use human_duration::HumanDuration;
pub use invocation::{Actor, IncidentRef, Invocation, Platform, actor_label};
pub use language::{Call, ParseError};
pub use registry::Registry;
pub use reply::{Button, Field, Reply, Status};

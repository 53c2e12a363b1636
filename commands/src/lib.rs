//! # opsbot-commands
//!
//! The platform-neutral heart of opsbot: the service catalog model, the command language,
//! the neutral rich [`Reply`], and every chat command as a plain async function.
//!
//! This crate knows nothing of Slack, Discord, SQL or HTTP. Commands reach the outside
//! world only through the traits in [`context`], which the `opsbot` binary implements
//! (and wires to adapters). Chat text is tokenized here and never reaches a shell.

pub mod builtin;
pub mod catalog;
pub mod context;
pub mod error;
pub mod human_duration;
pub mod invocation;
pub mod language;
pub mod redact;
pub mod registry;
pub mod reply;
pub mod runbooks;

pub use catalog::{Catalog, Environment, Service, ServiceName};
pub use context::Ctx;
pub use error::CommandError;
pub use human_duration::HumanDuration;
pub use invocation::{Actor, Invocation, Platform, actor_label};
pub use language::{Call, ParseError};
pub use registry::{CommandName, CommandSpec, Registry};
pub use reply::{Button, Field, Reply, Status};

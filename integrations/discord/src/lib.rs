//! Discord translation for opsbot, with no decisions of its own:
//!
//! * [`verify`]: the Ed25519 signature Discord puts on every HTTP interaction (over
//!   timestamp + body), plus a freshness window on the timestamp;
//! * [`interaction`]: an interaction (HTTP body or gateway event, same JSON) into neutral
//!   data — who (user id, guild role ids), where (channel, thread), what (command text);
//! * [`command_text`]: the options of an application command back into command text;
//! * [`application_commands`]: `/health`, `/restart`, … generated from the command
//!   registry, with typed options and an autocompleted service option;
//! * [`custom_id`]: what a button carries (the command its press runs);
//! * [`render`]: a neutral [`opsbot_commands::Reply`] as an embed with buttons;
//! * [`response`]: interaction responses (PONG, deferred, autocomplete, confirm prompt);
//! * [`target`]: where an outbox message goes (a channel, or an interaction's answer);
//! * [`rest`]: the REST calls opsbot makes, over serenity's HTTP (rate limiter on in
//!   production; a configurable base URL for tests and proxies).
//!
//! The bot wires these into its router, engine and outbox.

pub mod application_commands;
pub mod command_text;
pub mod custom_id;
pub mod interaction;
pub mod render;
pub mod response;
pub mod rest;
mod rest_error;
pub mod target;
pub mod verify;

pub use application_commands::application_commands;
pub use interaction::{Action, Incoming, InteractionError, Request};
pub use render::{MessageBody, render};
pub use rest::{DiscordRest, RestConfig};
pub use rest_error::RestError;
pub use target::Target;
pub use verify::{RequestVerifier, VerifyError};

/// Discord's public API base URL.
pub const DISCORD_API: &str = "https://discord.com";

//! Slack for opsbot, translated both ways and deciding nothing:
//!
//! * [`signature`]: Slack's v0 request signatures (HMAC-SHA256, five-minute window);
//! * [`slash`]: slash command names generated from the registry (`/restart`, `/ops …`);
//! * [`inbound`]: slash commands, button presses and Events API envelopes as neutral
//!   [`inbound::Inbound`] invocations;
//! * [`blocks`]: Block Kit rendering of the neutral [`opsbot_commands::Reply`];
//! * [`destination`]: where a message goes (channel, thread, one user, a request's
//!   `response_url`);
//! * [`client`]: the Web API calls (slack-morphism's hyper client, configurable base URL),
//!   answers through a `response_url`, and image uploads;
//! * [`manifest`]: the Slack app manifest.
//!
//! The bot (`opsbot`'s `slack` module) wires these to the engine and the outbox, and runs
//! Socket Mode (slack-morphism's listener) into the same functions of [`inbound`].
//!
//! What comes from slack-morphism and what does not: its hyper client (Web API calls,
//! rate control, `Retry-After`), its Socket Mode listener (connections, reconnects,
//! envelope acknowledgements) and its models (slash command, interaction and Events API
//! payloads, Block Kit) are used as they are. Its axum listener is not: it verifies
//! signatures with the system clock only (so Slack's documented example cannot be
//! checked, see [`signature`]), answers failed checks through one global error handler
//! without the reason, and owns the request-to-response path, where opsbot needs its
//! own 401/400 answers, metrics and an acknowledgement before the pipeline runs. The
//! three routes are small axum handlers in the bot over [`signature`] and [`inbound`].

pub mod blocks;
pub mod client;
pub mod destination;
pub mod inbound;
pub mod manifest;
pub mod signature;
pub mod slash;

pub use client::{ApiError, Posted, WebApi, WebApiSettings};
pub use destination::{Destination, ResponseUrl, ResponseUrlPolicy};
pub use inbound::{Event, Inbound, InboundError, Source};
pub use signature::{SignatureError, SigningSecret};
pub use slash::SlashCommands;

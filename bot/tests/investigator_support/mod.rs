//! Support for `bot/tests/investigator.rs` beyond its Slack harness: a model that streams
//! at a person's reading pace ([`paced`]) and the same investigation through Discord
//! ([`discord`]).

pub mod discord;
pub mod paced;

//! Test doubles shared by the bot's end-to-end tests (`mod doubles;` in a test file):
//! a runtime that records actions instead of performing them, and a prober for which
//! every health check passes. Benches include `healthy.rs` alone (`#[path]`).

// Each test file uses part of these.
#![allow(dead_code)]

mod healthy;
mod recorder;

pub use healthy::Healthy;
pub use recorder::Recorder;

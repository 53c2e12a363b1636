//! Configuration: `opsbot.toml`, env overrides, secrets and validation.
pub mod model;
pub use model::*;

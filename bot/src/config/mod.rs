//! Configuration: `opsbot.toml`, env overrides, secrets and validation.
//!
//! [`model`] is the typed shape of the file; [`load`] reads and parses it (with
//! [`document`] locating every error by line, column and key path, and `${ENV_VAR}`
//! references in any string value resolved first); [`secret`] resolves tokens without
//! ever printing them; [`validate`] checks cross references, collecting what it finds
//! in `problems` (each section's own `check` too); [`summary`] renders
//! `opsbot check-config`.
//!
//! One file per section: [`alerts`] (`[alerts]`), [`escalation`] (`[[escalation]]`),
//! [`maintenance`] (`[[maintenance]]`), [`cost`], [`slack`], [`discord`], …; [`delay`] is
//! the may-be-zero duration several of them share.
pub mod alerts;
pub mod automations;
pub mod cost;
pub mod delay;
pub mod discord;
pub mod docker;
pub mod document;
pub mod error;
pub mod escalation;
mod interpolate;
pub mod investigator;
pub mod kubernetes;
pub mod leadership;
pub mod load;
pub mod maintenance;
pub mod model;
pub mod name_glob;
pub mod outbox;
mod problems;
pub mod runbooks;
pub mod secret;
pub mod slack;
pub mod storm;
pub mod summary;
pub mod systemd;
pub mod validate;
pub mod web;

pub use alerts::AlertsConfig;
pub use automations::AutomationConfig;
pub use cost::CostConfig;
pub use discord::{DiscordConfig, DiscordMode};
pub use docker::DockerConfig;
pub use error::{ConfigError, Diagnostic};
pub use escalation::EscalationPolicy;
pub use investigator::InvestigatorConfig;
pub use leadership::{LeadershipBackend, LeadershipConfig};
pub use load::{
    DEFAULT_CONFIG_PATH, ENV_CONFIG, ENV_DATABASE_URL, ENV_LISTEN, LoadedConfig, Overrides,
    apply_overrides, config_path, load, load_with, parse, process_env,
};
pub use maintenance::MaintenanceWindow;
pub use model::*;
pub use outbox::OutboxConfig;
pub use runbooks::RunbookConfig;
pub use secret::{Secret, SecretSource, redact_url};
pub use slack::{SlackConfig, SlackMode};
pub use summary::summarize;
pub use systemd::SystemdConfig;
pub use web::WebConfig;

//! Spend for the `cost` command and budget alerts.
//!
//! [`CostSources`] reaches the APIs of `opsbot-cost` as `[cost]` configures them and
//! answers a service's `[[services.cost]]` entries, each on its own (one failing source
//! never hides the others). [`SpendService`] is the engine's [`CostReader`]: it puts a
//! [`SpendCache`] in front of the sources and draws charts. [`budget_alerts`] checks
//! budgets on an interval and raises incidents through the incidents pipeline. With
//! `[investigator]`, what investigations cost is a source of its own ([`investigations`]).
//!
//! [`CostReader`]: opsbot_commands::context::CostReader

pub mod budget_alerts;
mod cache;
mod investigations;
mod metrics;
mod reader;
mod sources;

pub use cache::SpendCache;
pub use metrics::CostMetrics;
pub use reader::SpendService;
pub use sources::{CostSetupError, CostSources};

//! The record of an incident, read from everything the store keeps about it: a merged
//! [`Timeline`] (alerts, the incident's events, audited commands of its thread and its
//! service, runbook runs and steps, health gate passes), a [`Postmortem`] draft with
//! response times and the verification of the audit entries it cites, and [`Stats`] over
//! many incidents. Markdown renderings go to chat as attachments (through [`Records`],
//! the commands' [`opsbot_commands::context::IncidentRecords`]) and to the web console.
//!
//! ```text
//! let timeline = record::Timeline::load(&store, 42).await?;
//! let markdown = timeline.to_markdown();
//! let draft = record::Postmortem::draft(&store, 42, jiff::Timestamp::now()).await?;
//! let stats = record::Stats::compute(&store, &record::StatsQuery { since, service: None, now }).await?;
//! ```
//!
//! Reads only: it may read every table, and writes none.

mod citations;
mod desk;
mod error;
mod markdown;
mod postmortem;
mod sources;
mod stats;
mod timeline;

#[cfg(test)]
mod tests;

pub use citations::{Citation, CitationCheck};
pub use desk::Records;
pub use error::RecordError;
pub use postmortem::{Action, FollowUp, Milestone, Postmortem, ResponseTimes};
pub use sources::{HealthGatePass, IncidentSources, RunbookRunRecord, RunbookStepRecord};
pub use stats::{NO_SERVICE, NoisyAlert, Spread, Stats, StatsQuery};
pub use timeline::{Entry, EntryKind, Timeline};

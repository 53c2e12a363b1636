//! What the `automation` command asks of the binary: the [`AutomationDesk`] trait (the
//! kill switch of `[[automations]]` and their list) and the view it answers with. The
//! automations themselves (matching, guardrails, runs) are the binary's; the command
//! (`builtin/automation.rs`) words the replies.

use async_trait::async_trait;

use crate::Invocation;

/// One automation as `automation list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomationView {
    pub name: String,
    /// What it does and when: `runbook `x` on incident (services …; at most 3 per 1h, cooldown 10m)`.
    pub summary: String,
    /// Who paused it (or every automation), if it is paused.
    pub paused_by: Option<String>,
}

/// The automations and their kill switch. Errors are sentences for the person who typed
/// the command (`there is no automation `x``, `the store is unavailable …`).
#[async_trait]
pub trait AutomationDesk: Send + Sync {
    /// Pauses one automation, or (`None`) every one; says what changed.
    async fn pause(&self, name: Option<&str>, invocation: &Invocation) -> Result<String, String>;
    /// Lifts the pause of one automation, or (`None`) every pause; says what changed.
    async fn resume(&self, name: Option<&str>, invocation: &Invocation) -> Result<String, String>;
    /// Every configured automation, in configuration order.
    async fn list(&self) -> Result<Vec<AutomationView>, String>;
}

/// A desk without automations (tests of other commands; a binary with none configured).
pub struct NoAutomations;

#[async_trait]
impl AutomationDesk for NoAutomations {
    async fn pause(&self, name: Option<&str>, _invocation: &Invocation) -> Result<String, String> {
        Err(none_configured(name))
    }
    async fn resume(&self, name: Option<&str>, _invocation: &Invocation) -> Result<String, String> {
        Err(none_configured(name))
    }
    async fn list(&self) -> Result<Vec<AutomationView>, String> {
        Ok(Vec::new())
    }
}

fn none_configured(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("there is no automation `{name}`; none is configured"),
        None => "no automation is configured".to_string(),
    }
}

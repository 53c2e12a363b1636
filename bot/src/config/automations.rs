//! `[[automations]]`: a runbook that starts by itself, as the principal
//! `automation:NAME`, when an incident opens or fires again (matching alert name, service
//! and severity globs) or when a service's budget crosses its warning or critical
//! threshold. The typed section, its guardrails and its checks for `check-config`.
//!
//! ```toml
//! [[automations]]
//! name = "ai-service-down"
//! runbook = "userwhisperer-ai-service-down"
//! on = "incident"
//! alerts = ["AIServiceDown"]
//! services = ["ai-orchestration"]
//! severities = ["critical"]
//! params = { service = "{service}" }
//! max_runs = 3
//! window = "1h"
//! cooldown = "10m"
//! ```
//!
//! Evaluating automations is `crate::automations`.

use std::collections::{BTreeMap, BTreeSet};

use opsbot_commands::{Catalog, HumanDuration};
use serde::Deserialize;

use super::{
    Config,
    document::KeyPath,
    problems::{Problems, check_globs},
};

/// Severities an incident automation may name.
pub const SEVERITIES: &[&str] = &["critical", "warning", "info"];

/// What starts an automation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// An incident opens or fires again.
    Incident,
    /// A service's spend crosses a budget threshold (once per threshold and period).
    Budget,
}

/// One `[[automations]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationConfig {
    /// The principal is `automation:NAME` (bind it a role in `[[bindings]]`).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The runbook it starts.
    pub runbook: String,
    pub on: Trigger,
    /// Alert name globs (`on = "incident"`); absent: any alert.
    #[serde(default)]
    pub alerts: Vec<String>,
    /// Service name globs; absent: any service.
    #[serde(default)]
    pub services: Vec<String>,
    /// Severity globs (`critical`, `warning`, `info`); absent: any.
    #[serde(default)]
    pub severities: Vec<String>,
    /// Budget levels (`on = "budget"`): `warning`, `critical`; absent: both.
    #[serde(default)]
    pub levels: Vec<String>,
    /// The runbook's parameters; `{service}`, `{alert}`, `{severity}`, `{incident}` and
    /// `{level}` are filled from what started it.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// At most this many runs per service within `window`.
    #[serde(default = "default_max_runs")]
    pub max_runs: u32,
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    /// No new run for a service within this long after the last one started.
    #[serde(default = "default_cooldown")]
    pub cooldown: HumanDuration,
    /// Run even while a maintenance window covers the service.
    #[serde(default)]
    pub during_maintenance: bool,
    /// Run even when the incident's alerts are silenced.
    #[serde(default)]
    pub during_silence: bool,
    /// When the run fails, or the service is still unhealthy after it, escalate the
    /// incident to its next level at once.
    #[serde(default = "yes")]
    pub escalate_on_failure: bool,
}

fn default_max_runs() -> u32 {
    3
}
fn default_window() -> HumanDuration {
    HumanDuration::from_secs(3600)
}
fn default_cooldown() -> HumanDuration {
    HumanDuration::from_secs(600)
}
fn yes() -> bool {
    true
}

/// Placeholders an automation's params may use.
pub const PLACEHOLDERS: &[&str] = &["service", "alert", "severity", "incident", "level"];

fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push(&rest[start + 1..start + end]);
        rest = &rest[start + end + 1..];
    }
    out
}

fn glob_matches_any(glob: &str, names: &[&str]) -> bool {
    super::name_glob::NameGlob::new(glob)
        .ok()
        .is_some_and(|g| names.iter().any(|n| g.is_match(n)))
}

/// Checks every automation: names, the runbook it names and that runbook's parameters,
/// globs, severities and levels, guardrails.
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let mut names = BTreeSet::new();
    for (index, automation) in config.automations.iter().enumerate() {
        let path = KeyPath::root().key("automations").index(index);
        if automation.name.is_empty()
            || !automation
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(
                path.key("name"),
                "must be one word of letters, digits, `-` and `_` (it is the principal `automation:NAME`)",
            );
        }
        if !names.insert(automation.name.as_str()) {
            problems.push(
                path.key("name"),
                format!("another automation is already named `{}`", automation.name),
            );
        }
        match config
            .runbooks
            .iter()
            .find(|r| r.name == automation.runbook)
        {
            None => {
                let known: Vec<&str> = config.runbooks.iter().map(|r| r.name.as_str()).collect();
                problems.push(
                    path.key("runbook"),
                    format!(
                        "there is no runbook `{}`; runbooks: {}",
                        automation.runbook,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
            Some(runbook) => {
                for key in automation.params.keys() {
                    if !runbook.params.iter().any(|p| &p.name == key) {
                        problems.push(
                            path.key("params").key(key.clone()),
                            format!("runbook `{}` has no parameter `{key}`", runbook.name),
                        );
                    }
                }
            }
        }
        for (key, value) in &automation.params {
            for name in placeholders(value) {
                if !PLACEHOLDERS.contains(&name) {
                    problems.push(
                        path.key("params").key(key.clone()),
                        format!(
                            "unknown placeholder `{{{name}}}`; use {}",
                            PLACEHOLDERS
                                .iter()
                                .map(|p| format!("{{{p}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
        }
        for (key, globs) in [
            ("alerts", &automation.alerts),
            ("services", &automation.services),
            ("severities", &automation.severities),
        ] {
            if !globs.is_empty() {
                check_globs(globs, &path.key(key), problems);
            }
        }
        for (i, severity) in automation.severities.iter().enumerate() {
            if !glob_matches_any(severity, SEVERITIES) {
                problems.push(
                    path.key("severities").index(i),
                    format!(
                        "`{severity}` matches no severity; use {}",
                        SEVERITIES.join(", ")
                    ),
                );
            }
        }
        match automation.on {
            Trigger::Incident => {
                if !automation.levels.is_empty() {
                    problems.push(path.key("levels"), "`levels` is for `on = \"budget\"`");
                }
            }
            Trigger::Budget => {
                if !automation.alerts.is_empty() {
                    problems.push(path.key("alerts"), "`alerts` is for `on = \"incident\"`");
                }
                for (i, level) in automation.levels.iter().enumerate() {
                    if level != "warning" && level != "critical" {
                        problems.push(
                            path.key("levels").index(i),
                            format!("unknown budget level `{level}`; use warning or critical"),
                        );
                    }
                }
            }
        }
        if automation.max_runs == 0 {
            problems.push(
                path.key("max_runs"),
                "must be at least 1 (use `automation pause` to stop it)",
            );
        }
    }
}

/// What `check-config` should warn about (valid, but probably not meant): a service glob
/// that matches no service of the catalog, each with its key path.
pub fn warnings(config: &Config, catalog: &Catalog) -> Vec<String> {
    let names: Vec<&str> = catalog.services().iter().map(|s| s.name.as_str()).collect();
    let mut out = Vec::new();
    for (index, automation) in config.automations.iter().enumerate() {
        for (i, glob) in automation.services.iter().enumerate() {
            if !glob_matches_any(glob, &names) {
                out.push(format!(
                    "automations[{index}].services[{i}]: `{glob}` matches no service of the catalog; automation `{}` will never start for it",
                    automation.name
                ));
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "automations_tests.rs"]
mod tests;

//! What incident handling takes from the configuration, prepared once at start.

use std::time::Duration;

use crate::config::{Config, EscalationPolicy, alerts::DefaultChannel};

use super::maintenance::Window;

/// `[alerts]`, `[[escalation]]` and `[[maintenance]]`, ready to use.
#[derive(Clone, Debug)]
pub struct IncidentSettings {
    pub service_labels: Vec<String>,
    pub group_by: Vec<String>,
    pub reopen_window: Duration,
    pub default_channel: DefaultChannel,
    pub default_escalation: Option<String>,
    pub max_listed_alerts: usize,
    pub policies: Vec<EscalationPolicy>,
    pub maintenance: Vec<Window>,
    /// `[outbox.storm]` with the channel rate: when new incidents fold into a board.
    pub storm: super::storm::StormSettings,
    /// `[investigator]` is configured: roots offer an Investigate button.
    pub investigate: bool,
}

impl IncidentSettings {
    pub fn from_config(config: &Config) -> Self {
        let alerts = &config.alerts;
        Self {
            service_labels: alerts.service_labels.clone(),
            group_by: alerts.group_by.clone(),
            reopen_window: alerts.reopen_window.as_duration(),
            default_channel: alerts.default_channel.clone(),
            default_escalation: alerts.default_escalation.clone(),
            max_listed_alerts: alerts.max_listed_alerts,
            policies: config.escalation.clone(),
            maintenance: config.maintenance.iter().map(Window::new).collect(),
            storm: super::storm::StormSettings::from_config(&config.outbox),
            investigate: config.investigator.is_some(),
        }
    }

    pub fn policy(&self, name: Option<&str>) -> Option<&EscalationPolicy> {
        let name = name?;
        self.policies.iter().find(|p| p.name == name)
    }
}

impl Default for IncidentSettings {
    fn default() -> Self {
        Self::from_config(&crate::config::parse("", "default", &|_| None).expect("empty config"))
    }
}

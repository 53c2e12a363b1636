//! Which `[[automations]]` an incident that fired starts, and with which runbook
//! parameters: pure functions of the configuration and the incident's facts. The globs
//! are compiled once ([`Triggers::new`]), not on every firing: automations are evaluated
//! for every incident of every committed alert batch.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::{
    config::automations::{AutomationConfig, Trigger},
    incidents::{FiredFacts, IncidentAlert},
};

/// One automation that matched one firing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub automation: String,
    pub service: String,
    /// One trigger starts at most one run: `incident:ID:AT` (a firing) or a budget
    /// alert's fingerprint (one threshold of one period).
    pub trigger_key: String,
    pub params: Vec<(String, String)>,
}

/// A list of globs, compiled: no globs matches anything; a glob that does not compile
/// matches nothing (`check-config` reports it).
struct Patterns(Option<GlobSet>);

impl Patterns {
    fn new(globs: &[String]) -> Self {
        if globs.is_empty() {
            return Self(None);
        }
        let mut set = GlobSetBuilder::new();
        for glob in globs {
            if let Ok(glob) = Glob::new(glob) {
                set.add(glob);
            }
        }
        Self(Some(set.build().unwrap_or_else(|_| GlobSet::empty())))
    }

    fn matches(&self, value: &str) -> bool {
        self.0.as_ref().is_none_or(|set| set.is_match(value))
    }
}

/// What an automation fires on, compiled.
struct Compiled {
    services: Patterns,
    alerts: Patterns,
    severities: Patterns,
}

/// The automations of a configuration with their globs compiled, in configuration order.
pub struct Triggers {
    automations: Vec<(AutomationConfig, Compiled)>,
}

impl Triggers {
    pub fn new(automations: Vec<AutomationConfig>) -> Self {
        Self {
            automations: automations
                .into_iter()
                .map(|a| {
                    let compiled = Compiled {
                        services: Patterns::new(&a.services),
                        alerts: Patterns::new(&a.alerts),
                        severities: Patterns::new(&a.severities),
                    };
                    (a, compiled)
                })
                .collect(),
        }
    }
}

/// Whether any automation may start for an incident of `service` (its facts are read
/// only then).
pub fn any_for_service(triggers: &Triggers, service: &str) -> bool {
    triggers
        .automations
        .iter()
        .any(|(_, compiled)| compiled.services.matches(service))
}

/// The budget level of a budget alert (`cost-budget:SERVICE:PERIOD:ID:LEVEL`).
fn budget_level(alert: &IncidentAlert) -> Option<&str> {
    alert
        .fingerprint
        .strip_prefix("cost-budget:")
        .and_then(|rest| rest.rsplit(':').next())
}

fn fill(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The automations `facts` (fired at `at_us`) starts, in configuration order.
pub fn matching(triggers: &Triggers, facts: &FiredFacts, at_us: i64) -> Vec<Match> {
    let incident = &facts.incident;
    let Some(service) = incident.service.as_deref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (automation, compiled) in &triggers.automations {
        if !compiled.services.matches(service) {
            continue;
        }
        let found = facts.firing.iter().find_map(|alert| {
            let level = budget_level(alert);
            let fits = match automation.on {
                Trigger::Incident => {
                    level.is_none()
                        && compiled.alerts.matches(&alert.name)
                        && compiled.severities.matches(&alert.severity)
                }
                Trigger::Budget => level.is_some_and(|l| {
                    (automation.levels.is_empty() || automation.levels.iter().any(|x| x == l))
                        && alert.last_seen.as_microsecond() == at_us
                }),
            };
            fits.then_some((alert, level))
        });
        let Some((alert, level)) = found else {
            continue;
        };
        let trigger_key = match automation.on {
            Trigger::Incident => format!("incident:{}:{at_us}", incident.id),
            Trigger::Budget => alert.fingerprint.clone(),
        };
        let values = BTreeMap::from([
            ("service", service.to_string()),
            ("alert", alert.name.clone()),
            ("severity", alert.severity.clone()),
            ("incident", incident.id.to_string()),
            ("level", level.unwrap_or_default().to_string()),
        ]);
        out.push(Match {
            automation: automation.name.clone(),
            service: service.to_string(),
            trigger_key,
            params: automation
                .params
                .iter()
                .map(|(k, v)| (k.clone(), fill(v, &values)))
                .collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn automation(text: &str) -> AutomationConfig {
        toml::from_str(&format!("name = \"a\"\nrunbook = \"r\"\n{text}")).unwrap()
    }

    #[test]
    fn compiled_globs_match_as_the_configuration_says() {
        let triggers = Triggers::new(vec![
            automation(
                "on = \"incident\"\nservices = [\"ai-*\", \"[\"]\nalerts = [\"AIService*\"]",
            ),
            automation("on = \"budget\"\nservices = [\"alice-openai\"]"),
        ]);
        assert!(any_for_service(&triggers, "ai-orchestration"));
        assert!(any_for_service(&triggers, "alice-openai"));
        assert!(
            !any_for_service(&triggers, "ollama"),
            "no automation covers it"
        );
        let (_, first) = &triggers.automations[0];
        assert!(first.alerts.matches("AIServiceDown"));
        assert!(!first.alerts.matches("GatewayDown"));
        assert!(first.severities.matches("anything"), "no globs: any");
        assert!(
            !first.services.matches("["),
            "a glob that does not compile matches nothing"
        );
        let any = Triggers::new(vec![automation("on = \"incident\"")]);
        assert!(any_for_service(&any, "ollama"), "no services: any service");
    }
}

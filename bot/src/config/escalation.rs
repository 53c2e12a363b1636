//! `[[escalation]]`: whom to page, in which order, how fast; and the references to
//! policies (`[alerts] default_escalation`, a service's `escalation`).

use std::{collections::BTreeMap, time::Duration};

use opsbot_commands::HumanDuration;
use serde::Deserialize;

use super::{Config, delay::Delay, document::KeyPath, problems::Problems};

/// Severities an escalation policy may name.
pub const SEVERITIES: &[&str] = &["critical", "warning", "info"];

/// `[[escalation]]`: whom to page, in which order, how fast.
///
/// On opening, level 1 is mentioned at once (its `after` delays it). Nobody acknowledged
/// within the next level's `after` (for level 2, `respond_within.SEVERITY` when given):
/// the next level is mentioned. After the last level, its mention repeats every `repeat`.
/// Acknowledging stops this clock; `escalate_after.SEVERITY` is the runbooks' "escalate
/// if not resolved in 30 minutes": an acknowledged incident still open that long after
/// opening is escalated one level, once.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    pub name: String,
    pub levels: Vec<EscalationLevel>,
    #[serde(default)]
    pub respond_within: BTreeMap<String, HumanDuration>,
    #[serde(default)]
    pub escalate_after: BTreeMap<String, HumanDuration>,
    #[serde(default)]
    pub repeat: Option<HumanDuration>,
}

/// One level of an escalation policy.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// `L1`, `L2`, …
    pub name: String,
    /// Mentions posted in the thread (`@ai-ops-oncall`, `<@U0…>`, a phone extension).
    #[serde(default)]
    pub mention: Vec<String>,
    /// How long after the previous level (after opening, for the first) this one is paged.
    #[serde(default)]
    pub after: Option<Delay>,
}

impl EscalationPolicy {
    /// The delay before paging level `index` (0-based) when the previous one got no
    /// acknowledgement; `None` when it is never paged automatically.
    pub fn delay_before(&self, index: usize, severity: &str) -> Option<Duration> {
        let level = self.levels.get(index)?;
        if index == 1
            && let Some(within) = self.respond_within.get(severity)
        {
            return Some(within.as_duration());
        }
        match level.after {
            Some(delay) => Some(delay.0),
            None if index == 0 => Some(Duration::ZERO),
            None => self.respond_within.get(severity).map(|d| d.as_duration()),
        }
    }
}

/// Checks `[[escalation]]` and every reference to a policy.
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let root = KeyPath::root();
    let mut policies = std::collections::BTreeSet::new();
    for (index, policy) in config.escalation.iter().enumerate() {
        let path = root.key("escalation").index(index);
        if policy.name.trim().is_empty() {
            problems.push(path.key("name"), "must not be empty");
        } else if !policies.insert(policy.name.as_str()) {
            problems.push(
                path.key("name"),
                format!("another escalation policy is named `{}`", policy.name),
            );
        }
        if policy.levels.is_empty() {
            problems.push(path.key("levels"), "needs at least one level");
        }
        for (i, level) in policy.levels.iter().enumerate() {
            if level.name.trim().is_empty() {
                problems.push(path.key("levels").index(i).key("name"), "must not be empty");
            }
        }
        for key in ["respond_within", "escalate_after"] {
            let map = if key == "respond_within" {
                &policy.respond_within
            } else {
                &policy.escalate_after
            };
            for severity in map.keys() {
                if !SEVERITIES.contains(&severity.as_str()) {
                    problems.push(
                        path.key(key).key(severity.as_str()),
                        format!(
                            "unknown severity `{severity}`; use {}",
                            SEVERITIES.join(", ")
                        ),
                    );
                }
            }
        }
    }
    let known = |name: &str| config.escalation.iter().any(|p| p.name == name);
    let unknown = |name: &str| {
        let defined: Vec<&str> = config.escalation.iter().map(|p| p.name.as_str()).collect();
        if defined.is_empty() {
            format!("unknown escalation policy `{name}`; none is defined (add [[escalation]])")
        } else {
            format!(
                "unknown escalation policy `{name}`; defined: {}",
                defined.join(", ")
            )
        }
    };
    if let Some(name) = &config.alerts.default_escalation
        && !known(name)
    {
        problems.push(root.key("alerts").key("default_escalation"), unknown(name));
    }
    for (index, service) in config.services.iter().enumerate() {
        if let Some(name) = &service.escalation
            && !known(name)
        {
            problems.push(
                root.key("services").index(index).key("escalation"),
                unknown(name),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_delays() {
        let policy: EscalationPolicy = toml::from_str(
            r#"
            name = "p"
            levels = [{ name = "L1", after = "0m" }, { name = "L2" }, { name = "L3", after = "30m" }]
            respond_within = { critical = "15m", warning = "1h" }
            "#,
        )
        .unwrap();
        assert_eq!(policy.delay_before(0, "critical"), Some(Duration::ZERO));
        assert_eq!(
            policy.delay_before(1, "critical"),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            policy.delay_before(1, "warning"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(policy.delay_before(1, "info"), None);
        assert_eq!(
            policy.delay_before(2, "info"),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(policy.delay_before(3, "critical"), None);
    }

    #[test]
    fn unknown_policies_are_located_by_line_and_key() {
        let err = crate::config::parse(
            "[[services]]\nname = \"a\"\nenvironment = \"prod\"\nescalation = \"nope\"\n",
            "t.toml",
            &|_| None,
        )
        .unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(
            (d.line, d.key.as_str()),
            (4, "services[0].escalation"),
            "{d}"
        );
        assert!(
            d.message.contains("unknown escalation policy `nope`"),
            "{d}"
        );
    }
}

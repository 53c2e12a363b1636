//! One catalog entry: a service, where it runs, how to check it and what it may cost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Budget, CostSource, Environment, HealthCheck, ServiceName, Target};

/// The incident channel of a service on each chat platform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    /// Slack channel name (`#ai-operations`) or id (`C0123…`).
    #[serde(default)]
    pub slack: Option<String>,
    /// Discord channel id.
    #[serde(default)]
    pub discord: Option<String>,
}

/// A service in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: ServiceName,
    #[serde(default)]
    pub aliases: Vec<ServiceName>,
    pub environment: Environment,
    #[serde(default)]
    pub description: String,
    /// Team or people who own the service (free text, shown in replies).
    #[serde(default)]
    pub owners: Vec<String>,
    /// Link to the runbook an operator follows by hand.
    #[serde(default)]
    pub runbook: Option<String>,
    #[serde(default)]
    pub channels: Channels,
    #[serde(default)]
    pub target: Target,
    #[serde(default)]
    pub health: Vec<HealthCheck>,
    #[serde(default)]
    pub cost: Vec<CostSource>,
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Upper bound for `scale`; scaling is refused when absent.
    #[serde(default)]
    pub max_replicas: Option<u32>,
    /// Alert labels that identify this service (e.g. `job = "wrkhrs-gateway"`).
    #[serde(default)]
    pub alert_labels: BTreeMap<String, String>,
    /// Name of the escalation policy for this service's incidents.
    #[serde(default)]
    pub escalation: Option<String>,
}

impl Service {
    /// A service with only a name and an environment; used by tests and builders.
    pub fn new(name: ServiceName, environment: Environment) -> Self {
        Self {
            name,
            aliases: Vec::new(),
            environment,
            description: String::new(),
            owners: Vec::new(),
            runbook: None,
            channels: Channels::default(),
            target: Target::None,
            health: Vec::new(),
            cost: Vec::new(),
            budget: None,
            max_replicas: None,
            alert_labels: BTreeMap::new(),
            escalation: None,
        }
    }

    pub fn with_aliases(mut self, aliases: Vec<ServiceName>) -> Self {
        self.aliases = aliases;
        self
    }

    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }
}

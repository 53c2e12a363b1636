//! The parts of the Engine API's container documents opsbot reads (`GET /containers/json`
//! and `GET /containers/{id}/json`), and what a container's state means for an operator.

use std::collections::BTreeMap;

use opsbot_commands::context::HealthLevel;
use serde::Deserialize;

/// Compose labels on every container `docker compose` creates.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";

/// One entry of `GET /containers/json`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub state: String,
}

impl ContainerSummary {
    /// The container's name without the leading `/`, or its short id.
    pub fn name(&self) -> String {
        self.names
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| short_id(&self.id).to_string())
    }

    /// Compose's replica number (`com.docker.compose.container-number`).
    pub fn number(&self) -> Option<u32> {
        self.labels.get(LABEL_NUMBER)?.parse().ok()
    }

    /// A `docker compose run` container, not a replica of the service.
    pub fn is_oneoff(&self) -> bool {
        self.labels
            .get(LABEL_ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// `GET /containers/{id}/json`, the fields opsbot uses.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub state: ContainerState,
    #[serde(default)]
    pub restart_count: u64,
    #[serde(default)]
    pub config: Option<ConfigView>,
}

/// `Config` of an inspected container: only whether it has a TTY (logs are then raw).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigView {
    #[serde(default)]
    pub tty: bool,
}

/// `State` of an inspected container.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// created, running, paused, restarting, removing, exited or dead.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub health: Option<Health>,
}

/// `State.Health`, present when the image or compose file defines a healthcheck.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// none, starting, healthy or unhealthy.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub failing_streak: u64,
    #[serde(default)]
    pub log: Option<Vec<HealthLogEntry>>,
}

/// One healthcheck run.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLogEntry {
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub output: String,
}

/// What a container's state means for an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Running and healthy, or running without a healthcheck.
    Healthy,
    /// Created, or running with its healthcheck still in its start period.
    Starting,
    Paused,
    /// Docker is restarting it (its restart policy after an exit).
    Restarting,
    /// Running, but its healthcheck fails.
    Unhealthy,
    /// Exited, dead or being removed.
    Down,
}

impl Condition {
    pub fn level(self) -> HealthLevel {
        match self {
            Condition::Healthy => HealthLevel::Ok,
            Condition::Starting | Condition::Paused => HealthLevel::Warning,
            Condition::Restarting | Condition::Unhealthy | Condition::Down => HealthLevel::Critical,
        }
    }
}

impl ContainerInspect {
    /// The name without the leading `/`.
    pub fn display_name(&self) -> String {
        let name = self.name.trim_start_matches('/');
        if name.is_empty() {
            short_id(&self.id).to_string()
        } else {
            name.to_string()
        }
    }

    pub fn tty(&self) -> bool {
        self.config.as_ref().is_some_and(|c| c.tty)
    }

    fn health_status(&self) -> Option<&str> {
        self.state
            .health
            .as_ref()
            .map(|h| h.status.as_str())
            .filter(|s| !s.is_empty() && *s != "none")
    }

    pub fn condition(&self) -> Condition {
        match self.state.status.as_str() {
            "running" => match self.health_status() {
                None | Some("healthy") => Condition::Healthy,
                Some("unhealthy") => Condition::Unhealthy,
                Some(_) => Condition::Starting,
            },
            "created" => Condition::Starting,
            "paused" => Condition::Paused,
            "restarting" => Condition::Restarting,
            _ => Condition::Down,
        }
    }

    /// `running (healthy)`, `running`, `exited (code 1)`, `restarting`.
    pub fn describe(&self) -> String {
        let status = if self.state.status.is_empty() {
            "unknown"
        } else {
            self.state.status.as_str()
        };
        let mut text = match (status, self.health_status()) {
            ("running", Some(health)) => format!("running ({health})"),
            ("exited" | "dead", _) => format!("{status} (code {})", self.state.exit_code),
            _ => status.to_string(),
        };
        if !self.state.error.is_empty() {
            text.push_str(&format!(": {}", self.state.error));
        }
        text
    }

    /// The output of the latest healthcheck run, trimmed, when there is one.
    pub fn last_health_output(&self) -> Option<String> {
        let entry = self.state.health.as_ref()?.log.as_ref()?.last()?;
        let output = entry.output.trim();
        (!output.is_empty()).then(|| format!("exit {}: {output}", entry.exit_code))
    }
}

/// The 12-character id docker prints.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(json: serde_json::Value) -> ContainerInspect {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn conditions_follow_state_and_health() {
        let c = inspect(serde_json::json!({
            "Id": "abc", "Name": "/p-s-1",
            "State": {"Status": "running", "Health": {"Status": "starting", "Log": null}}
        }));
        assert_eq!(c.condition(), Condition::Starting);
        assert_eq!(c.describe(), "running (starting)");
        assert_eq!(c.display_name(), "p-s-1");
        let c = inspect(serde_json::json!({"Id": "abc", "State": {"Status": "running"}}));
        assert_eq!(c.condition(), Condition::Healthy);
        let c = inspect(serde_json::json!({
            "Id": "abc", "State": {"Status": "exited", "ExitCode": 137}
        }));
        assert_eq!(c.condition(), Condition::Down);
        assert_eq!(c.describe(), "exited (code 137)");
        let c = inspect(serde_json::json!({
            "Id": "abc",
            "State": {"Status": "running", "Health": {"Status": "unhealthy",
                "Log": [{"ExitCode": 1, "Output": "curl: (7) refused\n"}]}}
        }));
        assert_eq!(c.condition(), Condition::Unhealthy);
        assert_eq!(c.last_health_output().unwrap(), "exit 1: curl: (7) refused");
    }
}

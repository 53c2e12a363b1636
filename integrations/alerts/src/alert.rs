//! The neutral alert: what every source format is translated into.

use std::{collections::BTreeMap, fmt};

/// Which format a batch arrived in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Alertmanager,
    Grafana,
    Generic,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Alertmanager => "alertmanager",
            SourceKind::Grafana => "grafana",
            SourceKind::Generic => "generic",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert is firing or has resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }

    /// `firing` or `resolved` (any case); anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "firing" | "alerting" => Some(AlertStatus::Firing),
            "resolved" | "ok" | "normal" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }
}

/// How bad an alert is, from its `severity` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// `critical`/`page`/`high` → Critical, `info`/`low`/`none` → Info, otherwise Warning.
    pub fn from_label(text: Option<&str>) -> Self {
        match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
            Some("critical" | "page" | "high" | "error" | "p1" | "sev1") => Severity::Critical,
            Some("info" | "low" | "none" | "informational" | "p4" | "p5") => Severity::Info,
            _ => Severity::Warning,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// Stable identity of the alert (its label set); dedup key.
    pub fingerprint: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<jiff::Timestamp>,
    pub ends_at: Option<jiff::Timestamp>,
    pub generator_url: Option<String>,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("alert")
    }

    pub fn severity(&self) -> Severity {
        Severity::from_label(self.labels.get("severity").map(String::as_str))
    }

    /// The `summary` annotation, else `description`, else the alert name.
    pub fn summary(&self) -> &str {
        self.annotations
            .get("summary")
            .or_else(|| self.annotations.get("description"))
            .map(String::as_str)
            .unwrap_or_else(|| self.name())
    }
}

/// One delivery from a source: a notification group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertBatch {
    pub source: SourceKind,
    /// Alertmanager's `groupKey` (Grafana sends one too); `None` for generic alerts.
    pub group_key: Option<String>,
    pub receiver: Option<String>,
    pub status: AlertStatus,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: Option<String>,
    pub alerts: Vec<Alert>,
    /// How many alerts the sender left out because of its `max_alerts` setting.
    pub truncated_alerts: u64,
}

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

/// What a NUL (`\0`) in alert text becomes. PostgreSQL cannot store NUL in text (it would
/// refuse the whole batch, and Alertmanager would send it again forever), and a batch must
/// be stored the same way on both backends: `␀` (U+2400 SYMBOL FOR NULL) keeps the text
/// readable and shows where the NUL was.
pub const NUL_REPLACEMENT: char = '\u{2400}';

impl AlertBatch {
    /// Replaces every NUL in the batch's text (labels and annotations, keys and values,
    /// fingerprints, URLs, group key) with [`NUL_REPLACEMENT`]. Returns how many strings
    /// changed. The parsers call it, so every parsed batch is NUL-free.
    pub fn replace_nul(&mut self) -> usize {
        let mut changed = 0;
        let mut text = |s: &mut String| {
            if s.contains('\0') {
                *s = s.replace('\0', NUL_REPLACEMENT.encode_utf8(&mut [0; 4]));
                changed += 1;
            }
        };
        for s in [
            &mut self.group_key,
            &mut self.receiver,
            &mut self.external_url,
        ]
        .into_iter()
        .flatten()
        {
            text(s);
        }
        for map in [
            &mut self.group_labels,
            &mut self.common_labels,
            &mut self.common_annotations,
        ] {
            replace_nul_in_map(map, &mut text);
        }
        for alert in &mut self.alerts {
            text(&mut alert.fingerprint);
            if let Some(url) = &mut alert.generator_url {
                text(url);
            }
            replace_nul_in_map(&mut alert.labels, &mut text);
            replace_nul_in_map(&mut alert.annotations, &mut text);
        }
        changed
    }
}

fn replace_nul_in_map(map: &mut BTreeMap<String, String>, text: &mut impl FnMut(&mut String)) {
    if !map
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return;
    }
    *map = std::mem::take(map)
        .into_iter()
        .map(|(mut k, mut v)| {
            text(&mut k);
            text(&mut v);
            (k, v)
        })
        .collect();
}

#[cfg(test)]
mod nul_tests {
    use super::*;

    #[test]
    fn replaces_nul_everywhere_and_leaves_other_text_alone() {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_string(), "Down\0x".to_string());
        labels.insert("k\0".to_string(), "v".to_string());
        let mut batch = AlertBatch {
            source: SourceKind::Generic,
            group_key: Some("g\0".into()),
            receiver: None,
            status: AlertStatus::Firing,
            group_labels: BTreeMap::new(),
            common_labels: BTreeMap::new(),
            common_annotations: BTreeMap::new(),
            external_url: None,
            alerts: vec![Alert {
                fingerprint: "f\0p".into(),
                status: AlertStatus::Firing,
                labels,
                annotations: BTreeMap::from([("summary".into(), "plain".into())]),
                starts_at: None,
                ends_at: None,
                generator_url: None,
            }],
            truncated_alerts: 0,
        };
        assert_eq!(batch.replace_nul(), 4);
        let alert = &batch.alerts[0];
        assert_eq!(alert.fingerprint, "f␀p");
        assert_eq!(alert.labels["alertname"], "Down␀x");
        assert_eq!(alert.labels["k␀"], "v");
        assert_eq!(alert.annotations["summary"], "plain");
        assert_eq!(batch.group_key.as_deref(), Some("g␀"));
        assert_eq!(batch.replace_nul(), 0, "nothing left");
    }
}

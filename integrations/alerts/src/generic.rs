//! opsbot's generic alert format, for senders that are neither Alertmanager nor Grafana
//! (cron jobs, scripts, other monitors). Documented in the README:
//!
//! ```json
//! {"alerts": [{
//!   "name": "OllamaDiskLow",          // required: becomes the `alertname` label
//!   "status": "firing",               // firing | resolved (default firing)
//!   "severity": "warning",            // critical | warning | info (default warning)
//!   "service": "ollama",              // optional: becomes the `service` label
//!   "summary": "Disk below 10% free",  // optional annotation
//!   "description": "…",               // optional annotation
//!   "labels": {"host": "aiops-1"},    // optional extra labels
//!   "fingerprint": "…",               // optional: dedup key (default: from the labels)
//!   "starts_at": "2026-11-21T06:00:00Z" // optional, RFC 3339
//! }]}
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{
    Alert, AlertBatch, AlertStatus, PayloadError, SourceKind, error::from_json,
    fingerprint::label_fingerprint,
};

const FORMAT: &str = "generic alert";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBatch {
    alerts: Vec<WireAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAlert {
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    starts_at: Option<jiff::Timestamp>,
}

/// Parses a generic alert body.
pub fn parse_generic(body: &[u8]) -> Result<AlertBatch, PayloadError> {
    let wire: WireBatch = from_json(FORMAT, body)?;
    if wire.alerts.is_empty() {
        return Err(PayloadError::invalid(
            FORMAT,
            "alerts",
            "no alerts in the batch",
        ));
    }
    let mut alerts = Vec::with_capacity(wire.alerts.len());
    for (index, alert) in wire.alerts.into_iter().enumerate() {
        if alert.name.trim().is_empty() {
            return Err(PayloadError::invalid(
                FORMAT,
                format!("alerts[{index}].name"),
                "must not be empty",
            ));
        }
        let status = match alert.status.as_deref() {
            None => AlertStatus::Firing,
            Some(text) => AlertStatus::parse(text).ok_or_else(|| {
                PayloadError::invalid(
                    FORMAT,
                    format!("alerts[{index}].status"),
                    format!("`{text}` is not firing or resolved"),
                )
            })?,
        };
        let mut labels = alert.labels;
        labels.insert("alertname".into(), alert.name);
        if let Some(severity) = alert.severity {
            labels.insert("severity".into(), severity.to_ascii_lowercase());
        }
        if let Some(service) = alert.service {
            labels.insert("service".into(), service);
        }
        let mut annotations = BTreeMap::new();
        if let Some(summary) = alert.summary {
            annotations.insert("summary".into(), summary);
        }
        if let Some(description) = alert.description {
            annotations.insert("description".into(), description);
        }
        let fingerprint = alert
            .fingerprint
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| label_fingerprint(&labels));
        alerts.push(Alert {
            fingerprint,
            status,
            labels,
            annotations,
            starts_at: alert.starts_at,
            ends_at: None,
            generator_url: None,
        });
    }
    let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    let mut batch = AlertBatch {
        source: SourceKind::Generic,
        group_key: None,
        receiver: None,
        status,
        group_labels: BTreeMap::new(),
        common_labels: BTreeMap::new(),
        common_annotations: BTreeMap::new(),
        external_url: None,
        alerts,
        truncated_alerts: 0,
    };
    batch.replace_nul();
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_and_full_alerts() {
        let batch = parse_generic(
            br#"{"alerts":[{"name":"OllamaDiskLow","service":"ollama","severity":"CRITICAL","summary":"Disk below 10% free","starts_at":"2026-11-21T06:00:00Z"},{"name":"Backup","status":"resolved"}]}"#,
        )
        .unwrap();
        assert_eq!(batch.status, AlertStatus::Firing);
        let first = &batch.alerts[0];
        assert_eq!(first.labels["alertname"], "OllamaDiskLow");
        assert_eq!(first.labels["service"], "ollama");
        assert_eq!(first.severity(), crate::Severity::Critical);
        assert_eq!(first.summary(), "Disk below 10% free");
        assert_eq!(first.fingerprint, label_fingerprint(&first.labels));
        assert_eq!(batch.alerts[1].status, AlertStatus::Resolved);
    }

    #[test]
    fn mistakes_are_named() {
        let err = parse_generic(br#"{"alerts":[{"status":"firing"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `name`"), "{err}");
        let err = parse_generic(br#"{"alerts":[{"name":"x","colour":"red"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let err = parse_generic(br#"{"alerts":[]}"#).unwrap_err().to_string();
        assert!(err.contains("no alerts"), "{err}");
        let err = parse_generic(br#"{"alerts":[{"name":"x","status":"on fire"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("alerts[0].status"), "{err}");
    }
}

//! The Alertmanager webhook payload (version 4), as documented in Alertmanager's
//! `webhook_config`: `{version, groupKey, truncatedAlerts, status, receiver, groupLabels,
//! commonLabels, commonAnnotations, externalURL, alerts: [{status, labels, annotations,
//! startsAt, endsAt, generatorURL, fingerprint}]}`.
//!
//! Unknown fields are ignored (newer Alertmanagers add some); `fingerprint` may be absent
//! (older ones), in which case it is computed from the labels as Alertmanager would.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{
    Alert, AlertBatch, AlertStatus, PayloadError, SourceKind, error::from_json,
    fingerprint::label_fingerprint,
};

const FORMAT: &str = "Alertmanager webhook";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireBatch {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub group_key: Option<String>,
    #[serde(default)]
    pub truncated_alerts: Option<u64>,
    pub status: String,
    #[serde(default)]
    pub receiver: Option<String>,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
    pub alerts: Vec<WireAlert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireAlert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// Parses an Alertmanager webhook body.
pub fn parse_alertmanager(body: &[u8]) -> Result<AlertBatch, PayloadError> {
    let wire: WireBatch = from_json(FORMAT, body)?;
    if let Some(version) = wire.version.as_deref().filter(|v| *v != "4") {
        return Err(PayloadError::invalid(
            FORMAT,
            "version",
            format!("version `{version}` is not supported (expected \"4\")"),
        ));
    }
    translate(FORMAT, SourceKind::Alertmanager, wire)
}

/// Shared by the Alertmanager and Grafana formats (Grafana's is a superset).
pub(crate) fn translate(
    format: &'static str,
    source: SourceKind,
    wire: WireBatch,
) -> Result<AlertBatch, PayloadError> {
    let status = AlertStatus::parse(&wire.status).ok_or_else(|| {
        PayloadError::invalid(
            format,
            "status",
            format!("unknown status `{}`", wire.status),
        )
    })?;
    let alerts = wire
        .alerts
        .into_iter()
        .enumerate()
        .map(|(index, alert)| translate_alert(format, index, alert))
        .collect::<Result<Vec<_>, _>>()?;
    let mut batch = AlertBatch {
        source,
        group_key: wire.group_key.filter(|k| !k.is_empty()),
        receiver: wire.receiver.filter(|r| !r.is_empty()),
        status,
        group_labels: wire.group_labels,
        common_labels: wire.common_labels,
        common_annotations: wire.common_annotations,
        external_url: wire.external_url.filter(|u| !u.is_empty()),
        alerts,
        truncated_alerts: wire.truncated_alerts.unwrap_or(0),
    };
    batch.replace_nul();
    Ok(batch)
}

fn translate_alert(
    format: &'static str,
    index: usize,
    alert: WireAlert,
) -> Result<Alert, PayloadError> {
    let status = AlertStatus::parse(&alert.status).ok_or_else(|| {
        PayloadError::invalid(
            format,
            format!("alerts[{index}].status"),
            format!("unknown status `{}`", alert.status),
        )
    })?;
    let starts_at = timestamp(format, index, "startsAt", alert.starts_at.as_deref())?;
    let ends_at = timestamp(format, index, "endsAt", alert.ends_at.as_deref())?;
    let fingerprint = alert
        .fingerprint
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| label_fingerprint(&alert.labels));
    Ok(Alert {
        fingerprint,
        status,
        labels: alert.labels,
        annotations: alert.annotations,
        starts_at,
        ends_at,
        generator_url: alert.generator_url.filter(|u| !u.is_empty()),
    })
}

/// RFC 3339; Go's zero time (`0001-01-01T00:00:00Z`, what Alertmanager sends for "not
/// set") and empty strings mean absent.
fn timestamp(
    format: &'static str,
    index: usize,
    field: &str,
    text: Option<&str>,
) -> Result<Option<jiff::Timestamp>, PayloadError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.starts_with("0001-01-01") {
        return Ok(None);
    }
    text.parse::<jiff::Timestamp>().map(Some).map_err(|e| {
        PayloadError::invalid(
            format,
            format!("alerts[{index}].{field}"),
            format!("`{text}` is not an RFC 3339 time: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &str = r#"{
      "receiver": "opsbot",
      "status": "firing",
      "alerts": [
        {
          "status": "firing",
          "labels": {"alertname": "WrkHrsGatewayDown", "job": "wrkhrs-gateway", "severity": "critical"},
          "annotations": {"summary": "WrkHrs Gateway is down"},
          "startsAt": "2026-11-21T07:00:00.123Z",
          "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
          "fingerprint": "8c1a2b3c4d5e6f70",
          "newFieldFromTheFuture": {"x": 1}
        }
      ],
      "groupLabels": {"alertname": "WrkHrsGatewayDown"},
      "commonLabels": {"alertname": "WrkHrsGatewayDown", "job": "wrkhrs-gateway", "severity": "critical"},
      "commonAnnotations": {"summary": "WrkHrs Gateway is down"},
      "externalURL": "http://alertmanager:9093",
      "version": "4",
      "groupKey": "{}:{alertname=\"WrkHrsGatewayDown\"}",
      "truncatedAlerts": 0,
      "anotherNewTopLevelField": true
    }"#;

    #[test]
    fn parses_the_documented_v4_payload_and_ignores_new_fields() {
        let batch = parse_alertmanager(V4.as_bytes()).unwrap();
        assert_eq!(batch.source, SourceKind::Alertmanager);
        assert_eq!(
            batch.group_key.as_deref(),
            Some("{}:{alertname=\"WrkHrsGatewayDown\"}")
        );
        assert_eq!(batch.status, AlertStatus::Firing);
        assert_eq!(batch.receiver.as_deref(), Some("opsbot"));
        let alert = &batch.alerts[0];
        assert_eq!(alert.fingerprint, "8c1a2b3c4d5e6f70");
        assert_eq!(alert.name(), "WrkHrsGatewayDown");
        assert_eq!(alert.severity(), crate::Severity::Critical);
        assert_eq!(alert.summary(), "WrkHrs Gateway is down");
        assert_eq!(
            alert.starts_at.unwrap().to_string(),
            "2026-11-21T07:00:00.123Z"
        );
        assert_eq!(alert.ends_at, None, "Go zero time means unset");
    }

    #[test]
    fn older_payloads_without_fingerprints_get_the_label_fingerprint() {
        let old = V4
            .replace(r#""fingerprint": "8c1a2b3c4d5e6f70","#, "")
            .replace(r#""version": "4","#, "");
        let batch = parse_alertmanager(old.as_bytes()).unwrap();
        assert_eq!(
            batch.alerts[0].fingerprint,
            label_fingerprint(&batch.alerts[0].labels)
        );
    }

    #[test]
    fn malformed_payloads_name_the_problem() {
        let err = parse_alertmanager(b"not json").unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
        let err = parse_alertmanager(br#"{"status":"firing"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `alerts`"), "{err}");
        let err = parse_alertmanager(
            br#"{"status":"firing","alerts":[{"status":"firing","labels":{"a":1}}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("alerts[0].labels.a"), "{err}");
        let err = parse_alertmanager(br#"{"status":"firing","alerts":[{"status":"burning"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("alerts[0].status") && err.contains("burning"),
            "{err}"
        );
        let err = parse_alertmanager(
            br#"{"status":"firing","alerts":[{"status":"firing","startsAt":"yesterday"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("alerts[0].startsAt"), "{err}");
        let err = parse_alertmanager(br#"{"version":"5","status":"firing","alerts":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("version `5`"), "{err}");
    }
}

//! Where an alert belongs: which catalog service (by the service's `alert_labels`, then
//! by the configured label keys whose value names a service), which incident group, and
//! which chat channels its incident is posted in.

use std::collections::BTreeMap;

use opsbot_alerts::{Alert, AlertBatch};
use opsbot_commands::{Catalog, Platform, Service};

use super::settings::IncidentSettings;

/// An alert's labels with the batch's common labels filled in underneath.
pub fn effective_labels(batch: &AlertBatch, alert: &Alert) -> BTreeMap<String, String> {
    let mut labels = batch.common_labels.clone();
    labels.extend(alert.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels
}

/// The catalog service an alert is about: first a service all of whose `alert_labels`
/// match (the most specific one when several do), then the first of `service_labels`
/// whose value is a service name or alias.
pub fn service_for<'c>(
    catalog: &'c Catalog,
    settings: &IncidentSettings,
    labels: &BTreeMap<String, String>,
) -> Option<&'c Service> {
    let by_alert_labels = catalog
        .services()
        .iter()
        .filter(|s| {
            !s.alert_labels.is_empty()
                && s.alert_labels
                    .iter()
                    .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
        })
        .max_by_key(|s| s.alert_labels.len());
    if by_alert_labels.is_some() {
        return by_alert_labels;
    }
    settings
        .service_labels
        .iter()
        .filter_map(|key| labels.get(key))
        .find_map(|value| catalog.get(value))
}

/// The group an alert's incident is keyed by: the sender's `groupKey` (per service, so
/// one incident is about one service), else the service and the `group_by` labels.
pub fn group_key(
    batch: &AlertBatch,
    settings: &IncidentSettings,
    service: Option<&Service>,
    labels: &BTreeMap<String, String>,
) -> String {
    let service = service.map_or("-", |s| s.name.as_str());
    match &batch.group_key {
        Some(key) => format!("{}:{key}|{service}", batch.source),
        None => {
            let parts: Vec<String> = settings
                .group_by
                .iter()
                .map(|k| format!("{k}={}", labels.get(k).map(String::as_str).unwrap_or("")))
                .collect();
            format!("{}:{service}|{}", batch.source, parts.join(","))
        }
    }
}

/// The channels an incident of `service` is posted in: the service's own, else the
/// default channel; plus the console's channel when one is configured.
pub fn channels(settings: &IncidentSettings, service: Option<&Service>) -> Vec<(Platform, String)> {
    let mut out = Vec::new();
    if let Some(service) = service {
        if let Some(slack) = &service.channels.slack {
            out.push((Platform::Slack, slack.clone()));
        }
        if let Some(discord) = &service.channels.discord {
            out.push((Platform::Discord, discord.clone()));
        }
    }
    let default = &settings.default_channel;
    if out.is_empty() {
        if let Some(slack) = &default.slack {
            out.push((Platform::Slack, slack.clone()));
        }
        if let Some(discord) = &default.discord {
            out.push((Platform::Discord, discord.clone()));
        }
    }
    if let Some(console) = &default.console {
        out.push((Platform::Console, console.clone()));
    }
    out
}

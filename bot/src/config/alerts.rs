//! `[alerts]`: where alerts come from and how they authenticate, how they map to catalog
//! services and group into incidents, and where incident threads are posted. Whom to page
//! is [`super::escalation`]; when not to page, [`super::maintenance`].

use opsbot_commands::HumanDuration;
use serde::Deserialize;

use super::{Config, Secret, document::KeyPath, problems::Problems};

/// `[alerts]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Label keys whose value names a catalog service (name or alias), tried in order.
    /// A service's own `alert_labels` (all of them matching) are tried first.
    #[serde(default = "default_service_labels")]
    pub service_labels: Vec<String>,
    /// Where incidents of alerts that match no service (or a service without channels)
    /// are posted. `console` (when set) also receives every incident: the console has a
    /// single channel.
    #[serde(default)]
    pub default_channel: DefaultChannel,
    /// Labels that group alerts into one incident when the sender gives no `groupKey`
    /// (generic alerts), besides the service.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
    /// A resolved incident that fires again within this window is reopened; later, a new
    /// incident is opened.
    #[serde(default = "default_reopen_window")]
    pub reopen_window: HumanDuration,
    /// The escalation policy of incidents whose service names none.
    #[serde(default)]
    pub default_escalation: Option<String>,
    /// At most this many alerts are listed in an incident's root message.
    #[serde(default = "default_max_listed")]
    pub max_listed_alerts: usize,
    /// Who may post alerts. An endpoint accepts a request that satisfies any source of
    /// its kind; with no source of a kind configured, its endpoint answers 404.
    #[serde(default)]
    pub sources: Vec<AlertSource>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            service_labels: default_service_labels(),
            default_channel: DefaultChannel::default(),
            group_by: default_group_by(),
            reopen_window: default_reopen_window(),
            default_escalation: None,
            max_listed_alerts: default_max_listed(),
            sources: Vec::new(),
        }
    }
}

fn default_service_labels() -> Vec<String> {
    ["service", "job", "deployment", "namespace"]
        .map(String::from)
        .to_vec()
}

fn default_group_by() -> Vec<String> {
    vec!["alertname".to_string()]
}

fn default_reopen_window() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

fn default_max_listed() -> usize {
    10
}

/// `[alerts] default_channel`
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultChannel {
    #[serde(default)]
    pub slack: Option<String>,
    #[serde(default)]
    pub discord: Option<String>,
    #[serde(default)]
    pub console: Option<String>,
}

/// What `check-config` warns about in `[alerts]` (valid, but weaker than it looks): a
/// Grafana source with a secret and no timestamp header has signatures over the body
/// alone, which cannot expire and so can be replayed.
pub fn warnings(alerts: &AlertsConfig) -> Vec<String> {
    alerts
        .sources
        .iter()
        .filter(|s| s.grafana_secret.is_some() && s.grafana_timestamp_header.is_none())
        .map(|s| {
            format!(
                "alert source `{}` is signed without `grafana_timestamp_header`: its \
                 signatures never expire and a copied request can be replayed; set the \
                 contact point's timestamp header and name it here",
                s.name
            )
        })
        .collect()
}

/// The payload format of a source, which is also its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKindConfig {
    /// `POST /alerts/alertmanager`
    Alertmanager,
    /// `POST /alerts/grafana`
    Grafana,
    /// `POST /alerts`
    Generic,
}

impl SourceKindConfig {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKindConfig::Alertmanager => "alertmanager",
            SourceKindConfig::Grafana => "grafana",
            SourceKindConfig::Generic => "generic",
        }
    }
}

/// What credentials a source sends: `"none"`, `{ bearer = "${ENV}" }` or
/// `{ basic = { username = "am", password = "${ENV}" } }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceAuthConfig {
    None,
    Bearer(Secret),
    Basic { username: String, password: Secret },
}

impl SourceAuthConfig {
    /// The credential check of the alerts crate.
    pub fn to_source_auth(&self) -> opsbot_alerts::SourceAuth {
        match self {
            SourceAuthConfig::None => opsbot_alerts::SourceAuth::None,
            SourceAuthConfig::Bearer(token) => {
                opsbot_alerts::SourceAuth::Bearer(token.expose().to_string())
            }
            SourceAuthConfig::Basic { username, password } => opsbot_alerts::SourceAuth::Basic {
                username: username.clone(),
                password: password.expose().to_string(),
            },
        }
    }
}

/// `[[alerts.sources]]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSource {
    /// Shown in metrics and logs.
    pub name: String,
    pub kind: SourceKindConfig,
    pub auth: SourceAuthConfig,
    /// Grafana only: the contact point's HMAC secret; the signature header is then
    /// required.
    #[serde(default)]
    pub grafana_secret: Option<Secret>,
    /// Grafana only: the header carrying the timestamp signed with the body.
    #[serde(default)]
    pub grafana_timestamp_header: Option<String>,
}

/// Checks `[alerts]` (its sources; `default_escalation` is checked with the policies).
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let root = KeyPath::root();
    let alerts = &config.alerts;
    let path = root.key("alerts");
    if alerts.service_labels.iter().any(|l| l.trim().is_empty()) {
        problems.push(path.key("service_labels"), "label keys must not be empty");
    }
    if alerts.group_by.iter().any(|l| l.trim().is_empty()) {
        problems.push(path.key("group_by"), "label keys must not be empty");
    }
    if alerts.max_listed_alerts == 0 {
        problems.push(path.key("max_listed_alerts"), "must be at least 1");
    }
    let mut names = std::collections::BTreeSet::new();
    for (index, source) in alerts.sources.iter().enumerate() {
        let path = path.key("sources").index(index);
        if source.name.trim().is_empty() {
            problems.push(path.key("name"), "must not be empty");
        } else if !names.insert(source.name.as_str()) {
            problems.push(
                path.key("name"),
                format!("another source is already named `{}`", source.name),
            );
        }
        if source.kind != SourceKindConfig::Grafana {
            if source.grafana_secret.is_some() {
                problems.push(
                    path.key("grafana_secret"),
                    "only a grafana source is signed",
                );
            }
            if source.grafana_timestamp_header.is_some() {
                problems.push(
                    path.key("grafana_timestamp_header"),
                    "only a grafana source is signed",
                );
            }
        } else if source.grafana_timestamp_header.is_some() && source.grafana_secret.is_none() {
            problems.push(
                path.key("grafana_timestamp_header"),
                "needs `grafana_secret` (the timestamp is part of the signature)",
            );
        }
        if let SourceAuthConfig::Basic { username, .. } = &source.auth
            && (username.is_empty() || username.contains(':'))
        {
            problems.push(
                path.key("auth").key("basic").key("username"),
                "must be non-empty and without `:`",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_credentials_are_refused_and_env_references_resolved() {
        let err = crate::config::parse(
            "[[alerts.sources]]\nname = \"am\"\nkind = \"alertmanager\"\nauth = { bearer = \"literal-token\" }\n",
            "t.toml",
            &|_| None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cannot be written literally") && !text.contains("literal-token"),
            "{text}"
        );
        let ok = crate::config::parse(
            "[[alerts.sources]]\nname = \"am\"\nkind = \"alertmanager\"\nauth = { bearer = \"${T}\" }\n",
            "t.toml",
            &|n| (n == "T").then(|| "tok".to_string()),
        )
        .unwrap();
        assert!(matches!(
            ok.alerts.sources[0].auth,
            SourceAuthConfig::Bearer(_)
        ));
    }
}

//! `[alerts]`, `[[escalation]]` and `[[maintenance]]`: where alerts come from and how they
//! authenticate, how they map to catalog services and group into incidents, whom to page
//! and when, and when not to page at all.

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

use opsbot_commands::HumanDuration;
use serde::{Deserialize, Deserializer};

use super::{
    Config, Secret,
    document::KeyPath,
    validate::{Problems, check_globs},
};

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

/// A delay that may be zero (`"0m"`: immediately).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Delay(pub Duration);

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(text.trim())
            .map(Delay)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration like `0m`, `15m` or `1h` ({e})"
                ))
            })
    }
}

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

/// Which days a maintenance window recurs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    Daily,
    /// Every week on this day.
    Weekly(jiff::civil::Weekday),
    /// The first such weekday of every month.
    FirstOfMonth(jiff::civil::Weekday),
}

/// `"first-sunday 02:00-04:00"`, `"saturday 02:00-04:00"`, `"daily 02:00-03:00"`. An end
/// before the start ends the next day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub recurrence: Recurrence,
    pub start: jiff::civil::Time,
    pub end: jiff::civil::Time,
}

impl Schedule {
    /// How long each occurrence lasts.
    pub fn length(&self) -> Duration {
        let start = self.start.duration_since(jiff::civil::Time::midnight());
        let end = self.end.duration_since(jiff::civil::Time::midnight());
        let mut secs = end.as_secs() - start.as_secs();
        if secs <= 0 {
            secs += 86_400;
        }
        Duration::from_secs(secs as u64)
    }
}

fn weekday(text: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match text {
        "monday" | "mon" => Monday,
        "tuesday" | "tue" => Tuesday,
        "wednesday" | "wed" => Wednesday,
        "thursday" | "thu" => Thursday,
        "friday" | "fri" => Friday,
        "saturday" | "sat" => Saturday,
        "sunday" | "sun" => Sunday,
        _ => return None,
    })
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const FORMS: &str = "write `daily HH:MM-HH:MM`, `saturday HH:MM-HH:MM` or \
             `first-sunday HH:MM-HH:MM`";
        let lowered = text.trim().to_ascii_lowercase();
        let (days, times) = lowered
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("`{text}` is not a schedule; {FORMS}"))?;
        let recurrence = if days == "daily" {
            Recurrence::Daily
        } else if let Some(day) = days.strip_prefix("first-") {
            Recurrence::FirstOfMonth(
                weekday(day).ok_or_else(|| format!("`{day}` is not a weekday; {FORMS}"))?,
            )
        } else {
            Recurrence::Weekly(
                weekday(days).ok_or_else(|| format!("`{days}` is not a weekday; {FORMS}"))?,
            )
        };
        let (start, end) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("`{times}` is not a time range like `02:00-04:00`"))?;
        let time = |t: &str| {
            jiff::civil::Time::strptime("%H:%M", t.trim())
                .map_err(|_| format!("`{}` is not a time like `02:00`", t.trim()))
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(format!("`{text}` starts and ends at the same time"));
        }
        Ok(Schedule {
            recurrence,
            start,
            end,
        })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.recurrence {
            Recurrence::Daily => f.write_str("daily")?,
            Recurrence::Weekly(day) => write!(f, "{day:?}")?,
            Recurrence::FirstOfMonth(day) => write!(f, "first {day:?}")?,
        }
        write!(
            f,
            " {}-{}",
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M")
        )
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[[maintenance]]`: a recurring window in which matching alerts are recorded and shown
/// as silenced, not paged.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub name: String,
    /// Service name globs; every service when absent.
    #[serde(default = "super::model::everything")]
    pub services: Vec<String>,
    pub schedule: Schedule,
    /// IANA name (`Europe/Berlin`) or `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

/// Checks `[alerts]`, `[[escalation]]` and `[[maintenance]]`, and the services'
/// `escalation` references.
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
    if let Some(name) = &alerts.default_escalation
        && !known(name)
    {
        problems.push(path.key("default_escalation"), unknown(name));
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
    for (index, window) in config.maintenance.iter().enumerate() {
        let path = root.key("maintenance").index(index);
        if window.name.trim().is_empty() {
            problems.push(path.key("name"), "must not be empty");
        }
        check_globs(&window.services, &path.key("services"), problems);
        if let Err(e) = jiff::tz::TimeZone::get(&window.timezone) {
            problems.push(
                path.key("timezone"),
                format!("unknown time zone `{}`: {e}", window.timezone),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_print() {
        let s: Schedule = "first-sunday 02:00-04:00".parse().unwrap();
        assert_eq!(
            s.recurrence,
            Recurrence::FirstOfMonth(jiff::civil::Weekday::Sunday)
        );
        assert_eq!(s.length(), Duration::from_secs(7200));
        assert_eq!(s.to_string(), "first Sunday 02:00-04:00");
        let s: Schedule = "Saturday 02:00-04:00".parse().unwrap();
        assert_eq!(
            s.recurrence,
            Recurrence::Weekly(jiff::civil::Weekday::Saturday)
        );
        let s: Schedule = "daily 23:00-01:00".parse().unwrap();
        assert_eq!(s.length(), Duration::from_secs(7200));
        assert!("sometimes 02:00-04:00".parse::<Schedule>().is_err());
        assert!("daily 2-4".parse::<Schedule>().is_err());
        assert!("daily 02:00-02:00".parse::<Schedule>().is_err());
    }

    #[test]
    fn mistakes_are_located_by_line_and_key() {
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
        let err = crate::config::parse(
            "[[maintenance]]\nname = \"m\"\nschedule = \"sometimes 02:00-04:00\"\n",
            "t.toml",
            &|_| None,
        )
        .unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(
            (d.line, d.key.as_str()),
            (3, "maintenance[0].schedule"),
            "{d}"
        );
        let err = crate::config::parse(
            "[[maintenance]]\nname = \"m\"\nschedule = \"daily 02:00-03:00\"\ntimezone = \"Mars/Olympus\"\n",
            "t.toml",
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(err.diagnostics()[0].key, "maintenance[0].timezone", "{err}");
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
}

//! `[cost]`: where the `cost` command and budget alerts read spend: each source's base
//! URL and credentials (secrets, never literal), the request timeout, how long answers
//! are cached, and how often budgets are checked. Which sources belong to a service is
//! the catalog's `[[services.cost]]`; this section only says how to reach them.

use opsbot_commands::{HumanDuration, catalog::CostSource};
use serde::Deserialize;

use super::{Config, Secret, delay::Delay, document::KeyPath, problems::Problems};

/// `[cost]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// Timeout of every request to a cost source.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// How long a service's spend is reused before the sources are asked again (their
    /// rate limits are low; spend moves slowly). Answers with a failed source are kept
    /// at most 30 seconds. `"0s"` caches nothing.
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl: Delay,
    /// How often budgets are checked for alerts; `"0s"` turns budget alerts off.
    #[serde(default = "default_budget_check_interval")]
    pub budget_check_interval: Delay,
    /// `[cost.openai]`: the OpenAI organization Costs API (an admin key).
    #[serde(default)]
    pub openai: Option<KeyedSource>,
    /// `[cost.anthropic]`: Anthropic's cost report (an admin key).
    #[serde(default)]
    pub anthropic: Option<KeyedSource>,
    /// `[cost.opencost]`: OpenCost's API.
    #[serde(default)]
    pub opencost: Option<OpenCostSource>,
    /// `[cost.prometheus]`: credentials for the Prometheus servers cost queries name.
    #[serde(default)]
    pub prometheus: PrometheusSource,
}

impl Default for CostConfig {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
            cache_ttl: default_cache_ttl(),
            budget_check_interval: default_budget_check_interval(),
            openai: None,
            anthropic: None,
            opencost: None,
            prometheus: PrometheusSource::default(),
        }
    }
}

fn default_timeout() -> HumanDuration {
    HumanDuration::from_secs(20)
}

fn default_cache_ttl() -> Delay {
    Delay(std::time::Duration::from_secs(300))
}

fn default_budget_check_interval() -> Delay {
    Delay(std::time::Duration::from_secs(900))
}

/// `[cost.openai]`, `[cost.anthropic]`: an API with an admin key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyedSource {
    /// `https://api.openai.com` / `https://api.anthropic.com` when absent.
    #[serde(default)]
    pub base_url: Option<String>,
    pub api_key: Secret,
}

/// `[cost.opencost]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCostSource {
    /// OpenCost's API, e.g. `http://opencost.opencost:9003`.
    pub base_url: String,
    /// A bearer token, when a proxy in front of OpenCost wants one.
    #[serde(default)]
    pub bearer: Option<Secret>,
}

/// `[cost.prometheus]`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSource {
    /// A bearer token sent to every Prometheus server of `kind = "prometheus"` sources.
    #[serde(default)]
    pub bearer: Option<Secret>,
}

pub const OPENAI_BASE_URL: &str = "https://api.openai.com";
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// One line for `check-config`: which sources are reachable, caching, budget checks
/// (where keys come from, never their values).
pub fn describe(cost: &CostConfig) -> String {
    let mut sources = Vec::new();
    if let Some(openai) = &cost.openai {
        sources.push(format!("openai (key from {})", openai.api_key.source()));
    }
    if let Some(anthropic) = &cost.anthropic {
        sources.push(format!(
            "anthropic (key from {})",
            anthropic.api_key.source()
        ));
    }
    if let Some(opencost) = &cost.opencost {
        sources.push(format!("opencost at {}", opencost.base_url));
    }
    sources.push("prometheus".to_string());
    let every = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let checks = if cost.budget_check_interval.0.is_zero() {
        "budget alerts off".to_string()
    } else {
        format!(
            "budgets checked every {}",
            every(cost.budget_check_interval.0)
        )
    };
    format!(
        "{}; answers cached {}; {checks}",
        sources.join(", "),
        every(cost.cache_ttl.0)
    )
}

/// A source kind a service names needs its `[cost.*]` section (its credentials); base
/// URLs must be http(s).
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let root = KeyPath::root();
    let cost = &config.cost;
    let urls = [
        (
            "openai",
            cost.openai.as_ref().and_then(|s| s.base_url.as_deref()),
        ),
        (
            "anthropic",
            cost.anthropic.as_ref().and_then(|s| s.base_url.as_deref()),
        ),
        (
            "opencost",
            cost.opencost.as_ref().map(|s| s.base_url.as_str()),
        ),
    ];
    for (section, url) in urls {
        if let Some(url) = url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(
                root.key("cost").key(section).key("base_url"),
                format!("`{url}` is not an http(s) URL"),
            );
        }
    }
    for (index, service) in config.services.iter().enumerate() {
        for (source_index, source) in service.cost.iter().enumerate() {
            let missing = match source {
                CostSource::Openai { .. } if cost.openai.is_none() => Some("openai"),
                CostSource::Anthropic { .. } if cost.anthropic.is_none() => Some("anthropic"),
                CostSource::Opencost { .. } if cost.opencost.is_none() => Some("opencost"),
                _ => None,
            };
            if let Some(section) = missing {
                problems.push(
                    root.key("services")
                        .index(index)
                        .key("cost")
                        .index(source_index)
                        .key("kind"),
                    format!(
                        "`{section}` needs a [cost.{section}] section saying how to reach it{}",
                        if section == "opencost" {
                            ""
                        } else {
                            " (with its admin key)"
                        }
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, parse};

    const SERVICE: &str = r#"
[[services]]
name = "alice-openai"
environment = "prod"
target = { kind = "none" }
budget = { daily = 10 }

[[services.cost]]
kind = "openai"
"#;

    #[test]
    fn keys_are_secrets_and_defaults_apply() {
        let text = format!(
            "[cost]\ncache_ttl = \"0s\"\n[cost.openai]\napi_key = \"${{OPENAI_ADMIN_KEY}}\"\n{SERVICE}"
        );
        let env = |name: &str| (name == "OPENAI_ADMIN_KEY").then(|| "sk-admin-123".to_string());
        let config = parse(&text, "opsbot.toml", &env).unwrap();
        let openai = config.cost.openai.as_ref().unwrap();
        assert_eq!(openai.api_key.expose(), "sk-admin-123");
        assert!(!format!("{:?}", config.cost).contains("sk-admin-123"));
        assert!(config.cost.cache_ttl.0.is_zero());
        assert_eq!(config.cost.budget_check_interval.0.as_secs(), 900);
        assert_eq!(config.cost.timeout.as_duration().as_secs(), 20);
    }

    #[test]
    fn a_literal_key_is_refused_without_echoing_it() {
        let text = format!("[cost.openai]\napi_key = \"sk-admin-literal\"\n{SERVICE}");
        let error = parse(&text, "opsbot.toml", &|_| None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("opsbot.toml:2"), "{error}");
        assert!(!error.contains("sk-admin-literal"), "{error}");
    }

    #[test]
    fn a_source_kind_without_its_section_is_named_with_its_line() {
        let error = parse(SERVICE, "opsbot.toml", &|_| None).unwrap_err();
        let ConfigError::Invalid(diagnostics) = &error else {
            panic!("{error}");
        };
        let text = error.to_string();
        assert_eq!(diagnostics.len(), 1, "{text}");
        assert!(
            text.contains("opsbot.toml:9") && text.contains("services[0].cost[0].kind"),
            "{text}"
        );
        assert!(text.contains("needs a [cost.openai] section"), "{text}");
    }
}

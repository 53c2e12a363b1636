//! `[investigator]`: the team's own model, reached over an OpenAI-compatible chat
//! completions endpoint (Ollama's `/v1`, vLLM, llama.cpp's server, OpenAI), that
//! `incident investigate` asks: where it is, which model, the API key (a secret,
//! optional), how long and how much an answer may take, how many tool calls and rounds
//! it gets, the incident severities for which an investigation starts by itself, and
//! what its tokens cost (so `/cost` shows the investigations' spend).

use opsbot_commands::{HumanDuration, catalog::Money};
use serde::Deserialize;

use super::{Config, Secret, document::KeyPath, problems::Problems};

/// `[investigator]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestigatorConfig {
    /// The endpoint's base URL, `…/v1` (`http://ollama.agent-aiops:11434/v1`).
    pub base_url: String,
    /// The model name as the endpoint knows it (`llama3.1:8b`, `gpt-oss:20b`).
    pub model: String,
    /// Sent as a bearer token when present (OpenAI; Ollama needs none).
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The longest one answer of the model may take.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// `max_tokens` of each answer.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Tool calls per investigation, at most; beyond it the model must answer.
    #[serde(default = "default_max_tool_calls")]
    pub max_tool_calls: u32,
    /// Rounds of tool calls per investigation, at most.
    #[serde(default = "default_max_rounds")]
    pub max_rounds: u32,
    /// Incident severities (`critical`, `warning`, `info`) for which an investigation
    /// starts by itself when an incident opens, as `automation:{auto_principal}`.
    #[serde(default)]
    pub auto: Vec<String>,
    /// The automation principal automatic investigations run as (bind it to a role in
    /// `[[bindings]]` as `automation:NAME`; its tools need that role's rights).
    #[serde(default = "default_auto_principal")]
    pub auto_principal: String,
    /// The shortest time between two edits of the streamed answer in chat.
    #[serde(default = "default_edit_interval")]
    pub edit_interval: HumanDuration,
    /// Price of a million prompt tokens (`"0.15"`); 0 for a model the team runs itself.
    #[serde(default)]
    pub price_per_million_input: Money,
    /// Price of a million completion tokens.
    #[serde(default)]
    pub price_per_million_output: Money,
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_timeout() -> HumanDuration {
    HumanDuration::from_secs(120)
}

fn default_max_tokens() -> u32 {
    1024
}

fn default_max_tool_calls() -> u32 {
    12
}

fn default_max_rounds() -> u32 {
    4
}

fn default_auto_principal() -> String {
    "investigator".to_string()
}

fn default_edit_interval() -> HumanDuration {
    HumanDuration::from_secs(1)
}

fn default_currency() -> String {
    "USD".to_string()
}

const SEVERITIES: &[&str] = &["critical", "warning", "info"];

pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let Some(investigator) = &config.investigator else {
        return;
    };
    let path = KeyPath::root().key("investigator");
    let url = investigator.base_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        problems.push(
            path.key("base_url"),
            format!("`{url}` is not an http(s) URL (Ollama: `http://HOST:11434/v1`)"),
        );
    }
    if investigator.model.trim().is_empty() {
        problems.push(path.key("model"), "must name a model");
    }
    if investigator.timeout.as_duration().is_zero() {
        problems.push(path.key("timeout"), "must be more than 0s");
    }
    if investigator.max_tokens == 0 {
        problems.push(path.key("max_tokens"), "must be at least 1");
    }
    if investigator.max_rounds == 0 {
        problems.push(path.key("max_rounds"), "must be at least 1");
    }
    for (index, severity) in investigator.auto.iter().enumerate() {
        if !SEVERITIES.contains(&severity.as_str()) {
            problems.push(
                path.key("auto").index(index),
                format!(
                    "unknown severity `{severity}`; use one of: {}",
                    SEVERITIES.join(", ")
                ),
            );
        }
    }
    if investigator.price_per_million_input.is_sign_negative()
        || investigator.price_per_million_output.is_sign_negative()
    {
        problems.push(path, "prices must not be negative");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_prices() {
        let config: InvestigatorConfig = toml::from_str(
            r#"
base_url = "http://ollama:11434/v1"
model = "llama3.1:8b"
price_per_million_output = "0.60"
auto = ["critical"]
"#,
        )
        .unwrap();
        assert_eq!(config.max_rounds, 4);
        assert_eq!(config.auto_principal, "investigator");
        assert!(config.api_key.is_none());
        assert_eq!(config.price_per_million_output.to_string(), "0.60");
        assert!(config.price_per_million_input.is_zero());
    }
}

//! `[investigator]`: the team's own model, reached over an OpenAI-compatible chat
//! completions endpoint (Ollama's `/v1`, vLLM, llama.cpp's server, OpenAI), that
//! `incident investigate` asks: where it is, which model, the API key (a secret,
//! optional), how long and how much an answer may take, how many tool calls and rounds
//! it gets, the incident severities (and services) for which an investigation starts by
//! itself and how many of those may run at once, and what its tokens cost (so `/cost`
//! shows the investigations' spend).
//!
//! ```toml
//! [investigator]
//! base_url = "http://localhost:11434/v1"
//! model = "llama3.1:8b"
//! auto = ["critical"]              # investigate critical incidents by themselves …
//! auto_services = ["ollama"]       # … of these services (globs; absent: every incident)
//! max_concurrent = 2               # automatic ones at once; more are skipped, with a note
//! ```

use opsbot_commands::{HumanDuration, catalog::Money};
use serde::Deserialize;

use super::{
    Config, Secret,
    document::KeyPath,
    problems::{Problems, check_globs},
};

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
    /// Service name globs `auto` applies to (`["ollama", "aiops-*"]`); absent: every
    /// incident (those of no service too). Manual investigations are not limited by it.
    #[serde(default)]
    pub auto_services: Option<Vec<String>>,
    /// Automatic investigations running at once (in one opsbot process), at most. An
    /// incident that would start one beyond it is skipped: a log line, and a note in its
    /// thread with an Investigate button; it is considered again when it fires again.
    /// Manual investigations do not count and are never refused.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
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

fn default_max_concurrent() -> u32 {
    2
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
    if let Some(globs) = &investigator.auto_services {
        let path = path.key("auto_services");
        if investigator.auto.is_empty() {
            problems.push(
                path.clone(),
                "has no effect without `auto` (the severities investigated by themselves); \
                 set `auto = [\"critical\"]` or leave `auto_services` out",
            );
        }
        check_globs(globs, &path, problems);
        let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
        for (index, glob) in globs.iter().enumerate() {
            let Ok(compiled) = globset::Glob::new(glob) else {
                continue; // reported by check_globs
            };
            let matcher = compiled.compile_matcher();
            if !glob.trim().is_empty() && !names.iter().any(|name| matcher.is_match(name)) {
                problems.push(
                    path.index(index),
                    format!(
                        "`{glob}` matches no service of the catalog (services are matched by \
                         name, not alias); automatic investigations would never start for it"
                    ),
                );
            }
        }
    }
    if investigator.max_concurrent == 0 {
        problems.push(
            path.key("max_concurrent"),
            "must be at least 1 (to start no investigation by itself, leave `auto` empty)",
        );
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
        assert_eq!(config.auto_services, None, "absent: every service");
        assert_eq!(config.max_concurrent, 2);
    }

    const SERVICES: &str = r#"
[[services]]
name = "ollama"
environment = "prod"
target = { kind = "systemd", unit = "ollama.service" }

[[services]]
name = "aiops-agent-ui"
environment = "prod"
"#;

    fn with_investigator(section: &str) -> String {
        format!(
            "{SERVICES}\n[investigator]\nbase_url = \"http://ollama:11434/v1\"\nmodel = \"llama3.1:8b\"\n{section}"
        )
    }

    /// `(line, key, message)` of every problem `check-config` reports.
    fn problems(text: &str) -> Vec<(usize, String, String)> {
        match super::super::load::parse(text, "opsbot.toml", &|_| None) {
            Err(crate::config::ConfigError::Invalid(found)) => found
                .into_iter()
                .map(|d| (d.line, d.key, d.message))
                .collect(),
            Err(other) => panic!("expected validation errors, got: {other}"),
            Ok(_) => panic!("expected validation errors, the configuration was accepted"),
        }
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn auto_services_and_max_concurrent_are_read() {
        let text = with_investigator(
            "auto = [\"critical\"]\nauto_services = [\"ollama\", \"aiops-*\"]\nmax_concurrent = 1\n",
        );
        let config = super::super::load::parse(&text, "opsbot.toml", &|_| None).expect("valid");
        let investigator = config.investigator.expect("[investigator]");
        assert_eq!(
            investigator.auto_services.as_deref(),
            Some(&["ollama".to_string(), "aiops-*".to_string()][..])
        );
        assert_eq!(investigator.max_concurrent, 1);
    }

    #[test]
    fn bad_auto_services_and_max_concurrent_name_their_keys() {
        let text = with_investigator(
            "auto = [\"critical\"]\nauto_services = [\"ollama\", \"olama\", \"[oops\", \"\"]\nmax_concurrent = 0\n",
        );
        let found = problems(&text);
        let has = |key: &str, message: &str| {
            assert!(
                found
                    .iter()
                    .any(|(_, k, m)| k == key && m.contains(message)),
                "no `{message}` at `{key}`: {found:#?}"
            );
        };
        has(
            "investigator.auto_services[1]",
            "`olama` matches no service of the catalog",
        );
        has("investigator.auto_services[2]", "is not a valid glob");
        has(
            "investigator.auto_services[3]",
            "an empty pattern matches nothing",
        );
        has("investigator.max_concurrent", "must be at least 1");
        assert!(
            !found
                .iter()
                .any(|(_, k, _)| k == "investigator.auto_services[0]"),
            "`ollama` is a service: {found:#?}"
        );
        let line = line_of(&text, "max_concurrent");
        assert!(
            found
                .iter()
                .any(|(l, k, _)| *l == line && k == "investigator.max_concurrent"),
            "reported at its line {line}: {found:#?}"
        );
    }

    #[test]
    fn auto_services_must_not_be_empty_nor_set_without_auto() {
        let found = problems(&with_investigator(
            "auto = [\"critical\"]\nauto_services = []\n",
        ));
        assert!(
            found
                .iter()
                .any(|(_, k, m)| k == "investigator.auto_services"
                    && m.contains("leave it out to mean every one")),
            "{found:#?}"
        );
        let found = problems(&with_investigator("auto_services = [\"ollama\"]\n"));
        assert!(
            found
                .iter()
                .any(|(_, k, m)| k == "investigator.auto_services"
                    && m.contains("has no effect without `auto`")),
            "{found:#?}"
        );
    }

    #[test]
    fn the_example_investigates_critical_agent_aiops_incidents_by_itself() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let config = super::super::load::parse(&text, "opsbot.toml", &|_| None).expect("valid");
        let investigator = config.investigator.expect("[investigator]");
        assert_eq!(investigator.auto, ["critical"]);
        let services = investigator.auto_services.expect("auto_services");
        assert!(services.iter().any(|s| s == "ollama"), "{services:?}");
        // The ingest bench's automation run replays critical alerts of alice-frontend
        // into the example (its storms are warnings): none may ask the model.
        for glob in &services {
            let glob = globset::Glob::new(glob).unwrap().compile_matcher();
            assert!(!glob.is_match("alice-frontend"), "{services:?}");
        }
        assert!(
            investigator.max_concurrent <= 4,
            "a small cap: {}",
            investigator.max_concurrent
        );
    }
}

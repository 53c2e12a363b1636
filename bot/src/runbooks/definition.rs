//! A runbook of the configuration made concrete for one run: its parameters checked and
//! filled in, every step turned into an [`Action`] with nothing left to interpret, and
//! described for people (secrets never shown).

use std::{collections::BTreeMap, time::Duration};

use opsbot_commands::{Catalog, catalog::JsonExpectation};

use super::template;
use crate::config::runbooks::{
    HeaderValue, OnFailure, ParamConfig, ParamKind, RunbookConfig, StepConfig, StepKind,
};

/// How long an `http` step waits for its answer unless it says otherwise.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a `wait_healthy` step waits unless it says otherwise.
pub const DEFAULT_HEALTHY_TIMEOUT: Duration = Duration::from_secs(300);

/// Whether the runbook may be run for service `name` (`services` globs; none: any).
pub fn service_allowed(globs: &[String], name: &str) -> bool {
    globs.is_empty() || crate::config::name_glob::NameGlob::any_matches(globs, name)
}

/// Checks one value of `param`; the value as the run uses it (a service's canonical
/// name, a choice in lower case, a number without sign noise).
pub fn check_value(
    param: &ParamConfig,
    services: &[String],
    value: &str,
    catalog: Option<&Catalog>,
) -> Result<String, String> {
    let name = &param.name;
    match param.kind {
        ParamKind::String => {
            if value.trim().is_empty() {
                Err(format!("`{name}` must not be empty"))
            } else {
                Ok(value.to_string())
            }
        }
        ParamKind::Int => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("`{name}` must be a whole number, not `{value}`"))?;
            if param.min.is_some_and(|min| n < min) || param.max.is_some_and(|max| n > max) {
                let bounds = match (param.min, param.max) {
                    (Some(min), Some(max)) => format!("from {min} to {max}"),
                    (Some(min), None) => format!("at least {min}"),
                    (None, Some(max)) => format!("at most {max}"),
                    (None, None) => String::new(),
                };
                return Err(format!("`{name}` must be {bounds}, not {n}"));
            }
            Ok(n.to_string())
        }
        ParamKind::Choice => {
            let lowered = value.to_ascii_lowercase();
            if param
                .choices
                .iter()
                .any(|c| c.to_ascii_lowercase() == lowered)
            {
                Ok(lowered)
            } else {
                Err(format!(
                    "`{name}` must be one of {}, not `{value}`",
                    param.choices.join(", ")
                ))
            }
        }
        ParamKind::Service => {
            let Some(catalog) = catalog else {
                return Ok(value.to_string());
            };
            let service = catalog
                .resolve(value)
                .map_err(|e| format!("`{name}`: {e}"))?;
            if !service_allowed(services, service.name.as_str()) {
                return Err(format!(
                    "`{name}`: this runbook is for {}, not `{}`",
                    services.join(", "),
                    service.name
                ));
            }
            Ok(service.name.to_string())
        }
    }
}

/// The parameters of a run: every given one known and valid, defaults filled in, none
/// missing. In declaration order.
pub fn resolve_params(
    runbook: &RunbookConfig,
    given: &[(String, String)],
    catalog: &Catalog,
) -> Result<Vec<(String, String)>, String> {
    let known: Vec<&str> = runbook.params.iter().map(|p| p.name.as_str()).collect();
    for (key, _) in given {
        if !known.contains(&key.as_str()) {
            return Err(if known.is_empty() {
                format!("`{}` takes no parameters (got `{key}`)", runbook.name)
            } else {
                format!(
                    "`{}` has no parameter `{key}`; its parameters: {}",
                    runbook.name,
                    known.join(", ")
                )
            });
        }
    }
    let mut values = Vec::new();
    for param in &runbook.params {
        let value = match given.iter().find(|(k, _)| *k == param.name) {
            Some((_, value)) => value.clone(),
            None => match &param.default {
                Some(default) => default.as_text(),
                None => {
                    return Err(format!(
                        "`{}` needs `{}=…` ({}{})",
                        runbook.name,
                        param.name,
                        param.kind.as_str(),
                        if param.description.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", param.description)
                        }
                    ));
                }
            },
        };
        let value = check_value(param, &runbook.services, &value, Some(catalog))?;
        values.push((param.name.clone(), value));
    }
    Ok(values)
}

/// An HTTP header of a step: its value, and whether it is a secret (sent, never shown).
#[derive(Clone, Debug)]
pub struct Header {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

/// The request of an `http` step, filled in.
#[derive(Clone, Debug)]
pub struct HttpAction {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Option<serde_json::Value>,
    pub expect_status: u16,
    pub expect_json: Vec<JsonExpectation>,
    pub timeout: Duration,
}

/// What one step does, with nothing left to fill in.
#[derive(Clone, Debug)]
pub enum Action {
    /// An opsbot command line, run through the pipeline as the run's starter.
    Command(String),
    Http(HttpAction),
    Wait(Duration),
    WaitHealthy {
        service: String,
        timeout: Duration,
    },
    Manual(String),
    Notify {
        text: String,
        /// Another channel of the run's platform; `None`: the run's thread.
        channel: Option<String>,
    },
}

/// One step of a run.
#[derive(Clone, Debug)]
pub struct Step {
    pub kind: StepKind,
    pub name: Option<String>,
    pub on_failure: OnFailure,
    pub action: Action,
}

impl Step {
    /// What it does, for people: secret headers named, never shown, and anything
    /// secret-shaped redacted.
    pub fn describe(&self) -> String {
        let text = match &self.action {
            Action::Command(text) => text.clone(),
            Action::Http(http) => {
                let mut text = format!("{} {}", http.method, http.url);
                // `Authorization (secret)`: never the value, and nothing the redactor
                // would take for one.
                let headers: Vec<String> = http
                    .headers
                    .iter()
                    .map(|h| {
                        if h.secret {
                            format!("{} (secret)", h.name)
                        } else {
                            format!("{}: {}", h.name, h.value)
                        }
                    })
                    .collect();
                if !headers.is_empty() {
                    text.push_str(&format!(" [{}]", headers.join("; ")));
                }
                if let Some(body) = &http.body {
                    text.push_str(&format!(" {body}"));
                }
                text.push_str(&format!(" → expect {}", http.expect_status));
                text
            }
            Action::Wait(duration) => format!("wait {}", humantime::format_duration(*duration)),
            Action::WaitHealthy { service, timeout } => format!(
                "wait until {service} is healthy (at most {})",
                humantime::format_duration(*timeout)
            ),
            Action::Manual(instruction) => format!("a person does: {instruction}"),
            Action::Notify { text, channel } => match channel {
                Some(channel) => format!("notify {channel}: {text}"),
                None => format!("notify the thread: {text}"),
            },
        };
        let text = opsbot_commands::redact::redact(&text).0.into_owned();
        match &self.name {
            Some(name) => format!("{name}: {text}"),
            None => text,
        }
    }

    /// The secret values this step sends (scrubbed from anything it reports).
    pub fn secrets(&self) -> Vec<&str> {
        match &self.action {
            Action::Http(http) => http
                .headers
                .iter()
                .filter(|h| h.secret)
                .map(|h| h.value.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The steps (or rollback steps) of `runbook` with `params` filled in.
pub fn steps(
    runbook: &RunbookConfig,
    configs: &[StepConfig],
    params: &[(String, String)],
) -> Result<Vec<Step>, String> {
    let values: BTreeMap<String, String> = params.iter().cloned().collect();
    configs
        .iter()
        .enumerate()
        .map(|(index, config)| {
            step(runbook, config, &values)
                .map_err(|e| format!("step {} of `{}`: {e}", index + 1, runbook.name))
        })
        .collect()
}

fn step(
    runbook: &RunbookConfig,
    config: &StepConfig,
    values: &BTreeMap<String, String>,
) -> Result<Step, String> {
    let fill = |text: &Option<String>| -> Result<String, String> {
        template::fill(text.as_deref().unwrap_or_default(), values).map_err(|e| e.to_string())
    };
    let action = match config.kind {
        StepKind::Command => Action::Command(fill(&config.command)?),
        StepKind::Http => {
            let mut headers = Vec::new();
            for (name, value) in &config.headers {
                headers.push(match value {
                    HeaderValue::Literal(text) => Header {
                        name: name.clone(),
                        value: template::fill(text, values).map_err(|e| e.to_string())?,
                        secret: false,
                    },
                    HeaderValue::Secret(secret) => Header {
                        name: name.clone(),
                        value: secret.expose().to_string(),
                        secret: true,
                    },
                });
            }
            let body = config
                .body
                .as_ref()
                .map(|body| fill_json(runbook, body, values))
                .transpose()?;
            if body.is_some()
                && !headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case("content-type"))
            {
                headers.push(Header {
                    name: "Content-Type".into(),
                    value: "application/json".into(),
                    secret: false,
                });
            }
            let method = config
                .method
                .as_deref()
                .map(str::to_ascii_uppercase)
                .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_string());
            Action::Http(HttpAction {
                method,
                url: fill(&config.url)?,
                headers,
                body,
                expect_status: config.expect_status.unwrap_or(200),
                expect_json: config.expect_json.clone(),
                timeout: config
                    .timeout
                    .map_or(DEFAULT_HTTP_TIMEOUT, |t| t.as_duration()),
            })
        }
        StepKind::Wait => {
            Action::Wait(config.duration.map(|d| d.as_duration()).unwrap_or_default())
        }
        StepKind::WaitHealthy => Action::WaitHealthy {
            service: fill(&config.service)?,
            timeout: config
                .timeout
                .map_or(DEFAULT_HEALTHY_TIMEOUT, |t| t.as_duration()),
        },
        StepKind::Manual => Action::Manual(fill(&config.instruction)?),
        StepKind::Notify => {
            let mut text = fill(&config.message)?;
            if !config.mention.is_empty() {
                text = format!("{} {text}", config.mention.join(" "));
            }
            Action::Notify {
                text,
                channel: config.channel.clone(),
            }
        }
    };
    Ok(Step {
        kind: config.kind,
        name: config.name.clone(),
        on_failure: config.on_failure,
        action,
    })
}

/// A JSON body with `{param}` filled in every string; a string that is exactly one
/// `int` parameter becomes that number.
fn fill_json(
    runbook: &RunbookConfig,
    value: &serde_json::Value,
    values: &BTreeMap<String, String>,
) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match value {
        Value::String(text) => {
            let int_param = template::sole_placeholder(text).and_then(|name| {
                runbook
                    .params
                    .iter()
                    .find(|p| p.name == name && p.kind == ParamKind::Int)
            });
            match int_param
                .and_then(|p| values.get(&p.name))
                .and_then(|v| v.parse::<i64>().ok())
            {
                Some(n) => Value::from(n),
                None => Value::String(template::fill(text, values).map_err(|e| e.to_string())?),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| fill_json(runbook, item, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill_json(runbook, v, values)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// `service (service)`, `message (string, default "…")` for `runbook list`.
pub fn describe_param(param: &ParamConfig) -> String {
    let mut text = format!("{} ({}", param.name, param.kind.as_str());
    if param.kind == ParamKind::Choice {
        text.push_str(&format!(": {}", param.choices.join("|")));
    }
    if let Some(default) = &param.default {
        text.push_str(&format!(", default \"{}\"", default.as_text()));
    }
    text.push(')');
    text
}

//! `[[runbooks]]`: procedures from the users' runbooks, as data. The typed shape of the
//! section (every step is one flat table whose `kind` says which keys it needs) and its
//! checks for `check-config`: unknown commands, services, parameters and placeholders, a
//! secret written literally in a header or URL, each reported at its line.
//!
//! ```toml
//! [[runbooks]]
//! name = "service-restart"
//! params = [{ name = "service", type = "service" }]
//! steps = [
//!   { kind = "command", command = "restart {service}" },
//!   { kind = "wait_healthy", service = "{service}", timeout = "2m" },
//! ]
//! ```
//!
//! Compiling a checked section into runnable runbooks is `crate::runbooks::definition`.

use std::collections::BTreeMap;

use opsbot_commands::{Catalog, HumanDuration, Registry, catalog::JsonExpectation, language};
use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, Visitor, value::MapAccessDeserializer},
};

use super::{
    Config,
    document::KeyPath,
    interpolate::Origin,
    problems::{Problems, check_globs},
    secret::{Secret, SecretSource},
};
use crate::runbooks::template;

/// One `[[runbooks]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookConfig {
    /// What people type: `runbook run NAME`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Service name globs this runbook may be run for (its `service` parameters must
    /// match one); absent: any service.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub params: Vec<ParamConfig>,
    pub steps: Vec<StepConfig>,
    /// Run, in order, when the run stops on a failed step.
    #[serde(default)]
    pub rollback_steps: Vec<StepConfig>,
}

/// The type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    String,
    Int,
    /// A service of the catalog (a name or alias), within the runbook's `services`.
    Service,
    /// One of `choices`.
    Choice,
}

impl ParamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Int => "int",
            ParamKind::Service => "service",
            ParamKind::Choice => "choice",
        }
    }
}

/// A parameter default: text or a whole number.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ParamDefault {
    Int(i64),
    Text(String),
}

impl ParamDefault {
    pub fn as_text(&self) -> String {
        match self {
            ParamDefault::Int(n) => n.to_string(),
            ParamDefault::Text(text) => text.clone(),
        }
    }
}

/// `{ name = "service", type = "service" }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamKind,
    #[serde(default)]
    pub description: String,
    /// Without a default the parameter must be given.
    #[serde(default)]
    pub default: Option<ParamDefault>,
    /// The values of a `choice`.
    #[serde(default)]
    pub choices: Vec<String>,
    /// Bounds of an `int`.
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

/// Which kind of step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Command,
    Http,
    Wait,
    WaitHealthy,
    Manual,
    Notify,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Command => "command",
            StepKind::Http => "http",
            StepKind::Wait => "wait",
            StepKind::WaitHealthy => "wait_healthy",
            StepKind::Manual => "manual",
            StepKind::Notify => "notify",
        }
    }

    /// The keys a step of this kind may set, besides `kind`, `name` and `on_failure`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            StepKind::Command => &["command"],
            StepKind::Http => &[
                "method",
                "url",
                "headers",
                "body",
                "expect_status",
                "expect_json",
                "timeout",
            ],
            StepKind::Wait => &["duration"],
            StepKind::WaitHealthy => &["service", "timeout"],
            StepKind::Manual => &["instruction"],
            StepKind::Notify => &["message", "channel", "mention"],
        }
    }
}

/// What a failed step does to its run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// The run stops (and runs its `rollback_steps`).
    #[default]
    Stop,
    /// The run goes on with the next step.
    Continue,
}

impl OnFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Stop => "stop",
            OnFailure::Continue => "continue",
        }
    }
}

/// One step, as written. Which keys apply depends on `kind` (checked by [`check`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    pub kind: StepKind,
    /// Shown instead of the generated description.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// `command`: an opsbot command line (`restart {service}`).
    #[serde(default)]
    pub command: Option<String>,
    /// `http`: `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (default `POST` with a body,
    /// else `GET`).
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// `http`: header values; secrets as `"${ENV}"`, `"Bearer ${ENV}"` or `{ file = … }`.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderValue>,
    /// `http`: a JSON body (a TOML table), `{param}` filled in its strings.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    #[serde(default)]
    pub expect_status: Option<u16>,
    #[serde(default)]
    pub expect_json: Vec<JsonExpectation>,
    /// `http`: the request's deadline (default 10s); `wait_healthy`: how long the
    /// service has to become healthy (default 5m).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// `wait`.
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    /// `wait_healthy`: a service name or `{param}`.
    #[serde(default)]
    pub service: Option<String>,
    /// `manual`: what a person must do; the run waits for Done or Skip.
    #[serde(default)]
    pub instruction: Option<String>,
    /// `notify`: the text.
    #[serde(default)]
    pub message: Option<String>,
    /// `notify`: another channel of the run's platform (default: the run's thread).
    #[serde(default)]
    pub channel: Option<String>,
    /// `notify`: mentions put before the text (`<@U0ONCALL>`, `@ai-ops-oncall`).
    #[serde(default)]
    pub mention: Vec<String>,
}

/// A header value: text written in the file, or a secret (read from the environment,
/// wholly or within the text, or from a file) that is sent but never shown.
#[derive(Clone, Debug)]
pub enum HeaderValue {
    Literal(String),
    Secret(Secret),
}

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = HeaderValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a header value: text, \"${ENV_VAR}\" or { file = \"/run/secrets/NAME\" }")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<HeaderValue, E> {
        Ok(match super::secret::origin_of(text) {
            Some(Some(Origin::Env(name))) => {
                HeaderValue::Secret(Secret::new(text, SecretSource::Env(name)))
            }
            Some(Some(Origin::Mixed)) => HeaderValue::Secret(Secret::new(
                text,
                SecretSource::Env("(references in the value)".into()),
            )),
            _ => HeaderValue::Literal(text.to_string()),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<HeaderValue, A::Error> {
        Secret::deserialize(MapAccessDeserializer::new(map)).map(HeaderValue::Secret)
    }
}

/// Header names whose value is a credential whatever it looks like.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Whether a header written literally would put a credential in the file.
fn is_literal_secret(name: &str, value: &str) -> bool {
    let lowered = name.to_ascii_lowercase();
    CREDENTIAL_HEADERS.contains(&lowered.as_str())
        || [
            "token", "secret", "password", "apikey", "api-key", "api_key",
        ]
        .iter()
        .any(|word| lowered.contains(word))
        || opsbot_commands::redact::redact(&format!("{name}: {value}")).1 > 0
}

/// Checks every runbook: names, parameters, steps (per kind), placeholders, commands,
/// services and literal secrets. `catalog` is `None` when the services themselves are
/// invalid (service references are then not checked).
pub(crate) fn check(config: &Config, catalog: Option<&Catalog>, problems: &mut Problems) {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, runbook) in config.runbooks.iter().enumerate() {
        let path = KeyPath::root().key("runbooks").index(index);
        if !is_runbook_name(&runbook.name) {
            problems.push(
                path.key("name"),
                "must be one word of letters, digits, `-` and `_` (people type `runbook run NAME`)",
            );
        } else if runbook.name.chars().count() > MAX_RUNBOOK_NAME {
            problems.push(
                path.key("name"),
                format!(
                    "must be at most {MAX_RUNBOOK_NAME} characters, not {}: a Discord button carries `runbook run NAME …` in at most 100",
                    runbook.name.chars().count()
                ),
            );
        }
        if names.insert(runbook.name.as_str(), index).is_some() {
            problems.push(
                path.key("name"),
                format!("another runbook is already named `{}`", runbook.name),
            );
        }
        if !runbook.services.is_empty() {
            check_globs(&runbook.services, &path.key("services"), problems);
            if let Some(catalog) = catalog {
                for (i, glob) in runbook.services.iter().enumerate() {
                    let matches = super::name_glob::NameGlob::new(glob).ok().is_some_and(|m| {
                        catalog
                            .services()
                            .iter()
                            .any(|s| m.is_match(s.name.as_str()))
                    });
                    if !matches {
                        problems.push(
                            path.key("services").index(i),
                            format!("`{glob}` matches no service of the catalog"),
                        );
                    }
                }
            }
        }
        check_params(runbook, &path, catalog, problems);
        if runbook.steps.is_empty() {
            problems.push(path.key("steps"), "a runbook needs at least one step");
        }
        for (key, steps) in [
            ("steps", &runbook.steps),
            ("rollback_steps", &runbook.rollback_steps),
        ] {
            for (i, step) in steps.iter().enumerate() {
                check_step(runbook, step, &path.key(key).index(i), catalog, problems);
            }
        }
    }
}

/// The longest runbook name: a dry run's "Run it" button is `run:runbook run NAME` and
/// its parameters, and a Discord button's `custom_id` holds at most 100 characters
/// (4 + 12 + 48 leaves 36 for `service=…`).
pub const MAX_RUNBOOK_NAME: usize = 48;

pub(crate) fn is_runbook_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_params(
    runbook: &RunbookConfig,
    path: &KeyPath,
    catalog: Option<&Catalog>,
    problems: &mut Problems,
) {
    let mut seen = Vec::new();
    for (index, param) in runbook.params.iter().enumerate() {
        let path = path.key("params").index(index);
        let valid_name = !param.name.is_empty()
            && param
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            problems.push(
                path.key("name"),
                "must be letters, digits, `_` or `-` (it is written `{name}` in steps and `name=value` in chat)",
            );
        }
        if seen.contains(&param.name.as_str()) {
            problems.push(
                path.key("name"),
                format!("another parameter is already named `{}`", param.name),
            );
        }
        seen.push(param.name.as_str());
        if param.kind == ParamKind::Choice && param.choices.is_empty() {
            problems.push(path.key("choices"), "a `choice` parameter needs `choices`");
        }
        if param.kind != ParamKind::Choice && !param.choices.is_empty() {
            problems.push(
                path.key("choices"),
                "only a `choice` parameter has `choices`",
            );
        }
        if param.kind != ParamKind::Int && (param.min.is_some() || param.max.is_some()) {
            problems.push(
                path.key(if param.min.is_some() { "min" } else { "max" }),
                "only an `int` parameter has bounds",
            );
        }
        if let Some(default) = &param.default
            && let Err(message) = crate::runbooks::definition::check_value(
                param,
                &runbook.services,
                &default.as_text(),
                catalog,
            )
        {
            problems.push(path.key("default"), message);
        }
    }
}

fn check_step(
    runbook: &RunbookConfig,
    step: &StepConfig,
    path: &KeyPath,
    catalog: Option<&Catalog>,
    problems: &mut Problems,
) {
    let allowed = step.kind.keys();
    let set: Vec<(&str, bool)> = vec![
        ("command", step.command.is_some()),
        ("method", step.method.is_some()),
        ("url", step.url.is_some()),
        ("headers", !step.headers.is_empty()),
        ("body", step.body.is_some()),
        ("expect_status", step.expect_status.is_some()),
        ("expect_json", !step.expect_json.is_empty()),
        ("timeout", step.timeout.is_some()),
        ("duration", step.duration.is_some()),
        ("service", step.service.is_some()),
        ("instruction", step.instruction.is_some()),
        ("message", step.message.is_some()),
        ("channel", step.channel.is_some()),
        ("mention", !step.mention.is_empty()),
    ];
    for (key, present) in &set {
        if *present && !allowed.contains(key) {
            problems.push(
                path.key(*key),
                format!(
                    "a `{}` step has no `{key}` (its keys: {})",
                    step.kind.as_str(),
                    allowed.join(", ")
                ),
            );
        }
    }
    let params: Vec<&str> = runbook.params.iter().map(|p| p.name.as_str()).collect();
    let kind = step.kind.as_str();
    match step.kind {
        StepKind::Command => {
            if required(kind, path, "command", step.command.as_ref(), problems) {
                let command = step.command.as_deref().unwrap_or_default();
                check_text(&params, path, "command", command, problems);
                if let Some(message) = check_command(runbook, command, catalog) {
                    problems.push(path.key("command"), message);
                }
            }
        }
        StepKind::Http => {
            if required(kind, path, "url", step.url.as_ref(), problems) {
                let url = step.url.as_deref().unwrap_or_default();
                check_text(&params, path, "url", url, problems);
                let filled = sample_fill(runbook, url, catalog);
                if !(filled.starts_with("http://") || filled.starts_with("https://")) {
                    problems.push(path.key("url"), "must be an http:// or https:// URL");
                } else if opsbot_commands::redact::redact(&filled).1 > 0 {
                    problems.push(
                        path.key("url"),
                        "holds a credential written literally; put it in a header read from \"${ENV_VAR}\"",
                    );
                }
            }
            if let Some(method) = &step.method
                && !["GET", "POST", "PUT", "PATCH", "DELETE"]
                    .contains(&method.to_ascii_uppercase().as_str())
            {
                problems.push(
                    path.key("method"),
                    format!("`{method}` is not one of GET, POST, PUT, PATCH, DELETE"),
                );
            }
            for (name, value) in &step.headers {
                let header_path = path.key("headers").key(name.as_str());
                if let HeaderValue::Literal(value) = value {
                    if is_literal_secret(name, value) {
                        problems.push(
                            header_path,
                            format!(
                                "a literal secret in a header; {}",
                                super::secret::SECRET_FORMS
                            ),
                        );
                    } else if let Err(e) = template::placeholders(value) {
                        problems.push(header_path, e.to_string());
                    } else {
                        check_text(&params, &path.key("headers"), name, value, problems);
                    }
                }
            }
            if let Some(body) = &step.body {
                for value in strings_of(body) {
                    check_text(&params, path, "body", value, problems);
                }
            }
            if let Some(status) = step.expect_status
                && !(100..=599).contains(&status)
            {
                problems.push(
                    path.key("expect_status"),
                    "must be an HTTP status (100-599)",
                );
            }
        }
        StepKind::Wait => match step.duration {
            None => problems.push(path.key("duration"), "a `wait` step needs `duration`"),
            Some(d) if d.as_duration().is_zero() => {
                problems.push(path.key("duration"), "must be longer than zero")
            }
            _ => {}
        },
        StepKind::WaitHealthy => {
            if required(kind, path, "service", step.service.as_ref(), problems) {
                let service = step.service.as_deref().unwrap_or_default();
                check_text(&params, path, "service", service, problems);
                if let Some(message) = check_service_ref(runbook, service, catalog) {
                    problems.push(path.key("service"), message);
                }
            }
        }
        StepKind::Manual => {
            if required(
                kind,
                path,
                "instruction",
                step.instruction.as_ref(),
                problems,
            ) {
                check_text(
                    &params,
                    path,
                    "instruction",
                    step.instruction.as_deref().unwrap_or_default(),
                    problems,
                );
            }
        }
        StepKind::Notify => {
            if required(kind, path, "message", step.message.as_ref(), problems) {
                check_text(
                    &params,
                    path,
                    "message",
                    step.message.as_deref().unwrap_or_default(),
                    problems,
                );
            }
            if let Some(channel) = &step.channel
                && channel.trim().is_empty()
            {
                problems.push(path.key("channel"), "must not be empty");
            }
        }
    }
}

/// Reports placeholders in `value` that name no parameter, and malformed ones.
fn check_text(params: &[&str], path: &KeyPath, key: &str, value: &str, problems: &mut Problems) {
    match template::placeholders(value) {
        Ok(names) => {
            for name in names {
                if !params.contains(&name.as_str()) {
                    let known = if params.is_empty() {
                        "the runbook has no parameters".to_string()
                    } else {
                        format!("parameters: {}", params.join(", "))
                    };
                    problems.push(
                        path.key(key),
                        format!("unknown placeholder `{{{name}}}`; {known}"),
                    );
                }
            }
        }
        Err(error) => problems.push(path.key(key), error.to_string()),
    }
}

/// Whether a key a step of `kind` needs is set (and not blank); reports it when not.
fn required(
    kind: &str,
    path: &KeyPath,
    key: &str,
    value: Option<&String>,
    problems: &mut Problems,
) -> bool {
    match value {
        Some(v) if !v.trim().is_empty() => true,
        _ => {
            problems.push(path.key(key), format!("a `{kind}` step needs `{key}`"));
            false
        }
    }
}

/// Every string inside a JSON value.
pub(crate) fn strings_of(value: &serde_json::Value) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::String(s) => out.push(s.as_str()),
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    out
}

/// `text` with each placeholder replaced by a value its parameter could take (its
/// default, else a representative one), to check what a step would become.
fn sample_fill(runbook: &RunbookConfig, text: &str, catalog: Option<&Catalog>) -> String {
    let values: BTreeMap<String, String> = runbook
        .params
        .iter()
        .map(|p| (p.name.clone(), sample_value(runbook, p, catalog)))
        .collect();
    template::fill(text, &values).unwrap_or_else(|_| text.to_string())
}

fn sample_value(runbook: &RunbookConfig, param: &ParamConfig, catalog: Option<&Catalog>) -> String {
    if let Some(default) = &param.default {
        return default.as_text();
    }
    match param.kind {
        ParamKind::String => "x".into(),
        ParamKind::Int => param
            .min
            .unwrap_or(1)
            .max(param.max.map_or(1, |m| m.min(1)))
            .to_string(),
        ParamKind::Choice => param.choices.first().cloned().unwrap_or_default(),
        ParamKind::Service => catalog
            .and_then(|c| {
                c.services().iter().find(|s| {
                    crate::runbooks::definition::service_allowed(&runbook.services, s.name.as_str())
                })
            })
            .map(|s| s.name.to_string())
            .unwrap_or_default(),
    }
}

/// Why a command step could never run (unknown command, service or usage), if it could
/// not.
fn check_command(
    runbook: &RunbookConfig,
    command: &str,
    catalog: Option<&Catalog>,
) -> Option<String> {
    let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
    let first = command.split_whitespace().next().unwrap_or_default();
    let Some(spec) = registry.find(first) else {
        let mut message = format!("unknown command `{first}`");
        if let Some(close) = registry.close_matches(first).first() {
            message.push_str(&format!("; did you mean `{close}`?"));
        }
        return Some(message);
    };
    if spec.is_request_control() || spec.name == "runbook" {
        return Some(format!(
            "`{}` cannot be a runbook step (steps run commands on services)",
            spec.name
        ));
    }
    let catalog = catalog?;
    let filled = sample_fill(runbook, command, Some(catalog));
    match language::parse(&filled, &registry, catalog, None) {
        Ok(call) => {
            if let Some(service) = call.service
                && !runbook.services.is_empty()
                && !crate::runbooks::definition::service_allowed(
                    &runbook.services,
                    service.name.as_str(),
                )
                && !command.contains('{')
            {
                return Some(format!(
                    "`{}` is not among the runbook's services ({})",
                    service.name,
                    runbook.services.join(", ")
                ));
            }
            None
        }
        Err(error) => Some(format!("`{command}` would not run: {error}")),
    }
}

/// Why a `wait_healthy` service could not be checked, if it could not.
fn check_service_ref(
    runbook: &RunbookConfig,
    service: &str,
    catalog: Option<&Catalog>,
) -> Option<String> {
    if let Some(name) = template::sole_placeholder(service) {
        let param = runbook.params.iter().find(|p| p.name == name)?;
        return (param.kind != ParamKind::Service).then(|| {
            format!(
                "`{{{name}}}` is a {} parameter; `wait_healthy` needs a `service` one",
                param.kind.as_str()
            )
        });
    }
    let catalog = catalog?;
    match catalog.resolve(service) {
        Ok(found) if found.health.is_empty() => Some(format!(
            "`{}` has no health checks, so it could never be seen healthy",
            found.name
        )),
        Ok(_) => None,
        Err(error) => Some(error.to_string()),
    }
}

#[cfg(test)]
#[path = "runbooks_tests.rs"]
mod tests;

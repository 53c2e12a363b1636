//! Health check definitions: what "healthy" means for a service, as its runbook says.
//!
//! This module only describes checks; running them is the job of the probe adapters.

use serde::{Deserialize, Serialize};

use crate::HumanDuration;

/// One health check of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HealthCheck {
    Http(HttpCheck),
    Prometheus(PrometheusCheck),
}

impl HealthCheck {
    pub fn name(&self) -> &str {
        match self {
            HealthCheck::Http(check) => check.name.as_deref().unwrap_or(check.url.as_str()),
            HealthCheck::Prometheus(check) => &check.name,
        }
    }
}

fn default_status() -> u16 {
    200
}

fn default_timeout() -> HumanDuration {
    HumanDuration::from_secs(5)
}

/// `GET url`, expecting a status and, optionally, fields of a JSON body or a substring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    #[serde(default = "default_status")]
    pub expect_status: u16,
    /// Expectations on the JSON body, e.g. `status` equals `healthy`.
    #[serde(default)]
    pub expect_json: Vec<JsonExpectation>,
    /// A substring the body must contain.
    #[serde(default)]
    pub expect_body: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

/// A JSON field expectation. `path` is dotted (`data.status`); a `[]` segment maps over an
/// array (`models[].name`), and the expectation holds when any element satisfies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpectation {
    pub path: String,
    /// The field's value, as text, must equal this.
    #[serde(default)]
    pub equals: Option<String>,
    /// The field's value, as text, must contain this.
    #[serde(default)]
    pub contains: Option<String>,
}

/// Whether a larger value of a Prometheus query is worse (`above`) or better (`below`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    #[default]
    Above,
    Below,
}

/// An instant Prometheus query compared against warning and critical thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusCheck {
    pub name: String,
    /// Base URL of the Prometheus server, e.g. `http://localhost:9090`.
    pub url: String,
    pub query: String,
    pub warn: f64,
    pub critical: f64,
    #[serde(default)]
    pub comparison: Comparison,
    /// Unit shown after the value, e.g. `ms` or `%`.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

//! The cost source clients, built once from `[cost]`, and the translation of one catalog
//! [`CostSource`] into a [`SourceSpend`]: its name, and its rows or why it failed.

use std::time::Duration;

use opsbot_commands::{
    catalog::CostSource,
    context::{CostGrouping, SourceSpend, SpendQuery, SpendRow},
};
use opsbot_cost::{
    ClientOptions, CostError, Credential, DailySpend, Grouping, SpendRange,
    anthropic::AnthropicCosts, openai::OpenAiCosts, opencost::OpenCost,
    prometheus::PrometheusSpend,
};

use crate::config::{
    CostConfig,
    cost::{ANTHROPIC_BASE_URL, OPENAI_BASE_URL},
};

/// A client could not be built (no TLS roots, for example).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the cost sources: {0}")]
pub struct CostSetupError(#[from] CostError);

/// Every configured cost API. A source kind without its `[cost.*]` section answers
/// "not configured" for the services that name it.
#[derive(Clone, Debug)]
pub struct CostSources {
    openai: Option<OpenAiCosts>,
    anthropic: Option<AnthropicCosts>,
    opencost: Option<OpenCost>,
    prometheus: PrometheusSpend,
}

impl CostSources {
    pub fn from_config(config: &CostConfig) -> Result<Self, CostSetupError> {
        let timeout: Duration = config.timeout.as_duration();
        let options = |base: &str, credential| ClientOptions::new(base, timeout, credential);
        Ok(Self {
            openai: config
                .openai
                .as_ref()
                .map(|s| {
                    OpenAiCosts::new(options(
                        s.base_url.as_deref().unwrap_or(OPENAI_BASE_URL),
                        Credential::Bearer(s.api_key.expose().to_string()),
                    ))
                })
                .transpose()?,
            anthropic: config
                .anthropic
                .as_ref()
                .map(|s| {
                    AnthropicCosts::new(options(
                        s.base_url.as_deref().unwrap_or(ANTHROPIC_BASE_URL),
                        Credential::ApiKey(s.api_key.expose().to_string()),
                    ))
                })
                .transpose()?,
            opencost: config
                .opencost
                .as_ref()
                .map(|s| {
                    OpenCost::new(options(
                        &s.base_url,
                        s.bearer.as_ref().map_or(Credential::None, |b| {
                            Credential::Bearer(b.expose().to_string())
                        }),
                    ))
                })
                .transpose()?,
            prometheus: PrometheusSpend::new(options(
                "",
                config
                    .prometheus
                    .bearer
                    .as_ref()
                    .map_or(Credential::None, |b| {
                        Credential::Bearer(b.expose().to_string())
                    }),
            ))?,
        })
    }

    /// What `source` spent in `query`'s days, as of `now`, and the outcome for metrics
    /// (`ok`, `rate_limited`, …).
    pub async fn fetch(
        &self,
        source: &CostSource,
        query: &SpendQuery,
        now: jiff::Timestamp,
    ) -> (SourceSpend, &'static str) {
        let range = SpendRange {
            from: query.from,
            to: query.to,
        };
        let grouping = match query.grouping {
            CostGrouping::Project => Grouping::Project,
            CostGrouping::LineItem => Grouping::LineItem,
            CostGrouping::Model => Grouping::Model,
        };
        let not_configured = |section: &str| {
            Err((
                "not_configured",
                format!("not configured (add a [cost.{section}] section)"),
            ))
        };
        let result: Result<Vec<DailySpend>, (&'static str, String)> = match source {
            CostSource::Openai { project_ids } => match &self.openai {
                Some(client) => client
                    .daily(range, project_ids, grouping)
                    .await
                    .map_err(describe),
                None => not_configured("openai"),
            },
            CostSource::Anthropic { workspace_ids } => match &self.anthropic {
                Some(client) => client
                    .daily(range, workspace_ids, grouping)
                    .await
                    .map_err(describe),
                None => not_configured("anthropic"),
            },
            CostSource::Opencost {
                namespace,
                deployment,
            } => match &self.opencost {
                Some(client) => client
                    .daily(range, namespace, deployment.as_deref())
                    .await
                    .map_err(describe),
                None => not_configured("opencost"),
            },
            CostSource::Prometheus { url, query } => self
                .prometheus
                .daily(url, query, range, now)
                .await
                .map_err(describe),
        };
        let name = source_name(source);
        let outcome = match &result {
            Ok(_) => "ok",
            Err((outcome, why)) => {
                tracing::warn!(source = %name, reason = %why, "cost source failed");
                outcome
            }
        };
        let spend = SourceSpend {
            source: name,
            result: result.map_err(|(_, why)| why).map(|rows| {
                rows.into_iter()
                    .map(|r| SpendRow {
                        day: r.day,
                        amount: r.amount,
                        item: r.item,
                    })
                    .collect()
            }),
        };
        (spend, outcome)
    }
}

/// The error's outcome label and its sentence.
fn describe(error: CostError) -> (&'static str, String) {
    let outcome = match &error {
        CostError::RateLimited { .. } => "rate_limited",
        CostError::Server { .. } => "server_error",
        CostError::Unauthorized { .. } => "unauthorized",
        CostError::Unreachable(_) => "unreachable",
        CostError::Status { .. } | CostError::Malformed(_) | CostError::TooManyPages(_) => {
            "malformed"
        }
    };
    (outcome, error.to_string())
}

/// The metrics label of a source's kind.
pub fn kind_label(source: &CostSource) -> &'static str {
    match source {
        CostSource::Openai { .. } => "openai",
        CostSource::Anthropic { .. } => "anthropic",
        CostSource::Opencost { .. } => "opencost",
        CostSource::Prometheus { .. } => "prometheus",
    }
}

/// How a source is named in replies: `openai`, `opencost alice/voice-gateway`,
/// `prometheus http://localhost:9090`.
pub fn source_name(source: &CostSource) -> String {
    match source {
        CostSource::Openai { project_ids } if project_ids.is_empty() => "openai".into(),
        CostSource::Openai { project_ids } => format!("openai {}", project_ids.join(",")),
        CostSource::Anthropic { workspace_ids } if workspace_ids.is_empty() => "anthropic".into(),
        CostSource::Anthropic { workspace_ids } => {
            format!("anthropic {}", workspace_ids.join(","))
        }
        CostSource::Opencost {
            namespace,
            deployment: Some(deployment),
        } => format!("opencost {namespace}/{deployment}"),
        CostSource::Opencost { namespace, .. } => format!("opencost {namespace}"),
        CostSource::Prometheus { url, .. } => format!("prometheus {url}"),
    }
}

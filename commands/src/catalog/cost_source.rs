//! Where a service's spend comes from, and the budget it must stay inside.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of money in the budget's currency, exact (never a float).
pub type Money = Decimal;

/// One source of spend for a service. Credentials live in the `[cost]` section of the
/// configuration, not here, so a catalog entry never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostSource {
    /// OpenAI organization Costs API, filtered to these project ids (all when empty).
    Openai {
        #[serde(default)]
        project_ids: Vec<String>,
    },
    /// Anthropic cost report, filtered to these workspace ids (all when empty).
    Anthropic {
        #[serde(default)]
        workspace_ids: Vec<String>,
    },
    /// OpenCost allocation for a namespace (and optionally one deployment).
    Opencost {
        namespace: String,
        #[serde(default)]
        deployment: Option<String>,
    },
    /// A Prometheus query whose value is spend over the queried range.
    Prometheus { url: String, query: String },
}

fn default_warn() -> u8 {
    80
}

fn default_critical() -> u8 {
    95
}

fn default_currency() -> String {
    "USD".to_string()
}

/// Spend limits per period, with warning and critical thresholds in percent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default)]
    pub daily: Option<Money>,
    #[serde(default)]
    pub weekly: Option<Money>,
    #[serde(default)]
    pub monthly: Option<Money>,
    #[serde(default = "default_warn")]
    pub warn_percent: u8,
    #[serde(default = "default_critical")]
    pub critical_percent: u8,
    #[serde(default = "default_currency")]
    pub currency: String,
}

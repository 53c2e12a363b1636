//! Anthropic's cost report: `GET /v1/organizations/cost_report` with daily buckets
//! (`starting_at`/`ending_at` in RFC 3339, `limit` up to 31 buckets, `group_by[]`
//! `workspace_id` and/or `description`), paged with `has_more`/`next_page` (`page=`).
//! Needs an admin key (`x-api-key`) and `anthropic-version: 2023-06-01`.
//!
//! Documented shape: `{"data":[{"starting_at":"…","ending_at":"…","results":[{"amount":
//! "123.45","currency":"USD","workspace_id":null,"description":null,"model":null,…}]}],
//! "has_more":false,"next_page":null}`, where `amount` is a decimal string in the lowest
//! currency unit: `"123.45"` USD is $1.2345 ([`crate::amount::from_cents`]).
//!
//! The report has no workspace filter; spend of other workspaces is dropped here when
//! the service names its workspaces (the default workspace's id is `null`, shown as
//! `default`).

use serde::Deserialize;

use crate::{
    ClientOptions, CostError, DailySpend, Grouping, SpendRange, amount,
    http::{Api, MAX_PAGES},
    spend::{parse_timestamp, utc_day},
};

/// Buckets per page: the API allows at most 31 daily buckets.
const PAGE_LIMIT: u32 = 31;

/// The API version this client was written against.
const API_VERSION: &str = "2023-06-01";

#[derive(Deserialize)]
struct Report {
    data: Vec<Bucket>,
    has_more: bool,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct Bucket {
    starting_at: String,
    #[serde(default)]
    results: Vec<CostItem>,
}

#[derive(Deserialize)]
struct CostItem {
    amount: String,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    model: Option<String>,
}

/// A client of Anthropic's cost report.
#[derive(Clone, Debug)]
pub struct AnthropicCosts {
    api: Api,
}

impl AnthropicCosts {
    /// `base_url` is `https://api.anthropic.com`.
    pub fn new(options: ClientOptions) -> Result<Self, CostError> {
        Ok(Self {
            api: Api::new(options)?.with_header("anthropic-version", API_VERSION),
        })
    }

    /// Daily spend in `range` of these workspaces (all when empty), grouped as asked.
    pub async fn daily(
        &self,
        range: SpendRange,
        workspace_ids: &[String],
        grouping: Grouping,
    ) -> Result<Vec<DailySpend>, CostError> {
        let mut query: Vec<(&str, String)> = vec![
            ("starting_at", range.start().to_string()),
            ("ending_at", range.end().to_string()),
            ("bucket_width", "1d".into()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        if grouping == Grouping::Project || !workspace_ids.is_empty() {
            query.push(("group_by[]", "workspace_id".into()));
        }
        if grouping != Grouping::Project {
            query.push(("group_by[]", "description".into()));
        }
        let mut spend = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_query = query.clone();
            if let Some(token) = &page_token {
                page_query.push(("page", token.clone()));
            }
            let report: Report = self
                .api
                .get_json("/v1/organizations/cost_report", &page_query)
                .await?;
            for bucket in report.data {
                let day = utc_day(parse_timestamp(&bucket.starting_at)?);
                for item in bucket.results {
                    let workspace = item.workspace_id.as_deref().unwrap_or("default");
                    if !workspace_ids.is_empty() && !workspace_ids.iter().any(|w| w == workspace) {
                        continue;
                    }
                    if let Some(currency) = &item.currency
                        && !currency.eq_ignore_ascii_case("usd")
                    {
                        return Err(CostError::Malformed(format!(
                            "currency `{currency}`; only USD is supported"
                        )));
                    }
                    let label = match grouping {
                        Grouping::Project => Some(workspace.to_string()),
                        Grouping::LineItem => item.description.clone(),
                        Grouping::Model => item.model.clone().or(item.description.clone()),
                    };
                    spend.push(DailySpend {
                        day,
                        amount: amount::from_cents(&item.amount)?,
                        item: label,
                    });
                }
            }
            match (report.has_more, report.next_page) {
                (true, Some(next)) => page_token = Some(next),
                (true, None) => {
                    return Err(CostError::Malformed(
                        "has_more is true but next_page is missing".into(),
                    ));
                }
                (false, _) => return Ok(spend),
            }
        }
        Err(CostError::TooManyPages(MAX_PAGES))
    }
}

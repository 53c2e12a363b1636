//! The OpenAI organization Costs API: `GET /v1/organization/costs` with daily buckets
//! (`bucket_width=1d`), `project_ids` filters and `group_by` `project_id` or `line_item`,
//! paged with `has_more`/`next_page` (`page=`). Needs an admin key (bearer).
//!
//! Documented shape: `{"object":"page","data":[{"object":"bucket","start_time":…,
//! "end_time":…,"results":[{"object":"organization.costs.result","amount":{"value":0.06,
//! "currency":"usd"},"line_item":null,"project_id":null}]}],"has_more":false,
//! "next_page":null}`.

use serde::Deserialize;

use crate::{
    ClientOptions, CostError, DailySpend, Grouping, SpendRange, amount,
    http::{Api, MAX_PAGES},
    spend::utc_day,
};

/// Buckets per page: the API allows 1 to 180.
const PAGE_LIMIT: u32 = 180;

#[derive(Deserialize)]
struct Page {
    data: Vec<Bucket>,
    has_more: bool,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct Bucket {
    start_time: i64,
    #[serde(default)]
    results: Vec<CostResult>,
}

#[derive(Deserialize)]
struct CostResult {
    #[serde(default)]
    amount: Option<Amount>,
    #[serde(default)]
    line_item: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
}

#[derive(Deserialize)]
struct Amount {
    value: f64,
    #[serde(default)]
    currency: Option<String>,
}

/// A client of the OpenAI Costs API.
#[derive(Clone, Debug)]
pub struct OpenAiCosts {
    api: Api,
}

impl OpenAiCosts {
    /// `base_url` is `https://api.openai.com` (the client adds `/v1/organization/costs`).
    pub fn new(options: ClientOptions) -> Result<Self, CostError> {
        Ok(Self {
            api: Api::new(options)?,
        })
    }

    /// Daily spend in `range` of these projects (all when empty), grouped as asked.
    pub async fn daily(
        &self,
        range: SpendRange,
        project_ids: &[String],
        grouping: Grouping,
    ) -> Result<Vec<DailySpend>, CostError> {
        let mut query: Vec<(&str, String)> = vec![
            ("start_time", range.start().as_second().to_string()),
            ("end_time", range.end().as_second().to_string()),
            ("bucket_width", "1d".into()),
            ("limit", PAGE_LIMIT.to_string()),
            (
                "group_by",
                match grouping {
                    Grouping::Project => "project_id",
                    Grouping::LineItem | Grouping::Model => "line_item",
                }
                .into(),
            ),
        ];
        for project in project_ids {
            query.push(("project_ids", project.clone()));
        }
        let mut spend = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_query = query.clone();
            if let Some(token) = &page_token {
                page_query.push(("page", token.clone()));
            }
            let page: Page = self
                .api
                .get_json("/v1/organization/costs", &page_query)
                .await?;
            for bucket in page.data {
                let day = jiff::Timestamp::from_second(bucket.start_time)
                    .map(utc_day)
                    .map_err(|e| CostError::Malformed(format!("bucket start_time: {e}")))?;
                for result in bucket.results {
                    let Some(amount) = result.amount else {
                        continue;
                    };
                    if let Some(currency) = &amount.currency
                        && !currency.eq_ignore_ascii_case("usd")
                    {
                        return Err(CostError::Malformed(format!(
                            "currency `{currency}`; only USD is supported"
                        )));
                    }
                    let item = match grouping {
                        Grouping::Project => result.project_id,
                        Grouping::LineItem => result.line_item,
                        Grouping::Model => result.line_item.map(|l| model_of(&l)),
                    };
                    spend.push(DailySpend {
                        day,
                        amount: amount::from_json_number(amount.value)?,
                        item,
                    });
                }
            }
            match (page.has_more, page.next_page) {
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

/// The model of a line item: `gpt-4o-2024-08-06, input` → `gpt-4o-2024-08-06`.
fn model_of(line_item: &str) -> String {
    line_item
        .split_once(", ")
        .map_or(line_item, |(model, _)| model)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_come_from_line_items() {
        assert_eq!(model_of("gpt-4o-2024-08-06, input"), "gpt-4o-2024-08-06");
        assert_eq!(model_of("web search"), "web search");
    }

    #[test]
    fn the_documented_example_parses() {
        let page: Page = serde_json::from_str(
            r#"{"object":"page","data":[{"object":"bucket","start_time":1730419200,
            "end_time":1730505600,"results":[{"object":"organization.costs.result",
            "amount":{"value":0.06,"currency":"usd"},"line_item":null,"project_id":null}]}],
            "has_more":false,"next_page":null}"#,
        )
        .unwrap();
        assert!(!page.has_more);
        assert_eq!(page.data[0].results[0].amount.as_ref().unwrap().value, 0.06);
    }
}

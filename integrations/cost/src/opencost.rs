//! OpenCost's allocation API: `GET /allocation?window=START,END&aggregate=namespace&step=1d
//! &accumulate=false` (or `aggregate=namespace,deployment` for one deployment), answered
//! as `{"code":200,"data":[{"NAME":{"name":…,"start":…,"end":…,"totalCost":1.23,…}},…]}`
//! with one allocation set per day. No pagination; the window is the range's days.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{
    ClientOptions, CostError, DailySpend, SpendRange, amount,
    http::Api,
    spend::{parse_timestamp, utc_day},
};

#[derive(Deserialize)]
struct Response {
    code: u16,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Vec<Option<BTreeMap<String, Allocation>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Allocation {
    start: String,
    total_cost: f64,
}

/// A client of OpenCost's allocation API.
#[derive(Clone, Debug)]
pub struct OpenCost {
    api: Api,
}

impl OpenCost {
    /// `base_url` is OpenCost's API, e.g. `http://opencost.opencost:9003`.
    pub fn new(options: ClientOptions) -> Result<Self, CostError> {
        Ok(Self {
            api: Api::new(options)?,
        })
    }

    /// Daily cost in `range` of a namespace, or of one deployment in it. The item is
    /// `namespace` or `namespace/deployment`.
    pub async fn daily(
        &self,
        range: SpendRange,
        namespace: &str,
        deployment: Option<&str>,
    ) -> Result<Vec<DailySpend>, CostError> {
        let (aggregate, key) = match deployment {
            Some(deployment) => ("namespace,deployment", format!("{namespace}/{deployment}")),
            None => ("namespace", namespace.to_string()),
        };
        let query = [
            ("window", format!("{},{}", range.start(), range.end())),
            ("aggregate", aggregate.to_string()),
            ("step", "1d".to_string()),
            ("accumulate", "false".to_string()),
        ];
        let response: Response = self.api.get_json("/allocation", &query).await?;
        if response.code != 200 {
            return Err(CostError::Malformed(format!(
                "code {}: {}",
                response.code,
                response.message.unwrap_or_default()
            )));
        }
        let mut spend = Vec::new();
        for set in response.data.into_iter().flatten() {
            if let Some(allocation) = set.get(&key) {
                let day = utc_day(parse_timestamp(&allocation.start)?);
                if range.contains(day) {
                    spend.push(DailySpend {
                        day,
                        amount: amount::from_json_number(allocation.total_cost)?,
                        item: Some(key.clone()),
                    });
                }
            }
        }
        Ok(spend)
    }
}

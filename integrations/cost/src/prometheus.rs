//! Spend from a Prometheus query whose value is one day's spend when evaluated at the
//! end of that day (the alice-hybrid runbook's `increase(openai_api_cost_usd[1d])`).
//!
//! Finished days come from one `GET /api/v1/query_range` with `step=86400`, evaluated at
//! each day's end (midnight UTC); today's spend so far is an instant `GET /api/v1/query`
//! at the current time, so with a `[1d]` range it is the last 24 hours' spend, which
//! overstates today's until midnight (said in the command's method line). Each series is
//! one item, named by its labels.

use serde::Deserialize;

use crate::{
    ClientOptions, CostError, DailySpend, SpendRange, amount,
    http::Api,
    spend::{midnight_utc, utc_day},
};

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Matrix(Vec<RangeSeries>),
    Vector(Vec<InstantSeries>),
    Scalar((f64, String)),
}

#[derive(Deserialize)]
struct RangeSeries {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

#[derive(Deserialize)]
struct InstantSeries {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    value: (f64, String),
}

/// Runs spend queries against Prometheus servers (the URL is per catalog source).
#[derive(Clone, Debug)]
pub struct PrometheusSpend {
    api: Api,
}

impl PrometheusSpend {
    /// `options.base_url` is ignored (each call names its server); timeout and
    /// credential apply to every server.
    pub fn new(options: ClientOptions) -> Result<Self, CostError> {
        Ok(Self {
            api: Api::new(ClientOptions {
                base_url: String::new(),
                ..options
            })?,
        })
    }

    /// Daily spend in `range` from `query` on the server at `url`, as of `now`.
    pub async fn daily(
        &self,
        url: &str,
        query: &str,
        range: SpendRange,
        now: jiff::Timestamp,
    ) -> Result<Vec<DailySpend>, CostError> {
        let url = url.trim_end_matches('/');
        let today = utc_day(now);
        let mut spend = Vec::new();
        // Finished days: evaluated at each day's end.
        let last_finished = range.to.min(today);
        if range.from < last_finished {
            let first_end = midnight_utc(range.from.tomorrow().unwrap_or(range.from));
            let last_end = midnight_utc(last_finished);
            let params = [
                ("query", query.to_string()),
                ("start", first_end.as_second().to_string()),
                ("end", last_end.as_second().to_string()),
                ("step", "86400".to_string()),
            ];
            let response: Response = self
                .api
                .get_json(&format!("{url}/api/v1/query_range"), &params)
                .await?;
            match data(response)? {
                Data::Matrix(series) => {
                    for series in series {
                        let item = labels(&series.metric);
                        for (at, value) in series.values {
                            let end = timestamp(at)?;
                            let day = utc_day(end).yesterday().map_err(|e| {
                                CostError::Malformed(format!("sample time {at}: {e}"))
                            })?;
                            push(&mut spend, range, day, &value, &item)?;
                        }
                    }
                }
                _ => {
                    return Err(CostError::Malformed(
                        "query_range did not answer a matrix".into(),
                    ));
                }
            }
        }
        // Today so far.
        if range.contains(today) {
            let params = [
                ("query", query.to_string()),
                ("time", now.as_second().to_string()),
            ];
            let response: Response = self
                .api
                .get_json(&format!("{url}/api/v1/query"), &params)
                .await?;
            match data(response)? {
                Data::Vector(series) => {
                    for series in series {
                        push(
                            &mut spend,
                            range,
                            today,
                            &series.value.1,
                            &labels(&series.metric),
                        )?;
                    }
                }
                Data::Scalar((_, value)) => push(&mut spend, range, today, &value, &None)?,
                _ => return Err(CostError::Malformed("query did not answer a vector".into())),
            }
        }
        Ok(spend)
    }
}

fn data(response: Response) -> Result<Data, CostError> {
    if response.status != "success" {
        return Err(CostError::Malformed(format!(
            "query failed: {}",
            response.error.unwrap_or_else(|| response.status.clone())
        )));
    }
    response
        .data
        .ok_or_else(|| CostError::Malformed("no data in a successful answer".into()))
}

fn timestamp(at: f64) -> Result<jiff::Timestamp, CostError> {
    jiff::Timestamp::from_second(at.floor() as i64)
        .map_err(|e| CostError::Malformed(format!("sample time {at}: {e}")))
}

/// Adds a sample; `NaN` and infinities (no data, a counter reset) are skipped.
fn push(
    spend: &mut Vec<DailySpend>,
    range: SpendRange,
    day: jiff::civil::Date,
    value: &str,
    item: &Option<String>,
) -> Result<(), CostError> {
    if matches!(value, "NaN" | "+Inf" | "-Inf") || !range.contains(day) {
        return Ok(());
    }
    spend.push(DailySpend {
        day,
        amount: amount::parse_decimal(value)?,
        item: item.clone(),
    });
    Ok(())
}

/// `{model="gpt-4o"}` for a series with labels, `None` for a bare number.
fn labels(metric: &std::collections::BTreeMap<String, String>) -> Option<String> {
    let shown: Vec<String> = metric
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    (!shown.is_empty()).then(|| format!("{{{}}}", shown.join(",")))
}

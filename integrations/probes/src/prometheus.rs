//! Prometheus checks: an instant query (`GET /api/v1/query?query=…`), its worst sample
//! compared with the warning and critical thresholds.
//!
//! Response shape, from the Prometheus HTTP API documentation:
//! `{"status":"success","data":{"resultType":"vector","result":[{"metric":{…},"value":[ts,"1.5"]}]}}`,
//! `resultType` `scalar` carries `result: [ts, "1.5"]`; errors are
//! `{"status":"error","errorType":"bad_data","error":"…"}` (with HTTP 400, 422 or 503).

use std::time::Instant;

use opsbot_commands::{
    catalog::{Comparison, PrometheusCheck},
    context::HealthLevel,
};
use serde_json::Value;

use crate::{body, failure, format};

/// One sample of an instant query result.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Labels as `{job="x", instance="y"}`; empty for a scalar.
    pub labels: String,
    pub value: f64,
}

/// Runs one Prometheus check: its level and the reason.
pub(crate) async fn probe(
    client: &reqwest::Client,
    check: &PrometheusCheck,
) -> (HealthLevel, String) {
    let timeout = check.timeout.as_duration();
    let url = format!("{}/api/v1/query", check.url.trim_end_matches('/'));
    let started = Instant::now();
    let request = client
        .get(&url)
        .query(&[("query", check.query.as_str())])
        .timeout(timeout);
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            return (
                HealthLevel::Critical,
                format!("Prometheus: {}", failure::describe(&error, timeout)),
            );
        }
    };
    let status = response.status().as_u16();
    let body = match body::read_capped(response).await {
        Ok(body) => body,
        Err(error) => {
            return (
                HealthLevel::Critical,
                format!("Prometheus: {}", failure::describe(&error, timeout)),
            );
        }
    };
    let took = started.elapsed();
    let samples = match parse(status, &body) {
        Ok(samples) => samples,
        Err(reason) => return (HealthLevel::Critical, format!("Prometheus: {reason}")),
    };
    let (level, detail) = evaluate(check, &samples);
    (level, format!("{detail} ({})", format::millis(took)))
}

/// The samples of a query response, or why there are none to judge.
fn parse(status: u16, body: &[u8]) -> Result<Vec<Sample>, String> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| format!("HTTP {status}, not a Prometheus API response"))?;
    match json.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some("error") => {
            let kind = json
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let message = json
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("(no message)");
            return Err(format!("query failed ({kind}): {message}"));
        }
        _ => return Err(format!("HTTP {status}, not a Prometheus API response")),
    }
    let data = json.get("data").ok_or("the response has no `data`")?;
    let result = data.get("result").unwrap_or(&Value::Null);
    match data.get("resultType").and_then(Value::as_str) {
        Some("vector") => Ok(result
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|series| sample(series.get("metric"), series.get("value")?))
            .collect()),
        Some("matrix") => Ok(result
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|series| {
                let last = series.get("values")?.as_array()?.last()?;
                sample(series.get("metric"), last)
            })
            .collect()),
        Some("scalar") => Ok(sample(None, result).into_iter().collect()),
        Some(other) => Err(format!("the query returns a {other}, not a number")),
        None => Err("the response has no `resultType`".into()),
    }
}

/// `[ts, "1.5"]` with its labels.
fn sample(metric: Option<&Value>, pair: &Value) -> Option<Sample> {
    let value = pair.get(1)?.as_str()?.parse::<f64>().ok()?;
    let labels = metric
        .and_then(Value::as_object)
        .map(|labels| {
            let parts: Vec<String> = labels
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or(v.to_string(), |s| format!("\"{s}\""))
                    )
                })
                .collect();
            if parts.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", parts.join(", "))
            }
        })
        .unwrap_or_default();
    Some(Sample { labels, value })
}

/// Judges the worst sample (the largest when larger is worse, the smallest otherwise):
/// at or beyond `critical` is critical, at or beyond `warn` a warning. No samples (or
/// only `NaN`) is a warning: the metric is missing, which needs a look but is not an
/// outage by itself.
pub fn evaluate(check: &PrometheusCheck, samples: &[Sample]) -> (HealthLevel, String) {
    let unit = check.unit.as_deref();
    let numbers: Vec<&Sample> = samples.iter().filter(|s| !s.value.is_nan()).collect();
    let worst = match check.comparison {
        Comparison::Above => numbers.iter().max_by(|a, b| a.value.total_cmp(&b.value)),
        Comparison::Below => numbers.iter().min_by(|a, b| a.value.total_cmp(&b.value)),
    };
    let Some(worst) = worst else {
        let why = if samples.is_empty() {
            "no data: the query returned no series"
        } else {
            "no data: the query returned only NaN"
        };
        return (HealthLevel::Warning, why.into());
    };
    let (sign, beyond): (&str, fn(f64, f64) -> bool) = match check.comparison {
        Comparison::Above => ("≥", |value, limit| value >= limit),
        Comparison::Below => ("≤", |value, limit| value <= limit),
    };
    let value = format::with_unit(worst.value, unit);
    let warn = format::with_unit(check.warn, unit);
    let critical = format::with_unit(check.critical, unit);
    let (level, mut detail) = if beyond(worst.value, check.critical) {
        (
            HealthLevel::Critical,
            format!("{value} {sign} {critical} (critical)"),
        )
    } else if beyond(worst.value, check.warn) {
        (
            HealthLevel::Warning,
            format!("{value} {sign} {warn} (warn)"),
        )
    } else {
        (
            HealthLevel::Ok,
            format!("{value} (warn {sign} {warn}, critical {sign} {critical})"),
        )
    };
    if numbers.len() > 1 {
        detail.push_str(&format!(", worst of {} series", numbers.len()));
        if !worst.labels.is_empty() {
            detail.push_str(&format!(" {}", worst.labels));
        }
    }
    (level, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsbot_commands::HumanDuration;

    fn check(
        comparison: Comparison,
        warn: f64,
        critical: f64,
        unit: Option<&str>,
    ) -> PrometheusCheck {
        PrometheusCheck {
            name: "latency".into(),
            url: "http://prometheus".into(),
            query: "q".into(),
            warn,
            critical,
            comparison,
            unit: unit.map(Into::into),
            timeout: HumanDuration::from_secs(5),
        }
    }

    fn samples(values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Sample {
                labels: format!("{{instance=\"{i}\"}}"),
                value: *v,
            })
            .collect()
    }

    #[test]
    fn above_thresholds() {
        let c = check(Comparison::Above, 100.0, 200.0, Some("ms"));
        assert_eq!(evaluate(&c, &samples(&[42.0])).0, HealthLevel::Ok);
        assert_eq!(evaluate(&c, &samples(&[100.0])).0, HealthLevel::Warning);
        let (level, detail) = evaluate(&c, &samples(&[12.0, 250.0, 30.0]));
        assert_eq!(level, HealthLevel::Critical);
        assert_eq!(
            detail,
            "250 ms ≥ 200 ms (critical), worst of 3 series {instance=\"1\"}"
        );
    }

    #[test]
    fn below_thresholds_judge_the_smallest() {
        let c = check(Comparison::Below, 10_000.0, 5_000.0, Some("/min"));
        assert_eq!(evaluate(&c, &samples(&[12_000.0])).0, HealthLevel::Ok);
        assert_eq!(evaluate(&c, &samples(&[9_000.0])).0, HealthLevel::Warning);
        let (level, detail) = evaluate(&c, &samples(&[12_000.0, 4_000.0]));
        assert_eq!(level, HealthLevel::Critical);
        assert!(
            detail.starts_with("4000/min ≤ 5000/min (critical)"),
            "{detail}"
        );
        let up = check(Comparison::Below, 0.5, 0.5, None);
        assert_eq!(evaluate(&up, &samples(&[1.0])).0, HealthLevel::Ok);
        assert_eq!(evaluate(&up, &samples(&[0.0])).0, HealthLevel::Critical);
    }

    #[test]
    fn no_data_is_a_warning() {
        let c = check(Comparison::Above, 1.0, 2.0, None);
        let (level, detail) = evaluate(&c, &[]);
        assert_eq!(level, HealthLevel::Warning);
        assert!(detail.contains("no data"));
        assert_eq!(evaluate(&c, &samples(&[f64::NAN])).0, HealthLevel::Warning);
    }

    #[test]
    fn parses_documented_shapes() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1.7e9,"1.5"]}]}}"#;
        assert_eq!(
            parse(200, vector).unwrap(),
            vec![Sample {
                labels: "{job=\"a\"}".into(),
                value: 1.5
            }]
        );
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1.7e9,"2"]}}"#;
        assert_eq!(parse(200, scalar).unwrap()[0].value, 2.0);
        let error = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#;
        assert_eq!(
            parse(400, error).unwrap_err(),
            "query failed (bad_data): parse error at char 4"
        );
        assert!(
            parse(502, b"<html>bad gateway</html>")
                .unwrap_err()
                .contains("HTTP 502")
        );
    }
}

//! HTTP checks: `GET url`, then the expected status, JSON fields and body substring, in
//! that order; the first unmet expectation is the reason the check is critical.

use std::time::Instant;

use opsbot_commands::{catalog::HttpCheck, context::HealthLevel};

use crate::{body, failure, format, json_path};

/// Runs one HTTP check: its level and the reason.
pub(crate) async fn probe(client: &reqwest::Client, check: &HttpCheck) -> (HealthLevel, String) {
    let timeout = check.timeout.as_duration();
    let started = Instant::now();
    let response = match client.get(&check.url).timeout(timeout).send().await {
        Ok(response) => response,
        Err(error) => return (HealthLevel::Critical, failure::describe(&error, timeout)),
    };
    let status = response.status().as_u16();
    let body = match body::read_capped(response).await {
        Ok(body) => body,
        Err(error) => return (HealthLevel::Critical, failure::describe(&error, timeout)),
    };
    let took = format::millis(started.elapsed());
    match judge(check, status, &body) {
        Ok(()) => (HealthLevel::Ok, format!("{status} in {took}")),
        Err(reason) => (HealthLevel::Critical, format!("{reason} ({took})")),
    }
}

/// Whether a response meets the check's expectations.
fn judge(check: &HttpCheck, status: u16, body: &[u8]) -> Result<(), String> {
    if status != check.expect_status {
        return Err(format!("HTTP {status}, expected {}", check.expect_status));
    }
    if !check.expect_json.is_empty() {
        let json: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("HTTP {status}, but the body is not JSON ({e})"))?;
        for expectation in &check.expect_json {
            json_path::check_expectation(&json, expectation)?;
        }
    }
    if let Some(wanted) = &check.expect_body {
        let text = String::from_utf8_lossy(body);
        if !text.contains(wanted.as_str()) {
            return Err(format!("HTTP {status}, but the body lacks \"{wanted}\""));
        }
    }
    Ok(())
}

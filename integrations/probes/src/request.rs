//! One HTTP request of a runbook step (an admin API such as `POST /api/admin/set-mode`):
//! send it with its headers and JSON body, then compare the status and JSON fields with
//! what the step expects. Like a probe it has a deadline and answers in plain words; it
//! never panics on what a server sends.

use std::time::{Duration, Instant};

use opsbot_commands::catalog::JsonExpectation;

use crate::{body, failure, format, json_path};

/// A request to send.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    pub url: String,
    /// Name and value; values may be secrets (they are sent, never echoed here).
    pub headers: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub timeout: Duration,
}

/// What the step expects of the answer.
#[derive(Clone, Debug, Default)]
pub struct Expectation {
    pub status: u16,
    pub json: Vec<JsonExpectation>,
}

/// Sends HTTP requests for runbook steps, over one connection pool.
#[derive(Clone, Debug)]
pub struct HttpCaller {
    client: reqwest::Client,
}

impl HttpCaller {
    pub fn new() -> Result<Self, crate::ProberError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("opsbot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::ProberError(e.to_string()))?;
        Ok(Self { client })
    }

    /// Sends `request` and judges the answer: `Ok` with `HTTP 200 in 12 ms`, or `Err`
    /// saying what was wrong (`HTTP 500, expected 200`, `connection refused`).
    pub async fn call(&self, request: &Request, expect: &Expectation) -> Result<String, String> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", request.method))?;
        let mut builder = self
            .client
            .request(method, &request.url)
            .timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.to_string());
        }
        let started = Instant::now();
        let send = async {
            let response = builder
                .send()
                .await
                .map_err(|e| failure::describe(&e, request.timeout))?;
            let status = response.status().as_u16();
            let body = body::read_capped(response)
                .await
                .map_err(|e| failure::describe(&e, request.timeout))?;
            Ok::<_, String>((status, body))
        };
        let (status, body) =
            match tokio::time::timeout(request.timeout + crate::SAFETY_MARGIN, send).await {
                Ok(answer) => answer?,
                Err(_) => return Err(failure::timed_out(request.timeout)),
            };
        let took = format::millis(started.elapsed());
        judge(expect, status, &body)
            .map(|()| format!("HTTP {status} in {took}"))
            .map_err(|reason| format!("{reason} ({took})"))
    }
}

fn judge(expect: &Expectation, status: u16, body: &[u8]) -> Result<(), String> {
    if status != expect.status {
        return Err(format!("HTTP {status}, expected {}", expect.status));
    }
    if !expect.json.is_empty() {
        let json: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("HTTP {status}, but the body is not JSON ({e})"))?;
        for expectation in &expect.json {
            json_path::check_expectation(&json, expectation)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_fields_are_judged() {
        let expect = Expectation {
            status: 200,
            json: vec![JsonExpectation {
                path: "mode".into(),
                equals: Some("offline".into()),
                contains: None,
            }],
        };
        assert!(judge(&expect, 200, br#"{"mode":"offline"}"#).is_ok());
        assert_eq!(
            judge(&expect, 500, b"").unwrap_err(),
            "HTTP 500, expected 200"
        );
        assert!(judge(&expect, 200, b"not json").is_err());
        assert!(judge(&expect, 200, br#"{"mode":"online"}"#).is_err());
    }
}

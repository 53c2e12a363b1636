//! The HTTP client every source shares: base URL, timeout, credentials, and the mapping of
//! statuses to [`CostError`] (429 and 5xx retryable, with `Retry-After`).

use std::{fmt, time::Duration};

use reqwest::{StatusCode, header::RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::CostError;

/// Pagination stops with [`CostError::TooManyPages`] after this many pages.
pub(crate) const MAX_PAGES: u32 = 50;

/// How a source authenticates. `Debug` never shows the value.
#[derive(Clone)]
pub enum Credential {
    None,
    /// `Authorization: Bearer …` (OpenAI admin keys, Prometheus and OpenCost proxies).
    Bearer(String),
    /// `x-api-key: …` (Anthropic admin keys).
    ApiKey(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::None => "None",
            Credential::Bearer(_) => "Bearer([redacted])",
            Credential::ApiKey(_) => "ApiKey([redacted])",
        })
    }
}

/// Where a source is and how to reach it.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `https://api.openai.com`, `http://opencost.opencost:9003`, … (no trailing path).
    pub base_url: String,
    pub timeout: Duration,
    pub credential: Credential,
}

impl ClientOptions {
    pub fn new(base_url: impl Into<String>, timeout: Duration, credential: Credential) -> Self {
        Self {
            base_url: base_url.into(),
            timeout,
            credential,
        }
    }
}

/// One source's connection: a client, its base URL and credentials.
#[derive(Clone, Debug)]
pub(crate) struct Api {
    client: reqwest::Client,
    base_url: String,
    credential: Credential,
    extra_headers: Vec<(&'static str, &'static str)>,
}

impl Api {
    pub(crate) fn new(options: ClientOptions) -> Result<Self, CostError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("opsbot-cost/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| CostError::Unreachable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            base_url: options.base_url.trim_end_matches('/').to_string(),
            credential: options.credential,
            extra_headers: Vec::new(),
        })
    }

    /// A header sent with every request (`anthropic-version`).
    pub(crate) fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.extra_headers.push((name, value));
        self
    }

    /// `GET base_url + path ? query`, parsed as `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, CostError> {
        let url = format!("{}{path}", self.base_url);
        let mut request = self.client.get(&url).query(query);
        for (name, value) in &self.extra_headers {
            request = request.header(*name, *value);
        }
        request = match &self.credential {
            Credential::None => request,
            Credential::Bearer(token) => request.bearer_auth(token),
            Credential::ApiKey(key) => request.header("x-api-key", key),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let body = response.text().await.unwrap_or_default();
            return Err(status_error(status, retry_after, &body));
        }
        let bytes = response.bytes().await.map_err(unreachable)?;
        serde_json::from_slice(&bytes).map_err(|e| CostError::Malformed(e.to_string()))
    }
}

/// A transport error, without the URL (the source's name says where).
fn unreachable(error: reqwest::Error) -> CostError {
    if error.is_timeout() {
        CostError::Unreachable("timed out".into())
    } else if error.is_connect() {
        CostError::Unreachable("connection failed".into())
    } else {
        CostError::Unreachable(error.without_url().to_string())
    }
}

fn status_error(status: StatusCode, retry_after: Option<Duration>, body: &str) -> CostError {
    match status.as_u16() {
        429 => CostError::RateLimited { retry_after },
        401 | 403 => CostError::Unauthorized {
            status: status.as_u16(),
        },
        code @ 500..=599 => CostError::Server {
            status: code,
            retry_after,
        },
        code => CostError::Status {
            status: code,
            body: body.chars().take(200).collect(),
        },
    }
}

/// `Retry-After` as seconds (the HTTP-date form is read as "unknown").
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print() {
        let text = format!(
            "{:?}",
            ClientOptions::new(
                "http://x",
                Duration::from_secs(1),
                Credential::Bearer("sk-admin-secret".into())
            )
        );
        assert!(!text.contains("sk-admin-secret"), "{text}");
        assert!(text.contains("[redacted]"));
        assert!(!format!("{:?}", Credential::ApiKey("sk-ant-admin".into())).contains("sk-ant"));
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let wait = Some(Duration::from_secs(30));
        assert_eq!(
            status_error(StatusCode::TOO_MANY_REQUESTS, wait, ""),
            CostError::RateLimited { retry_after: wait }
        );
        assert!(status_error(StatusCode::BAD_GATEWAY, None, "").is_retryable());
        assert!(!status_error(StatusCode::UNAUTHORIZED, None, "").is_retryable());
        assert_eq!(
            status_error(StatusCode::TOO_MANY_REQUESTS, wait, "").to_string(),
            "rate limited (429), retry after 30s"
        );
    }
}

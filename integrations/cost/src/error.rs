//! Why a source could not answer. Rate limits and server errors are retryable and carry
//! the server's `Retry-After`; everything else needs a person (bad key, bad shape).

use std::time::Duration;

/// A source's failure. Messages never contain credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// 429: slow down; try again after `retry_after` when the server said.
    #[error("rate limited (429){}", retry_hint(*retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx: the service is having trouble.
    #[error("server error {status}{}", retry_hint(*retry_after))]
    Server {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// 401/403: the credentials are missing, wrong or lack the scope.
    #[error("not authorized ({status}): check the API key")]
    Unauthorized { status: u16 },
    /// Any other unexpected status, with the start of the body.
    #[error("unexpected status {status}: {body}")]
    Status { status: u16, body: String },
    /// Connection refused, DNS, TLS, timeout.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The answer does not have the documented shape.
    #[error("unexpected response: {0}")]
    Malformed(String),
    /// Pagination did not end within the page cap.
    #[error("more than {0} pages; narrow the period")]
    TooManyPages(u32),
}

impl CostError {
    /// Whether trying again later may succeed (rate limits, server errors, network).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CostError::RateLimited { .. } | CostError::Server { .. } | CostError::Unreachable(_)
        )
    }

    /// What the server asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CostError::RateLimited { retry_after } | CostError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(", retry after {}s", wait.as_secs()),
        None => String::new(),
    }
}

//! # opsbot-probes
//!
//! The [`Prober`] opsbot runs health checks with: `GET` a health endpoint and compare its
//! status, JSON fields and body with what the runbook expects, or run an instant
//! Prometheus query and compare the value with warning and critical thresholds.
//!
//! Every probe has a deadline (the check's `timeout`), enforced twice: by the HTTP client
//! and, as a safety net, around the whole probe. A probe never hangs and never fails; it
//! always answers a [`CheckOutcome`], with timeouts and refused connections said plainly.

mod body;
mod failure;
mod format;
mod http;
mod json_path;
mod prometheus;
mod request;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    catalog::HealthCheck,
    context::{CheckOutcome, HealthLevel, Prober},
};

pub use json_path::{check_expectation, select};
pub use prometheus::{Sample, evaluate};
pub use request::{Expectation, HttpCaller, Request};

/// Extra time the safety net allows beyond a check's own timeout.
const SAFETY_MARGIN: Duration = Duration::from_millis(500);

/// The HTTP client could not be built (for example, no TLS roots).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the probe HTTP client: {0}")]
pub struct ProberError(pub(crate) String);

/// Runs HTTP and Prometheus health checks with one shared connection pool.
#[derive(Clone, Debug)]
pub struct HttpProber {
    client: reqwest::Client,
}

impl HttpProber {
    pub fn new() -> Result<Self, ProberError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("opsbot-probes/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProberError(e.to_string()))?;
        Ok(Self { client })
    }

    /// A prober over a client configured elsewhere (proxies, extra roots).
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Prober for HttpProber {
    async fn probe(&self, _service: &Service, check: &HealthCheck) -> CheckOutcome {
        let timeout = match check {
            HealthCheck::Http(http) => http.timeout.as_duration(),
            HealthCheck::Prometheus(prom) => prom.timeout.as_duration(),
        };
        let started = Instant::now();
        let probe = async {
            match check {
                HealthCheck::Http(http) => http::probe(&self.client, http).await,
                HealthCheck::Prometheus(prom) => prometheus::probe(&self.client, prom).await,
            }
        };
        let (level, detail) = match tokio::time::timeout(timeout + SAFETY_MARGIN, probe).await {
            Ok(verdict) => verdict,
            Err(_) => (HealthLevel::Critical, failure::timed_out(timeout)),
        };
        CheckOutcome {
            name: check.name().to_string(),
            level,
            detail,
            latency: started.elapsed(),
        }
    }
}

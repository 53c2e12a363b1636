//! [`HealthyProber`]: a prober for which every health check passes at once, for tests and
//! benches that exercise opsbot rather than the services' endpoints; [`UnhealthyProber`]:
//! the same, except for the services named in it, whose every check fails.

use std::time::Duration;

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    catalog::HealthCheck,
    context::{CheckOutcome, HealthLevel, Prober},
};

/// Every health check passes (`200 in 1 ms`).
pub struct HealthyProber;

#[async_trait]
impl Prober for HealthyProber {
    async fn probe(&self, _: &Service, check: &HealthCheck) -> CheckOutcome {
        CheckOutcome {
            name: check.name().to_string(),
            level: HealthLevel::Ok,
            detail: "200 in 1 ms".into(),
            latency: Duration::from_millis(1),
        }
    }
}

/// Every health check of the services named in it fails (`critical`: `503 in 1 ms`);
/// those of every other service pass, as with [`HealthyProber`].
pub struct UnhealthyProber(pub Vec<String>);

#[async_trait]
impl Prober for UnhealthyProber {
    async fn probe(&self, service: &Service, check: &HealthCheck) -> CheckOutcome {
        if !self.0.iter().any(|name| name == service.name.as_str()) {
            return HealthyProber.probe(service, check).await;
        }
        CheckOutcome {
            name: check.name().to_string(),
            level: HealthLevel::Critical,
            detail: "503 in 1 ms".into(),
            latency: Duration::from_millis(1),
        }
    }
}

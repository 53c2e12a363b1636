//! [`HealthyProber`]: a prober for which every health check passes at once, for tests and
//! benches that exercise opsbot rather than the services' endpoints.

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

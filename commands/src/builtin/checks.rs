//! Running health checks: every check of every service asked about at once, each bounded
//! by its own timeout plus a safety margin, so an answer about fifty services arrives
//! within the slowest check's timeout. Shared by `health` and the health gate after
//! `restart` and `rollback`.

use std::time::Duration;

use futures_util::future::join_all;

use crate::{
    Service, Status,
    catalog::HealthCheck,
    context::{CheckOutcome, HealthLevel, Prober},
};

/// How much longer than its own timeout a probe may take before it is given up on. The
/// prober enforces the timeout itself; this only guards against a prober that does not.
pub(super) const SAFETY_MARGIN: Duration = Duration::from_secs(2);

/// The outcomes of one service's checks, in catalog order.
pub(super) struct ServiceHealth<'s> {
    pub service: &'s Service,
    pub outcomes: Vec<CheckOutcome>,
}

impl ServiceHealth<'_> {
    /// The worst level, or `None` when the service has no checks.
    pub fn level(&self) -> Option<HealthLevel> {
        self.outcomes.iter().map(|o| o.level).max()
    }

    /// The first of the worst outcomes: the reason a one-line summary gives.
    pub fn worst(&self) -> Option<&CheckOutcome> {
        let level = self.level()?;
        self.outcomes.iter().find(|o| o.level == level)
    }

    /// Outcomes that are not OK, worst first.
    pub fn failing(&self) -> Vec<&CheckOutcome> {
        let mut failing: Vec<&CheckOutcome> = self
            .outcomes
            .iter()
            .filter(|o| o.level != HealthLevel::Ok)
            .collect();
        failing.sort_by_key(|o| std::cmp::Reverse(o.level));
        failing
    }

    pub fn count(&self, level: HealthLevel) -> usize {
        self.outcomes.iter().filter(|o| o.level == level).count()
    }
}

fn check_timeout(check: &HealthCheck) -> Duration {
    match check {
        HealthCheck::Http(http) => http.timeout.as_duration(),
        HealthCheck::Prometheus(prom) => prom.timeout.as_duration(),
    }
}

/// Runs one check with the safety net around it.
async fn run_check(prober: &dyn Prober, service: &Service, check: &HealthCheck) -> CheckOutcome {
    let limit = check_timeout(check) + SAFETY_MARGIN;
    match tokio::time::timeout(limit, prober.probe(service, check)).await {
        Ok(outcome) => outcome,
        Err(_) => CheckOutcome {
            name: check.name().to_string(),
            level: HealthLevel::Critical,
            detail: format!(
                "timed out after {}",
                humantime::format_duration(check_timeout(check))
            ),
            latency: limit,
        },
    }
}

/// Runs all checks of one service concurrently.
pub(super) async fn check_service<'s>(
    prober: &dyn Prober,
    service: &'s Service,
) -> ServiceHealth<'s> {
    let outcomes = join_all(
        service
            .health
            .iter()
            .map(|check| run_check(prober, service, check)),
    )
    .await;
    ServiceHealth { service, outcomes }
}

/// Runs all checks of all these services concurrently; results in the given order.
pub(super) async fn check_services<'s>(
    prober: &dyn Prober,
    services: &[&'s Service],
) -> Vec<ServiceHealth<'s>> {
    join_all(
        services
            .iter()
            .map(|service| check_service(prober, service)),
    )
    .await
}

/// `❌ models installed — connection refused`.
pub(super) fn outcome_line(outcome: &CheckOutcome) -> String {
    format!(
        "{} {} — {}",
        outcome.level.emoji(),
        outcome.name,
        outcome.detail
    )
}

/// The reply colour of a health level.
pub(super) fn status_of(level: HealthLevel) -> Status {
    match level {
        HealthLevel::Ok => Status::Success,
        HealthLevel::Warning => Status::Warning,
        HealthLevel::Critical => Status::Danger,
    }
}

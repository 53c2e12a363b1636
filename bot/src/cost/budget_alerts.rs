//! Budget alerts: on an interval, every service with a budget and cost sources is
//! checked; spend past the warning or critical percentage of a period's budget raises an
//! incident through [`Incidents::ingest`], with the forecast in the alert's summary.
//!
//! Periods: the daily budget against today (UTC), the weekly budget against the last 7
//! days, the monthly budget against the calendar month. Each threshold fires once per
//! period: the alert's fingerprint is `cost-budget:SERVICE:PERIOD:ID:LEVEL` (ID is the
//! date, the ISO week or the month), and a fingerprint already in the store is never
//! sent again, so a restart does not repeat it. A period's warning and critical share
//! one incident (the group key leaves the level out): critical escalates it.
//!
//! When every cost source of a service failed its spend is unknown: that is neither under
//! nor over budget, so nothing is raised (or resolved) for it; the check logs a warning
//! naming the sources and tries again at the next interval.
//!
//! With several replicas only the owner of the [`BUDGET_CHECKS_ROLE`] leadership role
//! runs the checks (the others would only repeat the same API calls).

use std::collections::BTreeMap;

use jiff::Timestamp;
use opsbot_alerts::{Alert, AlertBatch, AlertStatus, SourceKind};
use opsbot_commands::{
    Service,
    builtin::cost_period::{
        BudgetLevel, CostPeriod, Window, budget_for, burn_percent, forecast, level, money, percent,
        utc_day,
    },
    catalog::{Budget, Money},
    context::{CostGrouping, CostReader, SpendQuery, SpendReport},
};

use crate::{
    incidents::Incidents,
    store::{Store, StoreError},
};

/// The leadership role of the replica that runs the scheduled budget checks.
pub const BUDGET_CHECKS_ROLE: &str = "cost-budget-checks";

/// One threshold a service's spend has crossed in one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crossing {
    pub service: String,
    pub period: CostPeriod,
    /// `2026-11-21`, `2026-W47`, `2026-11`.
    pub period_id: String,
    pub level: BudgetLevel,
    pub spent: Money,
    pub budget: Money,
    pub forecast: Option<Money>,
    /// Sources that failed (their spend is missing from `spent`).
    pub failed_sources: Vec<String>,
}

impl Crossing {
    pub fn fingerprint(&self) -> String {
        format!(
            "cost-budget:{}:{}:{}:{}",
            self.service,
            self.period.as_str(),
            self.period_id,
            self.level.as_str()
        )
    }

    fn group_key(&self) -> String {
        format!(
            "cost-budget:{}:{}:{}",
            self.service,
            self.period.as_str(),
            self.period_id
        )
    }
}

/// The periods a budget names, with their budget-period names.
fn budgeted_periods(budget: &Budget) -> Vec<(CostPeriod, &'static str)> {
    let mut periods = Vec::new();
    if budget.daily.is_some() {
        periods.push((CostPeriod::Today, "daily"));
    }
    if budget.weekly.is_some() {
        periods.push((CostPeriod::Days7, "weekly"));
    }
    if budget.monthly.is_some() {
        periods.push((CostPeriod::Month, "monthly"));
    }
    periods
}

fn period_id(period: CostPeriod, now: Timestamp) -> String {
    let today = utc_day(now);
    match period {
        CostPeriod::Today => today.to_string(),
        CostPeriod::Days7 => {
            let week = today.iso_week_date();
            format!("{}-W{:02}", week.year(), week.week())
        }
        CostPeriod::Days30 | CostPeriod::Month => today.strftime("%Y-%m").to_string(),
    }
}

/// Every cost source of a service failed: its spend is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSpend {
    /// Each source and why it failed.
    pub failed: Vec<(String, String)>,
}

/// The thresholds `service` has crossed at `now`, from `report` (which must cover every
/// budgeted period's window); [`UnknownSpend`] when no source answered.
pub fn crossings(
    service: &Service,
    report: &SpendReport,
    now: Timestamp,
) -> Result<Vec<Crossing>, UnknownSpend> {
    let Some(budget) = &service.budget else {
        return Ok(Vec::new());
    };
    if !report.sources.is_empty() && report.sources.iter().all(|s| s.result.is_err()) {
        return Err(UnknownSpend {
            failed: report
                .sources
                .iter()
                .filter_map(|s| Some((s.source.clone(), s.result.as_ref().err()?.clone())))
                .collect(),
        });
    }
    let today = utc_day(now);
    let failed: Vec<String> = report
        .sources
        .iter()
        .filter(|s| s.result.is_err())
        .map(|s| s.source.clone())
        .collect();
    let mut out = Vec::new();
    for (period, _) in budgeted_periods(budget) {
        let window = period.window(today);
        let Some(period_budget) = budget_for(budget, period, &window) else {
            continue;
        };
        let spent: Money = report
            .sources
            .iter()
            .filter_map(|s| s.result.as_ref().ok())
            .flatten()
            .filter(|row| window.contains(row.day))
            .map(|row| row.amount)
            .sum();
        let Some(burn) = burn_percent(spent, period_budget.amount) else {
            continue;
        };
        let reached = level(burn, budget);
        for threshold in [BudgetLevel::Warning, BudgetLevel::Critical] {
            if reached >= threshold {
                out.push(Crossing {
                    service: service.name.to_string(),
                    period,
                    period_id: period_id(period, now),
                    level: threshold,
                    spent,
                    budget: period_budget.amount,
                    forecast: forecast(spent, &window, now),
                    failed_sources: failed.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The days every budgeted period of `budget` covers at `now`.
fn query_for(budget: &Budget, now: Timestamp) -> Option<SpendQuery> {
    let today = utc_day(now);
    let windows: Vec<Window> = budgeted_periods(budget)
        .into_iter()
        .map(|(period, _)| period.window(today))
        .collect();
    Some(SpendQuery {
        from: windows.iter().map(|w| w.from).min()?,
        to: windows.iter().map(|w| w.to).max()?,
        grouping: CostGrouping::LineItem,
    })
}

/// Whether an alert with this fingerprint was ever raised (it is in the store for good).
async fn already_raised(store: &Store, fingerprint: &str) -> Result<bool, StoreError> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM incident_alerts WHERE fingerprint = $1")
            .bind(fingerprint)
            .fetch_one(store.pool())
            .await?;
    Ok(count > 0)
}

fn alert(crossing: &Crossing, service: &Service, now: Timestamp) -> Alert {
    let currency = service
        .budget
        .as_ref()
        .map_or("USD", |b| b.currency.as_str());
    let period_text = match crossing.period {
        CostPeriod::Today => format!("daily budget on {}", crossing.period_id),
        CostPeriod::Days7 => "weekly budget over the last 7 days".to_string(),
        CostPeriod::Days30 | CostPeriod::Month => {
            format!("monthly budget in {}", crossing.period_id)
        }
    };
    let burn = burn_percent(crossing.spent, crossing.budget).unwrap_or_default();
    let mut summary = format!(
        "{} spent {} of its {} {period_text} ({})",
        crossing.service,
        money(crossing.spent, currency),
        money(crossing.budget, currency),
        percent(burn),
    );
    if let Some(forecast) = crossing.forecast {
        summary.push_str(&format!(
            "; forecast {} by the end of the period (linear run rate)",
            money(forecast, currency)
        ));
    }
    let mut description = format!(
        "Spend passed the {} threshold. Run `cost {}` for the breakdown.",
        crossing.level.as_str(),
        crossing.service
    );
    if !crossing.failed_sources.is_empty() {
        description.push_str(&format!(
            " Sources that failed (not counted): {}.",
            crossing.failed_sources.join(", ")
        ));
    }
    let name = match crossing.level {
        BudgetLevel::Critical => "CostBudgetCritical",
        _ => "CostBudgetWarning",
    };
    let labels = BTreeMap::from([
        ("alertname".to_string(), name.to_string()),
        ("service".to_string(), crossing.service.clone()),
        ("severity".to_string(), crossing.level.as_str().to_string()),
        ("period".to_string(), crossing.period.as_str().to_string()),
    ]);
    let annotations = BTreeMap::from([
        ("summary".to_string(), summary),
        ("description".to_string(), description),
    ]);
    Alert {
        fingerprint: crossing.fingerprint(),
        status: AlertStatus::Firing,
        labels,
        annotations,
        starts_at: Some(now),
        ends_at: None,
        generator_url: None,
    }
}

/// Checks every budgeted service once; returns the thresholds raised as incidents.
pub async fn check(
    reader: &dyn CostReader,
    incidents: &Incidents,
    now: Timestamp,
) -> Result<Vec<Crossing>, StoreError> {
    let mut raised = Vec::new();
    for service in incidents.catalog().services() {
        let (Some(budget), false) = (&service.budget, service.cost.is_empty()) else {
            continue;
        };
        let Some(query) = query_for(budget, now) else {
            continue;
        };
        let report = reader.spend(service, &query).await;
        let crossed = match crossings(service, &report, now) {
            Ok(crossed) => crossed,
            Err(unknown) => {
                let sources: Vec<String> = unknown
                    .failed
                    .iter()
                    .map(|(source, why)| format!("{source}: {why}"))
                    .collect();
                tracing::warn!(
                    service = %service.name,
                    sources = %sources.join("; "),
                    "spend unknown, every cost source failed; budget not checked"
                );
                continue;
            }
        };
        for crossing in crossed {
            if already_raised(incidents.store(), &crossing.fingerprint()).await? {
                continue;
            }
            let batch = AlertBatch {
                source: SourceKind::Generic,
                group_key: Some(crossing.group_key()),
                receiver: None,
                status: AlertStatus::Firing,
                group_labels: BTreeMap::new(),
                common_labels: BTreeMap::new(),
                common_annotations: BTreeMap::new(),
                external_url: None,
                alerts: vec![alert(&crossing, service, now)],
                truncated_alerts: 0,
            };
            incidents.ingest(&batch, now).await?;
            tracing::info!(
                service = %crossing.service,
                period = crossing.period.as_str(),
                level = crossing.level.as_str(),
                "budget threshold crossed; incident raised"
            );
            raised.push(crossing);
        }
    }
    Ok(raised)
}

#[cfg(test)]
mod tests {
    use opsbot_commands::{
        Service,
        catalog::{Budget, CostSource},
        context::{SourceSpend, SpendReport, SpendRow},
    };

    use super::*;

    fn service() -> Service {
        let mut service = Service::new("alice".parse().unwrap(), "prod".parse().unwrap());
        service.budget = Some(Budget {
            daily: Some(Money::from(10)),
            weekly: None,
            monthly: None,
            warn_percent: 80,
            critical_percent: 95,
            currency: "USD".into(),
        });
        service.cost = vec![CostSource::Openai {
            project_ids: vec![],
        }];
        service
    }

    fn failed(source: &str) -> SourceSpend {
        SourceSpend {
            source: source.into(),
            result: Err("unreachable".into()),
        }
    }

    #[test]
    fn unknown_spend_is_not_under_budget_and_partial_spend_still_counts() {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
        let all_failed = SpendReport {
            sources: vec![failed("openai"), failed("prometheus")],
            fetched_at: now,
        };
        assert_eq!(
            crossings(&service(), &all_failed, now),
            Err(UnknownSpend {
                failed: vec![
                    ("openai".into(), "unreachable".into()),
                    ("prometheus".into(), "unreachable".into())
                ]
            })
        );
        let partial = SpendReport {
            sources: vec![
                failed("openai"),
                SourceSpend {
                    source: "prometheus".into(),
                    result: Ok(vec![SpendRow {
                        day: utc_day(now),
                        amount: Money::from(9),
                        item: None,
                    }]),
                },
            ],
            fetched_at: now,
        };
        let crossed = crossings(&service(), &partial, now).unwrap();
        assert_eq!(crossed.len(), 1, "{crossed:?}");
        assert_eq!(crossed[0].level, BudgetLevel::Warning);
        assert_eq!(crossed[0].failed_sources, ["openai"]);
    }
}

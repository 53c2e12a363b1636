//! Tests of `cost` and its arithmetic, against a scripted [`CostReader`] with a fixed
//! clock.

use std::{str::FromStr, sync::Mutex};

use async_trait::async_trait;
use jiff::{
    Timestamp,
    civil::{Date, date},
};
use rust_decimal::Decimal;

use super::{
    cost_period::{self, BudgetLevel, CostPeriod, Window, budget_for, forecast, money},
    testing::{FakeProber, RecordingRuntime, run_with_costs, service},
};
use crate::{
    Catalog, Reply, Service, Status,
    catalog::{Budget, CostSource, Money},
    context::{CostGrouping, CostReader, SourceSpend, SpendQuery, SpendReport, SpendRow},
};

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A scripted answer: service, source, rows or why it failed.
type Answer = (&'static str, &'static str, Result<Vec<SpendRow>, String>);

/// Answers each source with the rows scripted for it (by source name), or its error.
struct ScriptedCosts {
    now: Timestamp,
    fetched_at: Timestamp,
    /// (service, source, rows or error)
    answers: Vec<Answer>,
    queries: Mutex<Vec<(String, SpendQuery)>>,
    charts: Mutex<Vec<(String, usize, Option<Money>)>>,
}

impl ScriptedCosts {
    fn new(now: &str) -> Self {
        Self {
            now: at(now),
            fetched_at: at(now),
            answers: vec![],
            queries: Mutex::new(vec![]),
            charts: Mutex::new(vec![]),
        }
    }

    fn answer(mut self, service: &'static str, source: &'static str, rows: Vec<SpendRow>) -> Self {
        self.answers.push((service, source, Ok(rows)));
        self
    }

    fn fail(mut self, service: &'static str, source: &'static str, why: &str) -> Self {
        self.answers.push((service, source, Err(why.into())));
        self
    }
}

#[async_trait]
impl CostReader for ScriptedCosts {
    async fn spend(&self, service: &Service, query: &SpendQuery) -> SpendReport {
        self.queries
            .lock()
            .unwrap()
            .push((service.name.to_string(), *query));
        SpendReport {
            sources: self
                .answers
                .iter()
                .filter(|(name, _, _)| *name == service.name.as_str())
                .map(|(_, source, result)| SourceSpend {
                    source: (*source).into(),
                    result: result.clone().map(|rows| {
                        rows.into_iter()
                            .filter(|r| query.from <= r.day && r.day < query.to)
                            .collect()
                    }),
                })
                .collect(),
            fetched_at: self.fetched_at,
        }
    }

    fn chart(
        &self,
        title: &str,
        days: &[(Date, Money)],
        budget_per_day: Option<Money>,
        _: &str,
    ) -> Option<Vec<u8>> {
        self.charts
            .lock()
            .unwrap()
            .push((title.into(), days.len(), budget_per_day));
        Some(b"\x89PNG".to_vec())
    }

    fn now(&self) -> Timestamp {
        self.now
    }
}

fn row(day: Date, amount: &str, item: &str) -> SpendRow {
    SpendRow {
        day,
        amount: dec(amount),
        item: Some(item.into()),
    }
}

fn budget(daily: Option<&str>, weekly: Option<&str>, monthly: Option<&str>) -> Budget {
    Budget {
        daily: daily.map(dec),
        weekly: weekly.map(dec),
        monthly: monthly.map(dec),
        warn_percent: 80,
        critical_percent: 95,
        currency: "USD".into(),
    }
}

fn budgeted(name: &str, daily: &str) -> Service {
    let mut service = service(name, "prod", &[]);
    service.budget = Some(budget(Some(daily), Some("50"), None));
    service.cost = vec![
        CostSource::Openai {
            project_ids: vec![],
        },
        CostSource::Prometheus {
            url: "http://prom".into(),
            query: "increase(openai_api_cost_usd[1d])".into(),
        },
    ];
    service
}

async fn cost(text: &str, catalog: &Catalog, costs: &ScriptedCosts) -> Reply {
    run_with_costs(
        text,
        catalog,
        &FakeProber::default(),
        &RecordingRuntime::default(),
        costs,
    )
    .await
    .expect("cost runs")
}

const NOON: &str = "2026-11-21T12:00:00Z";

#[tokio::test]
async fn one_service_shows_burn_forecast_items_previous_period_and_freshness() {
    let catalog = Catalog::new(vec![budgeted("alice-openai", "10")]).unwrap();
    let today = date(2026, 11, 21);
    let mut costs = ScriptedCosts::new(NOON).answer(
        "alice-openai",
        "openai",
        vec![
            row(today, "5.10", "gpt-4o, input"),
            row(today, "3.10", "gpt-4o, output"),
            row(date(2026, 11, 20), "10.00", "gpt-4o, input"),
            row(date(2026, 11, 16), "2.00", "gpt-4o, input"),
        ],
    );
    costs.fetched_at = at("2026-11-21T11:58:00Z");
    let reply = cost("cost alice-openai", &catalog, &costs).await;
    assert_eq!(reply.title, "alice-openai: $8.20 of $10.00 today (82%)");
    assert_eq!(reply.status, Status::Warning);
    let text = reply.to_plain_text();
    assert!(
        text.contains(
            "Forecast to the end of the period: $16.40 — over budget by $6.40 (linear run rate"
        ),
        "{text}"
    );
    assert!(text.contains("12.0 h of 24 h elapsed"), "{text}");
    assert!(
        text.contains("Previous period (2026-11-20): $10.00; forecast is +64% against it."),
        "{text}"
    );
    let top = text.find("Top line items:").expect("items listed");
    let input = text.find("• gpt-4o, input: $5.10").expect("input");
    let output = text.find("• gpt-4o, output: $3.10").expect("output");
    assert!(top < input && input < output, "largest first: {text}");
    assert!(text.contains("Source openai: $8.20"), "{text}");
    assert!(text.contains("Data from 11:58 UTC (2 min ago)."), "{text}");
    assert!(
        text.contains("Budget: $10.00 (daily budget); warning at 80%, critical at 95%"),
        "{text}"
    );
    // The reader was asked for the chart's 7 days (which cover the previous day).
    let queries = costs.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].1.from, date(2026, 11, 15));
    assert_eq!(queries[0].1.to, date(2026, 11, 22));
    assert_eq!(queries[0].1.grouping, CostGrouping::LineItem);
    // The chart: 7 days against the daily budget.
    let charts = costs.charts.lock().unwrap().clone();
    assert_eq!(charts.len(), 1);
    assert_eq!(charts[0].1, 7);
    assert_eq!(charts[0].2, Some(dec("10")));
    let image = reply.attachment.expect("chart attached");
    assert_eq!(image.bytes, b"\x89PNG");
    assert_eq!(
        image.title,
        "alice-openai: daily spend, 2026-11-15 – 2026-11-21"
    );
}

#[tokio::test]
async fn a_failed_source_is_named_and_the_others_still_count() {
    let catalog = Catalog::new(vec![budgeted("alice-openai", "10")]).unwrap();
    let costs = ScriptedCosts::new(NOON)
        .fail(
            "alice-openai",
            "openai",
            "rate limited (429), retry after 30s",
        )
        .answer(
            "alice-openai",
            "prometheus http://prom",
            vec![row(date(2026, 11, 21), "2.50", "{job=\"alice\"}")],
        );
    let reply = cost("cost alice-openai", &catalog, &costs).await;
    assert_eq!(reply.title, "alice-openai: $2.50 of $10.00 today (25%)");
    // Under budget, but incomplete: not green.
    assert_eq!(reply.status, Status::Warning);
    let text = reply.to_plain_text();
    assert!(
        text.contains(
            "❌ Source openai failed: rate limited (429), retry after 30s (left out of the totals)"
        ),
        "{text}"
    );
    assert!(
        text.contains("Source prometheus http://prom: $2.50"),
        "{text}"
    );
}

#[tokio::test]
async fn when_every_source_failed_the_spend_is_unknown_not_under_budget() {
    let catalog = Catalog::new(vec![
        budgeted("alice-openai", "10"),
        budgeted("assistant", "4"),
    ])
    .unwrap();
    let today = date(2026, 11, 21);
    let costs = ScriptedCosts::new(NOON)
        .fail("alice-openai", "openai", "unauthorized (401)")
        .fail(
            "alice-openai",
            "prometheus http://prom",
            "unreachable: connection failed",
        )
        .answer("assistant", "openai", vec![row(today, "1.00", "x")]);
    let reply = cost("cost alice-openai", &catalog, &costs).await;
    let text = reply.to_plain_text();
    assert_eq!(reply.status, Status::Warning, "{text}");
    assert_eq!(
        reply.title,
        "alice-openai: ❓ spend unknown today — every cost source failed"
    );
    assert!(!text.contains("$0.00"), "{text}");
    assert!(!text.contains("Forecast"), "{text}");
    assert!(
        text.contains("❌ Source openai failed: unauthorized (401)"),
        "{text}"
    );
    assert!(
        text.contains("❌ Source prometheus http://prom failed: unreachable: connection failed"),
        "{text}"
    );
    assert!(reply.attachment.is_none(), "no chart of zeros");

    let reply = cost("cost", &catalog, &costs).await;
    assert_eq!(
        reply.title,
        "Spend today of 2 budgeted services: 1 unknown, 1 under"
    );
    assert_eq!(reply.status, Status::Warning);
    assert_eq!(
        reply.lines[0],
        "✅ assistant: $1.00 of $4.00 (25%), forecast $2.00"
    );
    assert_eq!(
        reply.lines[1],
        "❓ alice-openai: spend unknown — failed: openai (unauthorized (401)), prometheus http://prom (unreachable: connection failed)"
    );
}

#[tokio::test]
async fn critical_spend_is_red_and_within_budget_is_green() {
    let catalog = Catalog::new(vec![budgeted("alice-openai", "10")]).unwrap();
    let today = date(2026, 11, 21);
    let costs = ScriptedCosts::new("2026-11-21T23:00:00Z").answer(
        "alice-openai",
        "openai",
        vec![row(today, "9.50", "x")],
    );
    let reply = cost("cost alice-openai", &catalog, &costs).await;
    assert_eq!(reply.status, Status::Danger, "95% is critical");
    let costs = ScriptedCosts::new("2026-11-21T23:00:00Z").answer(
        "alice-openai",
        "openai",
        vec![row(today, "1.00", "x")],
    );
    let reply = cost("cost alice-openai", &catalog, &costs).await;
    assert_eq!(reply.status, Status::Success);
}

#[tokio::test]
async fn without_a_service_every_budgeted_service_is_listed_most_burnt_first() {
    let mut unbudgeted = service("wrkhrs-rag", "prod", &[]);
    unbudgeted.cost = vec![CostSource::Openai {
        project_ids: vec![],
    }];
    let catalog = Catalog::new(vec![
        budgeted("alice-openai", "10"),
        budgeted("assistant", "4"),
        unbudgeted,
        service("mlflow", "prod", &[]),
    ])
    .unwrap();
    let today = date(2026, 11, 21);
    let costs = ScriptedCosts::new(NOON)
        .answer("alice-openai", "openai", vec![row(today, "2.00", "x")])
        .answer("assistant", "openai", vec![row(today, "3.90", "x")])
        .fail(
            "assistant",
            "prometheus http://prom",
            "unreachable: connection failed",
        )
        .answer("wrkhrs-rag", "openai", vec![row(today, "100", "x")]);
    let reply = cost("cost", &catalog, &costs).await;
    assert_eq!(
        reply.title,
        "Spend today of 2 budgeted services: 1 critical, 1 under"
    );
    assert_eq!(reply.status, Status::Danger);
    assert_eq!(
        reply.lines[0],
        "❌ assistant: $3.90 of $4.00 (98%), forecast $7.80 — failed: prometheus http://prom (unreachable: connection failed)"
    );
    assert_eq!(
        reply.lines[1],
        "✅ alice-openai: $2.00 of $10.00 (20%), forecast $4.00"
    );
    assert!(
        reply.lines[2].starts_with("Forecasts: linear run rate"),
        "{:?}",
        reply.lines
    );
    assert!(reply.attachment.is_none());
    // Services without a budget are not read at all.
    let asked: Vec<String> = costs
        .queries
        .lock()
        .unwrap()
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    assert!(!asked.contains(&"wrkhrs-rag".to_string()), "{asked:?}");
}

#[tokio::test]
async fn month_and_grouping_flags_reach_the_reader() {
    let catalog = Catalog::new(vec![budgeted("alice-openai", "10")]).unwrap();
    let costs = ScriptedCosts::new(NOON).answer(
        "alice-openai",
        "openai",
        vec![
            row(date(2026, 11, 3), "30", "gpt-4o"),
            row(date(2026, 10, 31), "7", "gpt-4o"),
        ],
    );
    let reply = cost(
        "cost alice-openai --period month --by model",
        &catalog,
        &costs,
    )
    .await;
    // No monthly budget: 30 days (November) × the daily budget.
    assert_eq!(
        reply.title,
        "alice-openai: $30.00 of $300.00 this month (10%)"
    );
    let text = reply.to_plain_text();
    assert!(text.contains("Top models:"), "{text}");
    assert!(text.contains("(30 × daily budget)"), "{text}");
    assert!(
        text.contains("Previous period (2026-10-01 – 2026-10-31): $7.00"),
        "{text}"
    );
    let query = costs.queries.lock().unwrap()[0].1;
    assert_eq!(
        (query.from, query.to),
        (date(2026, 10, 1), date(2026, 12, 1))
    );
    assert_eq!(query.grouping, CostGrouping::Model);
}

#[tokio::test]
async fn a_service_without_cost_sources_is_refused_with_the_reason() {
    let catalog = Catalog::new(vec![service("mlflow", "prod", &[])]).unwrap();
    let costs = ScriptedCosts::new(NOON);
    let error = run_with_costs(
        "cost mlflow",
        &catalog,
        &FakeProber::default(),
        &RecordingRuntime::default(),
        &costs,
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("mlflow has no cost sources"),
        "{error}"
    );
}

#[test]
fn windows_and_previous_periods() {
    let today = date(2026, 11, 21);
    let w = CostPeriod::Days7.window(today);
    assert_eq!(
        (w.from, w.to, w.days()),
        (date(2026, 11, 15), date(2026, 11, 22), 7)
    );
    let p = CostPeriod::Days7.previous(today);
    assert_eq!((p.from, p.to), (date(2026, 11, 8), date(2026, 11, 15)));
    let m = CostPeriod::Month.previous(date(2026, 3, 5));
    assert_eq!(
        (m.from, m.to, m.days()),
        (date(2026, 2, 1), date(2026, 3, 1), 28)
    );
    let y = CostPeriod::Month.previous(date(2026, 1, 31));
    assert_eq!((y.from, y.to), (date(2025, 12, 1), date(2026, 1, 1)));
    assert_eq!(CostPeriod::Days30.window(today).days(), 30);
    assert_eq!(Window::days_ending(today, 1).describe(), "2026-11-21");
}

#[test]
fn budgets_are_derived_exactly_for_each_period() {
    let today = date(2026, 11, 21);
    let weekly_only = budget(None, Some("50"), None);
    let daily = budget_for(
        &weekly_only,
        CostPeriod::Today,
        &CostPeriod::Today.window(today),
    )
    .unwrap();
    // 50 / 7 is not a finite decimal: kept to 28 digits, never rounded to cents early.
    assert_eq!(daily.amount, dec("50") / dec("7"));
    assert_eq!(money(daily.amount, "USD"), "$7.14");
    assert_eq!(daily.basis, "weekly budget × 1/7");
    let own = budget_for(
        &weekly_only,
        CostPeriod::Days7,
        &CostPeriod::Days7.window(today),
    )
    .unwrap();
    assert_eq!(
        (own.amount, own.basis.as_str()),
        (dec("50"), "weekly budget")
    );
    let monthly = budget(None, None, Some("300"));
    let week = budget_for(
        &monthly,
        CostPeriod::Days7,
        &CostPeriod::Days7.window(today),
    )
    .unwrap();
    assert_eq!(week.amount, dec("70"));
    assert!(
        budget_for(
            &budget(None, None, None),
            CostPeriod::Today,
            &CostPeriod::Today.window(today)
        )
        .is_none()
    );
}

#[test]
fn forecasts_are_a_linear_run_rate_in_exact_decimals() {
    let window = CostPeriod::Today.window(date(2026, 11, 21));
    // A third of the day: three times the spend.
    assert_eq!(
        forecast(dec("0.10"), &window, at("2026-11-21T08:00:00Z")),
        Some(dec("0.30"))
    );
    // Before the period starts: no forecast; after it: the spend itself.
    assert_eq!(
        forecast(dec("1"), &window, at("2026-11-21T00:00:00Z")),
        None
    );
    assert_eq!(
        forecast(dec("4.2"), &window, at("2026-11-23T00:00:00Z")),
        Some(dec("4.2"))
    );
}

#[test]
fn sums_and_thresholds_are_exact() {
    // 0.1 + 0.2 is 0.3 in decimal (it is not in binary floating point).
    assert_eq!(dec("0.1") + dec("0.2"), dec("0.3"));
    let b = budget(Some("10"), None, None);
    let burn = |spent: &str| cost_period::burn_percent(dec(spent), dec("10")).unwrap();
    assert_eq!(cost_period::level(burn("7.999999"), &b), BudgetLevel::Under);
    assert_eq!(cost_period::level(burn("8.00"), &b), BudgetLevel::Warning);
    assert_eq!(cost_period::level(burn("9.4999"), &b), BudgetLevel::Warning);
    assert_eq!(cost_period::level(burn("9.50"), &b), BudgetLevel::Critical);
    assert_eq!(cost_period::burn_percent(dec("1"), Decimal::ZERO), None);
    assert_eq!(money(dec("1.005"), "USD"), "$1.01");
    assert_eq!(money(dec("-2.5"), "USD"), "-$2.50");
    assert_eq!(money(dec("12"), "EUR"), "12.00 EUR");
}

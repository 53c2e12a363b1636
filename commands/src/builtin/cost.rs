//! `cost [SERVICE] [--period today|7d|30d|month] [--by project|line_item|model]`: spend
//! against budgets.
//!
//! With a service: spend so far in the period from every cost source, the budget and how
//! much of it is burnt, the forecast to the period's end (method stated), the top items,
//! the previous period for comparison, each source's share (a failed source is named and
//! left out of the totals), how fresh the data is, and a chart of daily spend against
//! the budget per day. Without a service: every service with a budget, most burnt first.
//! When every source of a service failed its spend is unknown (❓, with each source's
//! error), never "$0.00, under budget".
//! The arithmetic lives in [`super::cost_period`].

use std::{collections::BTreeMap, time::Duration};

use futures_util::future::join_all;
use jiff::{Timestamp, civil::Date};

use super::cost_period::{
    self, BudgetLevel, CostPeriod, PeriodBudget, Window, budget_for, burn_percent, forecast, money,
    percent, utc_day,
};
use crate::{
    CommandError, Ctx, Reply, Service, Status,
    catalog::Money,
    command::{Command, Handler},
    context::{CostGrouping, SpendQuery, SpendReport},
    language::Call,
    registry::{FlagSpec, Safety, ServiceArg, ValueKind},
    reply::Attachment,
};

pub static COMMAND: Command = Command {
    name: "cost",
    summary: "Spend against budgets, with a forecast and a chart; every budgeted service without one",
    service: ServiceArg::Optional,
    args: &[],
    flags: &[
        FlagSpec {
            name: "period",
            kind: ValueKind::Choice(CostPeriod::CHOICES),
            help: "today (default), the last 7 or 30 days, or this calendar month (UTC)",
        },
        FlagSpec {
            name: "by",
            kind: ValueKind::Choice(&["project", "line_item", "model"]),
            help: "break spend down by project, line item (default) or model",
        },
    ],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(60),
    examples: &[
        "cost",
        "cost ollama --period 7d",
        "cost ai-orchestration --period month --by model",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

/// At most this many items are listed.
const TOP_ITEMS: usize = 5;

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let period = call
        .text("period")
        .and_then(CostPeriod::parse)
        .unwrap_or(CostPeriod::Today);
    let grouping = match call.text("by") {
        Some("project") => CostGrouping::Project,
        Some("model") => CostGrouping::Model,
        _ => CostGrouping::LineItem,
    };
    let now = ctx.costs.now();
    match call.service {
        Some(service) => {
            if service.cost.is_empty() {
                return Err(no_sources(service));
            }
            let analysis = fetch(service, period, grouping, now, ctx).await;
            Ok(detail(service, &analysis, grouping, now, ctx))
        }
        None => Ok(overview(period, grouping, now, ctx).await),
    }
}

fn no_sources(service: &Service) -> CommandError {
    CommandError::Failed(format!(
        "{} has no cost sources in the catalog (add [[services.cost]] entries)",
        service.name
    ))
}

/// Everything `cost` says about one service in one period.
pub(super) struct Analysis {
    pub period: CostPeriod,
    pub window: Window,
    pub previous: Window,
    /// Days drawn in the chart (the last 7 for `today`, else the period).
    pub chart_window: Window,
    pub spent: Money,
    pub previous_spent: Money,
    pub budget: Option<PeriodBudget>,
    pub burn: Option<Money>,
    pub level: BudgetLevel,
    pub forecast: Option<Money>,
    /// Each source's spend in the period, or why it failed.
    pub sources: Vec<(String, Result<Money, String>)>,
    /// Every source failed: the spend is unknown (not zero, not under budget).
    pub unknown: bool,
    /// Items of the period, largest first.
    pub items: Vec<(String, Money)>,
    pub daily: Vec<(Date, Money)>,
    pub fetched_at: Timestamp,
}

impl Analysis {
    fn failed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sources
            .iter()
            .filter_map(|(name, result)| match result {
                Err(why) => Some((name.as_str(), why.as_str())),
                Ok(_) => None,
            })
    }
}

async fn fetch(
    service: &Service,
    period: CostPeriod,
    grouping: CostGrouping,
    now: Timestamp,
    ctx: Ctx<'_>,
) -> Analysis {
    let today = utc_day(now);
    let window = period.window(today);
    let previous = period.previous(today);
    let chart_window = match period {
        CostPeriod::Today => Window::days_ending(today, 7),
        _ => window,
    };
    let query = SpendQuery {
        from: previous.from.min(chart_window.from),
        to: window.to,
        grouping,
    };
    let report = ctx.costs.spend(service, &query).await;
    analyse(
        service,
        period,
        window,
        previous,
        chart_window,
        &report,
        now,
    )
}

pub(super) fn analyse(
    service: &Service,
    period: CostPeriod,
    window: Window,
    previous: Window,
    chart_window: Window,
    report: &SpendReport,
    now: Timestamp,
) -> Analysis {
    let mut spent = Money::ZERO;
    let mut previous_spent = Money::ZERO;
    let mut sources = Vec::new();
    let mut items: BTreeMap<String, Money> = BTreeMap::new();
    let mut daily: BTreeMap<Date, Money> =
        chart_window.each_day().map(|d| (d, Money::ZERO)).collect();
    for source in &report.sources {
        match &source.result {
            Ok(rows) => {
                let mut source_spent = Money::ZERO;
                for row in rows {
                    if window.contains(row.day) {
                        source_spent += row.amount;
                        let item = row.item.clone().unwrap_or_else(|| source.source.clone());
                        *items.entry(item).or_default() += row.amount;
                    }
                    if previous.contains(row.day) {
                        previous_spent += row.amount;
                    }
                    if let Some(day) = daily.get_mut(&row.day) {
                        *day += row.amount;
                    }
                }
                spent += source_spent;
                sources.push((source.source.clone(), Ok(source_spent)));
            }
            Err(why) => sources.push((source.source.clone(), Err(why.clone()))),
        }
    }
    let mut items: Vec<(String, Money)> = items.into_iter().filter(|(_, a)| !a.is_zero()).collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let unknown = !sources.is_empty() && sources.iter().all(|(_, result)| result.is_err());
    let budget = service
        .budget
        .as_ref()
        .and_then(|b| budget_for(b, period, &window));
    let burn = budget
        .as_ref()
        .filter(|_| !unknown)
        .and_then(|b| burn_percent(spent, b.amount));
    let level = match (&service.budget, burn) {
        (Some(catalog_budget), Some(burn)) => cost_period::level(burn, catalog_budget),
        _ => BudgetLevel::Under,
    };
    Analysis {
        period,
        window,
        previous,
        chart_window,
        spent,
        previous_spent,
        budget,
        burn,
        level,
        forecast: forecast(spent, &window, now).filter(|_| !unknown),
        sources,
        unknown,
        items,
        daily: daily.into_iter().collect(),
        fetched_at: report.fetched_at,
    }
}

fn currency(service: &Service) -> &str {
    service
        .budget
        .as_ref()
        .map_or("USD", |b| b.currency.as_str())
}

fn period_name(period: CostPeriod) -> &'static str {
    match period {
        CostPeriod::Today => "today",
        CostPeriod::Days7 => "in the last 7 days",
        CostPeriod::Days30 => "in the last 30 days",
        CostPeriod::Month => "this month",
    }
}

fn status_of(analysis: &Analysis) -> Status {
    if analysis.unknown {
        return Status::Warning;
    }
    match analysis.level {
        BudgetLevel::Critical => Status::Danger,
        BudgetLevel::Warning => Status::Warning,
        BudgetLevel::Under => {
            let over = match (&analysis.budget, analysis.forecast) {
                (Some(budget), Some(forecast)) => forecast > budget.amount,
                _ => false,
            };
            if over || analysis.failed().next().is_some() {
                Status::Warning
            } else if analysis.budget.is_some() {
                Status::Success
            } else {
                Status::Info
            }
        }
    }
}

/// `data from 10:42 UTC (3 min ago)`.
fn freshness(fetched_at: Timestamp, now: Timestamp) -> String {
    let age = now.duration_since(fetched_at);
    let clock = fetched_at.strftime("%H:%M UTC");
    let ago = if age.as_secs() < 60 {
        "just fetched".to_string()
    } else if age.as_secs() < 3600 {
        format!("{} min ago", age.as_secs() / 60)
    } else {
        format!("{} h ago", age.as_secs() / 3600)
    };
    format!("Data from {clock} ({ago}).")
}

fn detail(
    service: &Service,
    analysis: &Analysis,
    grouping: CostGrouping,
    now: Timestamp,
    ctx: Ctx<'_>,
) -> Reply {
    let cur = currency(service);
    let when = period_name(analysis.period);
    let title = match (&analysis.budget, analysis.burn) {
        _ if analysis.unknown => format!(
            "{}: ❓ spend unknown {when} — every cost source failed",
            service.name
        ),
        (Some(budget), Some(burn)) => format!(
            "{}: {} of {} {when} ({})",
            service.name,
            money(analysis.spent, cur),
            money(budget.amount, cur),
            percent(burn)
        ),
        _ => format!("{}: {} {when}", service.name, money(analysis.spent, cur)),
    };
    let mut reply = Reply::new(status_of(analysis), title);
    if let Some(forecast) = analysis.forecast {
        let verdict = match &analysis.budget {
            Some(budget) if forecast > budget.amount => {
                format!(" — over budget by {}", money(forecast - budget.amount, cur))
            }
            Some(budget) => burn_percent(forecast, budget.amount)
                .map(|p| format!(" — {} of budget", percent(p)))
                .unwrap_or_default(),
            None => String::new(),
        };
        reply = reply.line(format!(
            "Forecast to the end of the period: {}{verdict} (linear run rate: spend so far × period length ÷ elapsed, {} elapsed).",
            money(forecast, cur),
            cost_period::elapsed_text(&analysis.window, now)
        ));
    }
    if !analysis.unknown {
        reply = reply.line(compare(analysis, cur));
    }
    if !analysis.items.is_empty() {
        let by = match grouping {
            CostGrouping::Project => "projects",
            CostGrouping::LineItem => "line items",
            CostGrouping::Model => "models",
        };
        reply = reply.line(format!("Top {by}:"));
        for (item, amount) in analysis.items.iter().take(TOP_ITEMS) {
            reply = reply.line(format!("• {item}: {}", money(*amount, cur)));
        }
    }
    for (source, result) in &analysis.sources {
        reply = reply.line(match result {
            Ok(amount) => format!("Source {source}: {}", money(*amount, cur)),
            Err(why) => format!("❌ Source {source} failed: {why} (left out of the totals)"),
        });
    }
    reply = reply.line(freshness(analysis.fetched_at, now));
    reply = reply.field("Period", format!("{} (UTC)", analysis.window.describe()));
    if let (Some(budget), Some(catalog)) = (&analysis.budget, &service.budget) {
        reply = reply.field(
            "Budget",
            format!(
                "{} ({}); warning at {}%, critical at {}%",
                money(budget.amount, cur),
                budget.basis,
                catalog.warn_percent,
                catalog.critical_percent
            ),
        );
    }
    if let Some(runbook) = &service.runbook {
        reply = reply.field("Runbook", runbook.clone());
    }
    let budget_per_day = analysis
        .budget
        .as_ref()
        .map(|b| b.per_day(&analysis.window));
    let chart_title = format!(
        "{}: daily spend, {}",
        service.name,
        analysis.chart_window.describe()
    );
    // No chart of zeros for a spend nobody could read.
    if let Some(png) = (!analysis.unknown)
        .then(|| {
            ctx.costs
                .chart(&chart_title, &analysis.daily, budget_per_day, cur)
        })
        .flatten()
    {
        reply.attachment = Some(Attachment::png(chart_title, png));
    }
    reply
}

/// `Previous period (2026-11-20): $8.10; this one is 12% below so far, forecast +21%.`
fn compare(analysis: &Analysis, cur: &str) -> String {
    let mut text = format!(
        "Previous period ({}): {}",
        analysis.previous.describe(),
        money(analysis.previous_spent, cur)
    );
    if !analysis.previous_spent.is_zero()
        && let Some(forecast) = analysis.forecast
    {
        let change =
            (forecast - analysis.previous_spent) * Money::ONE_HUNDRED / analysis.previous_spent;
        let sign = if change.is_sign_negative() { "" } else { "+" };
        text.push_str(&format!(
            "; forecast is {sign}{} against it",
            percent(change)
        ));
    }
    text.push('.');
    text
}

async fn overview(
    period: CostPeriod,
    grouping: CostGrouping,
    now: Timestamp,
    ctx: Ctx<'_>,
) -> Reply {
    let budgeted: Vec<&Service> = ctx
        .catalog
        .services()
        .iter()
        .filter(|s| s.budget.is_some() && !s.cost.is_empty())
        .collect();
    if budgeted.is_empty() {
        return Reply::info("No service has both a budget and cost sources")
            .line("Add `budget = { daily = … }` and [[services.cost]] entries to a service.");
    }
    ctx.progress
        .report(&format!("Reading spend of {} services…", budgeted.len()));
    let mut analyses: Vec<(&Service, Analysis)> =
        join_all(budgeted.iter().map(|service| async move {
            (*service, fetch(service, period, grouping, now, ctx).await)
        }))
        .await;
    // Most burnt first; services without a burn (zero budget) last.
    analyses.sort_by(|a, b| {
        b.1.burn
            .cmp(&a.1.burn)
            .then_with(|| a.0.name.as_str().cmp(b.0.name.as_str()))
    });
    let count = |level| analyses.iter().filter(|(_, a)| a.level == level).count();
    let (critical, warning) = (count(BudgetLevel::Critical), count(BudgetLevel::Warning));
    let unknown = analyses.iter().filter(|(_, a)| a.unknown).count();
    let mut parts = Vec::new();
    if critical > 0 {
        parts.push(format!("{critical} critical"));
    }
    if warning > 0 {
        parts.push(format!("{warning} warning"));
    }
    if unknown > 0 {
        parts.push(format!("{unknown} unknown"));
    }
    parts.push(format!(
        "{} under",
        analyses.len() - critical - warning - unknown
    ));
    let status = if critical > 0 {
        Status::Danger
    } else if warning > 0 || unknown > 0 {
        Status::Warning
    } else {
        Status::Success
    };
    let mut reply = Reply::new(
        status,
        format!(
            "Spend {} of {} budgeted {}: {}",
            period_name(period),
            analyses.len(),
            if analyses.len() == 1 {
                "service"
            } else {
                "services"
            },
            parts.join(", ")
        ),
    );
    let mut oldest = now;
    for (service, analysis) in &analyses {
        let cur = currency(service);
        oldest = oldest.min(analysis.fetched_at);
        let emoji = match analysis.level {
            _ if analysis.unknown => "❓",
            BudgetLevel::Critical => "❌",
            BudgetLevel::Warning => "⚠️",
            BudgetLevel::Under => "✅",
        };
        let mut line = match (&analysis.budget, analysis.burn) {
            _ if analysis.unknown => format!("{emoji} {}: spend unknown", service.name),
            (Some(budget), Some(burn)) => format!(
                "{emoji} {}: {} of {} ({})",
                service.name,
                money(analysis.spent, cur),
                money(budget.amount, cur),
                percent(burn)
            ),
            _ => format!("{emoji} {}: {}", service.name, money(analysis.spent, cur)),
        };
        if let Some(forecast) = analysis.forecast {
            line.push_str(&format!(", forecast {}", money(forecast, cur)));
        }
        let failed: Vec<String> = analysis
            .failed()
            .map(|(source, why)| format!("{source} ({why})"))
            .collect();
        if !failed.is_empty() {
            line.push_str(&format!(" — failed: {}", failed.join(", ")));
        }
        reply = reply.line(line);
    }
    reply = reply.line(format!(
        "Forecasts: linear run rate over the elapsed part of the period. {}",
        freshness(oldest, now)
    ));
    reply
}

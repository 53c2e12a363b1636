//! The arithmetic of `cost` and of budget alerts, exact (decimal, never float): which UTC
//! days a period covers, the budget that applies to it, how much of it is burnt, and the
//! forecast to the period's end.
//!
//! Periods: `today` (the UTC day), `7d` and `30d` (that many days ending today), `month`
//! (the calendar month). The previous period is the one just before, of the same length
//! (the previous calendar month for `month`).
//!
//! Forecast method, stated in every reply: linear run rate over the elapsed part of the
//! period, `spent × period length ÷ time elapsed`.

use jiff::{SignedDuration, Timestamp, civil::Date, tz::TimeZone};
use rust_decimal::Decimal;

use crate::catalog::{Budget, Money};

/// What `--period` chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostPeriod {
    Today,
    Days7,
    Days30,
    Month,
}

impl CostPeriod {
    pub const CHOICES: &'static [&'static str] = &["today", "7d", "30d", "month"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "today" => Some(CostPeriod::Today),
            "7d" => Some(CostPeriod::Days7),
            "30d" => Some(CostPeriod::Days30),
            "month" => Some(CostPeriod::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CostPeriod::Today => "today",
            CostPeriod::Days7 => "7d",
            CostPeriod::Days30 => "30d",
            CostPeriod::Month => "month",
        }
    }

    /// The period that contains `today`.
    pub fn window(self, today: Date) -> Window {
        match self {
            CostPeriod::Today => Window::days_ending(today, 1),
            CostPeriod::Days7 => Window::days_ending(today, 7),
            CostPeriod::Days30 => Window::days_ending(today, 30),
            CostPeriod::Month => {
                let from = today.first_of_month();
                Window {
                    from,
                    to: from.last_of_month().tomorrow().unwrap_or(from),
                }
            }
        }
    }

    /// The period just before the one containing `today`.
    pub fn previous(self, today: Date) -> Window {
        let current = self.window(today);
        match self {
            CostPeriod::Month => {
                let last = current.from.yesterday().unwrap_or(current.from);
                Window {
                    from: last.first_of_month(),
                    to: current.from,
                }
            }
            _ => Window {
                from: current
                    .from
                    .checked_sub(jiff::Span::new().days(current.days()))
                    .unwrap_or(current.from),
                to: current.from,
            },
        }
    }
}

/// UTC days `from..to` (`to` exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub from: Date,
    pub to: Date,
}

impl Window {
    /// `days` days ending with (and including) `last`.
    pub fn days_ending(last: Date, days: i64) -> Self {
        let to = last.tomorrow().unwrap_or(last);
        Self {
            from: to.checked_sub(jiff::Span::new().days(days)).unwrap_or(last),
            to,
        }
    }

    pub fn days(&self) -> i64 {
        i64::from((self.to - self.from).get_days())
    }

    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && day < self.to
    }

    pub fn start(&self) -> Timestamp {
        midnight(self.from)
    }

    pub fn end(&self) -> Timestamp {
        midnight(self.to)
    }

    /// Every day of the window, in order.
    pub fn each_day(&self) -> impl Iterator<Item = Date> + '_ {
        self.from
            .series(jiff::Span::new().days(1))
            .take_while(|d| *d < self.to)
    }

    /// `2026-11-21` or `2026-11-15 – 2026-11-21` (both ends included).
    pub fn describe(&self) -> String {
        let last = self.to.yesterday().unwrap_or(self.to);
        if last == self.from {
            self.from.to_string()
        } else {
            format!("{} – {last}", self.from)
        }
    }
}

fn midnight(day: Date) -> Timestamp {
    day.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The UTC day `at` falls on.
pub fn utc_day(at: Timestamp) -> Date {
    at.to_zoned(TimeZone::UTC).date()
}

/// The budget that applies to a window, and how it was derived from the catalog's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodBudget {
    pub amount: Money,
    /// `daily budget`, `7 × daily budget`, `monthly budget × 7/30`.
    pub basis: String,
}

impl PeriodBudget {
    /// The budget per day of the window, for the chart's budget line.
    pub fn per_day(&self, window: &Window) -> Money {
        self.amount / Decimal::from(window.days().max(1))
    }
}

/// The budget of `period` (whose window is `window`): the catalog's own budget for that
/// length when it has one, else one scaled by days from the closest one it has.
pub fn budget_for(budget: &Budget, period: CostPeriod, window: &Window) -> Option<PeriodBudget> {
    let days = Decimal::from(window.days());
    let own = match period {
        CostPeriod::Today => budget.daily.map(|a| (a, "daily budget")),
        CostPeriod::Days7 => budget.weekly.map(|a| (a, "weekly budget")),
        CostPeriod::Month => budget.monthly.map(|a| (a, "monthly budget")),
        CostPeriod::Days30 => None,
    };
    if let Some((amount, basis)) = own {
        return Some(PeriodBudget {
            amount,
            basis: basis.to_string(),
        });
    }
    let n = window.days();
    if let Some(daily) = budget.daily {
        return Some(PeriodBudget {
            amount: daily * days,
            basis: format!("{n} × daily budget"),
        });
    }
    if let Some(weekly) = budget.weekly {
        return Some(PeriodBudget {
            amount: weekly * days / Decimal::from(7),
            basis: format!("weekly budget × {n}/7"),
        });
    }
    budget.monthly.map(|monthly| PeriodBudget {
        amount: monthly * days / Decimal::from(30),
        basis: format!("monthly budget × {n}/30"),
    })
}

/// Spend so far as a percentage of the budget (`None` for a zero budget).
pub fn burn_percent(spent: Money, budget: Money) -> Option<Decimal> {
    if budget.is_zero() {
        return None;
    }
    Some(spent * Decimal::ONE_HUNDRED / budget)
}

/// Linear run rate: `spent × window length ÷ elapsed`. `None` before any of the window
/// has elapsed. After the window's end, the spend itself.
pub fn forecast(spent: Money, window: &Window, now: Timestamp) -> Option<Money> {
    let total = window.end().duration_since(window.start());
    let elapsed = now.duration_since(window.start()).min(total);
    if elapsed <= SignedDuration::ZERO {
        return None;
    }
    let total_ms = Decimal::from(total.as_millis());
    let elapsed_ms = Decimal::from(elapsed.as_millis());
    spent.checked_mul(total_ms)?.checked_div(elapsed_ms)
}

/// How far a window has run at `now`, for the method line: `17.5 h of 24 h`.
pub fn elapsed_text(window: &Window, now: Timestamp) -> String {
    let total = window.end().duration_since(window.start());
    let elapsed = now
        .duration_since(window.start())
        .clamp(SignedDuration::ZERO, total);
    let hours = |d: SignedDuration| d.as_secs_f64() / 3600.0;
    if window.days() == 1 {
        format!("{:.1} h of 24 h", hours(elapsed))
    } else {
        format!("{:.1} of {} days", hours(elapsed) / 24.0, window.days())
    }
}

/// Which threshold spend has crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BudgetLevel {
    Under,
    Warning,
    Critical,
}

impl BudgetLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetLevel::Under => "under",
            BudgetLevel::Warning => "warning",
            BudgetLevel::Critical => "critical",
        }
    }
}

/// The threshold `burn` (a percentage) has crossed, by the budget's warn and critical
/// percentages.
pub fn level(burn: Decimal, budget: &Budget) -> BudgetLevel {
    if burn >= Decimal::from(budget.critical_percent) {
        BudgetLevel::Critical
    } else if burn >= Decimal::from(budget.warn_percent) {
        BudgetLevel::Warning
    } else {
        BudgetLevel::Under
    }
}

/// `$12.34` for USD, `12.34 EUR` otherwise; rounded to cents for display only.
pub fn money(amount: Money, currency: &str) -> String {
    let rounded =
        amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{rounded:.2}");
    if currency.eq_ignore_ascii_case("USD") {
        match text.strip_prefix('-') {
            Some(positive) => format!("-${positive}"),
            None => format!("${text}"),
        }
    } else {
        format!("{text} {currency}")
    }
}

/// A percentage rounded to a whole number: `74%`.
pub fn percent(value: Decimal) -> String {
    format!(
        "{}%",
        value.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    )
}

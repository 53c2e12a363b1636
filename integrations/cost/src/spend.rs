//! The neutral result of every source: spend per UTC day, optionally per item (project,
//! line item, model, namespace), and the day range a query covers.

use jiff::{Timestamp, civil::Date, tz::TimeZone};
use rust_decimal::Decimal;

/// Spend of one day (UTC) in one item, in the source's currency (USD for every source
/// here), exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailySpend {
    pub day: Date,
    pub amount: Decimal,
    /// What the amount is for (`gpt-4o, input`, `proj_abc`, `alice/voice-gateway`), when
    /// the source groups it.
    pub item: Option<String>,
}

/// The UTC days `from..to` (`to` exclusive) a query covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpendRange {
    pub from: Date,
    pub to: Date,
}

impl SpendRange {
    /// Midnight UTC at the start of `from`.
    pub fn start(&self) -> Timestamp {
        midnight_utc(self.from)
    }

    /// Midnight UTC at the start of `to` (the end, exclusive).
    pub fn end(&self) -> Timestamp {
        midnight_utc(self.to)
    }

    /// How many days the range spans.
    pub fn days(&self) -> i64 {
        i64::from((self.to - self.from).get_days())
    }

    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && day < self.to
    }
}

/// Midnight UTC at the start of `day`.
pub fn midnight_utc(day: Date) -> Timestamp {
    day.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The UTC day `at` falls on.
pub fn utc_day(at: Timestamp) -> Date {
    at.to_zoned(TimeZone::UTC).date()
}

/// An RFC 3339 time from a response.
pub(crate) fn parse_timestamp(text: &str) -> Result<Timestamp, crate::CostError> {
    text.parse()
        .map_err(|e| crate::CostError::Malformed(format!("time `{text}`: {e}")))
}

/// How a source should break its spend down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Grouping {
    /// By project (OpenAI project, Anthropic workspace).
    Project,
    /// By line item (OpenAI `line_item`, Anthropic `description`). The default: it gives
    /// the top line items.
    #[default]
    LineItem,
    /// By model (from line items: `gpt-4o, input` → `gpt-4o`; Anthropic's `model`).
    Model,
}

impl Grouping {
    pub fn as_str(self) -> &'static str {
        match self {
            Grouping::Project => "project",
            Grouping::LineItem => "line_item",
            Grouping::Model => "model",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn ranges_count_days_and_start_at_midnight_utc() {
        let range = SpendRange {
            from: date(2026, 11, 1),
            to: date(2026, 11, 8),
        };
        assert_eq!(range.days(), 7);
        assert_eq!(range.start().to_string(), "2026-11-01T00:00:00Z");
        assert_eq!(range.end().to_string(), "2026-11-08T00:00:00Z");
        assert!(range.contains(date(2026, 11, 7)));
        assert!(!range.contains(date(2026, 11, 8)));
        assert_eq!(utc_day(range.end()), date(2026, 11, 8));
    }
}

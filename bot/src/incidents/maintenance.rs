//! Maintenance windows of the configuration, ready to ask "is this service in a window
//! now?" (the runbooks' first Sunday 02:00-04:00, Saturdays 02:00-04:00).

use globset::{Glob, GlobSet, GlobSetBuilder};
use jiff::tz::TimeZone;

use crate::config::{
    MaintenanceWindow,
    maintenance::{Recurrence, Schedule},
};

/// One window, with its globs compiled and its time zone loaded.
#[derive(Clone, Debug)]
pub struct Window {
    pub name: String,
    services: GlobSet,
    schedule: Schedule,
    timezone: TimeZone,
}

impl Window {
    /// Compiles a validated window (bad globs match nothing; an unknown zone is UTC).
    pub fn new(config: &MaintenanceWindow) -> Self {
        let mut builder = GlobSetBuilder::new();
        for glob in &config.services {
            if let Ok(glob) = Glob::new(glob) {
                builder.add(glob);
            }
        }
        Self {
            name: config.name.clone(),
            services: builder.build().unwrap_or_else(|_| GlobSet::empty()),
            schedule: config.schedule,
            timezone: TimeZone::get(&config.timezone).unwrap_or(TimeZone::UTC),
        }
    }

    /// Whether the window covers `service` (alerts of no service: only a `*` window).
    pub fn applies_to(&self, service: Option<&str>) -> bool {
        match service {
            Some(service) => self.services.is_match(service),
            None => self.services.is_match(""),
        }
    }

    /// Whether `at` falls in an occurrence of the window.
    pub fn is_active(&self, at: jiff::Timestamp) -> bool {
        let local = at.to_zoned(self.timezone.clone());
        let length = self.schedule.length();
        // An occurrence starting today or (past midnight) yesterday may cover `at`.
        for days_back in 0..2i64 {
            let Ok(date) = local.date().checked_sub(jiff::Span::new().days(days_back)) else {
                continue;
            };
            if !occurs_on(self.schedule.recurrence, date) {
                continue;
            }
            let Ok(start) = date
                .to_datetime(self.schedule.start)
                .to_zoned(self.timezone.clone())
            else {
                continue;
            };
            let Ok(end) = start.timestamp().checked_add(length) else {
                continue;
            };
            if start.timestamp() <= at && at < end {
                return true;
            }
        }
        false
    }
}

fn occurs_on(recurrence: Recurrence, date: jiff::civil::Date) -> bool {
    match recurrence {
        Recurrence::Daily => true,
        Recurrence::Weekly(day) => date.weekday() == day,
        Recurrence::FirstOfMonth(day) => date.weekday() == day && date.day() <= 7,
    }
}

/// The first window covering `service` at `at`.
pub fn covering<'w>(
    windows: &'w [Window],
    service: Option<&str>,
    at: jiff::Timestamp,
) -> Option<&'w Window> {
    windows
        .iter()
        .find(|w| w.applies_to(service) && w.is_active(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(schedule: &str, services: &[&str]) -> Window {
        Window::new(&MaintenanceWindow {
            name: "w".into(),
            services: services.iter().map(|s| s.to_string()).collect(),
            schedule: schedule.parse().unwrap(),
            timezone: "UTC".into(),
        })
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn first_sunday_and_saturdays() {
        // 2026-11-01 is the first Sunday of November 2026; 2026-11-08 the second.
        let w = window("first-sunday 02:00-04:00", &["ai-assistant*"]);
        assert!(w.is_active(at("2026-11-01T02:00:00Z")));
        assert!(w.is_active(at("2026-11-01T03:59:59Z")));
        assert!(!w.is_active(at("2026-11-01T04:00:00Z")));
        assert!(!w.is_active(at("2026-11-08T03:00:00Z")));
        assert!(w.applies_to(Some("ai-assistant-db")));
        assert!(!w.applies_to(Some("ollama")));
        assert!(!w.applies_to(None));
        let s = window("saturday 02:00-04:00", &["*"]);
        assert!(s.is_active(at("2026-11-21T03:00:00Z")), "a Saturday");
        assert!(!s.is_active(at("2026-11-22T03:00:00Z")), "a Sunday");
        assert!(s.applies_to(None));
    }

    #[test]
    fn windows_across_midnight() {
        let w = window("saturday 23:00-01:00", &["*"]);
        assert!(w.is_active(at("2026-11-21T23:30:00Z")));
        assert!(
            w.is_active(at("2026-11-22T00:30:00Z")),
            "Sunday 00:30 is still in it"
        );
        assert!(!w.is_active(at("2026-11-22T01:00:00Z")));
    }
}

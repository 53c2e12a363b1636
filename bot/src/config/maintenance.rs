//! `[[maintenance]]`: recurring windows (`first-sunday 02:00-04:00` in a time zone) in
//! which matching alerts are recorded and shown as silenced, not paged.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Deserializer};

use super::{
    Config,
    document::KeyPath,
    problems::{Problems, check_globs},
};

/// Which days a maintenance window recurs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    Daily,
    /// Every week on this day.
    Weekly(jiff::civil::Weekday),
    /// The first such weekday of every month.
    FirstOfMonth(jiff::civil::Weekday),
}

/// `"first-sunday 02:00-04:00"`, `"saturday 02:00-04:00"`, `"daily 02:00-03:00"`. An end
/// before the start ends the next day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub recurrence: Recurrence,
    pub start: jiff::civil::Time,
    pub end: jiff::civil::Time,
}

impl Schedule {
    /// How long each occurrence lasts.
    pub fn length(&self) -> Duration {
        let start = self.start.duration_since(jiff::civil::Time::midnight());
        let end = self.end.duration_since(jiff::civil::Time::midnight());
        let mut secs = end.as_secs() - start.as_secs();
        if secs <= 0 {
            secs += 86_400;
        }
        Duration::from_secs(secs as u64)
    }
}

fn weekday(text: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match text {
        "monday" | "mon" => Monday,
        "tuesday" | "tue" => Tuesday,
        "wednesday" | "wed" => Wednesday,
        "thursday" | "thu" => Thursday,
        "friday" | "fri" => Friday,
        "saturday" | "sat" => Saturday,
        "sunday" | "sun" => Sunday,
        _ => return None,
    })
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const FORMS: &str = "write `daily HH:MM-HH:MM`, `saturday HH:MM-HH:MM` or \
             `first-sunday HH:MM-HH:MM`";
        let lowered = text.trim().to_ascii_lowercase();
        let (days, times) = lowered
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("`{text}` is not a schedule; {FORMS}"))?;
        let recurrence = if days == "daily" {
            Recurrence::Daily
        } else if let Some(day) = days.strip_prefix("first-") {
            Recurrence::FirstOfMonth(
                weekday(day).ok_or_else(|| format!("`{day}` is not a weekday; {FORMS}"))?,
            )
        } else {
            Recurrence::Weekly(
                weekday(days).ok_or_else(|| format!("`{days}` is not a weekday; {FORMS}"))?,
            )
        };
        let (start, end) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("`{times}` is not a time range like `02:00-04:00`"))?;
        let time = |t: &str| {
            jiff::civil::Time::strptime("%H:%M", t.trim())
                .map_err(|_| format!("`{}` is not a time like `02:00`", t.trim()))
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(format!("`{text}` starts and ends at the same time"));
        }
        Ok(Schedule {
            recurrence,
            start,
            end,
        })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.recurrence {
            Recurrence::Daily => f.write_str("daily")?,
            Recurrence::Weekly(day) => write!(f, "{day:?}")?,
            Recurrence::FirstOfMonth(day) => write!(f, "first {day:?}")?,
        }
        write!(
            f,
            " {}-{}",
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M")
        )
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[[maintenance]]`: a recurring window in which matching alerts are recorded and shown
/// as silenced, not paged.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub name: String,
    /// Service name globs; every service when absent.
    #[serde(default = "super::model::everything")]
    pub services: Vec<String>,
    pub schedule: Schedule,
    /// IANA name (`Europe/Berlin`) or `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

/// Checks `[[maintenance]]`: names, service globs, time zones.
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let root = KeyPath::root();
    for (index, window) in config.maintenance.iter().enumerate() {
        let path = root.key("maintenance").index(index);
        if window.name.trim().is_empty() {
            problems.push(path.key("name"), "must not be empty");
        }
        check_globs(&window.services, &path.key("services"), problems);
        if let Err(e) = jiff::tz::TimeZone::get(&window.timezone) {
            problems.push(
                path.key("timezone"),
                format!("unknown time zone `{}`: {e}", window.timezone),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_print() {
        let s: Schedule = "first-sunday 02:00-04:00".parse().unwrap();
        assert_eq!(
            s.recurrence,
            Recurrence::FirstOfMonth(jiff::civil::Weekday::Sunday)
        );
        assert_eq!(s.length(), Duration::from_secs(7200));
        assert_eq!(s.to_string(), "first Sunday 02:00-04:00");
        let s: Schedule = "Saturday 02:00-04:00".parse().unwrap();
        assert_eq!(
            s.recurrence,
            Recurrence::Weekly(jiff::civil::Weekday::Saturday)
        );
        let s: Schedule = "daily 23:00-01:00".parse().unwrap();
        assert_eq!(s.length(), Duration::from_secs(7200));
        assert!("sometimes 02:00-04:00".parse::<Schedule>().is_err());
        assert!("daily 2-4".parse::<Schedule>().is_err());
        assert!("daily 02:00-02:00".parse::<Schedule>().is_err());
    }

    #[test]
    fn mistakes_are_located_by_line_and_key() {
        let err = crate::config::parse(
            "[[maintenance]]\nname = \"m\"\nschedule = \"sometimes 02:00-04:00\"\n",
            "t.toml",
            &|_| None,
        )
        .unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(
            (d.line, d.key.as_str()),
            (3, "maintenance[0].schedule"),
            "{d}"
        );
        let err = crate::config::parse(
            "[[maintenance]]\nname = \"m\"\nschedule = \"daily 02:00-03:00\"\ntimezone = \"Mars/Olympus\"\n",
            "t.toml",
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(err.diagnostics()[0].key, "maintenance[0].timezone", "{err}");
    }
}

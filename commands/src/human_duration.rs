//! Durations the way operators write and read them: [`HumanDuration`] parses `90s`,
//! `15m`, `365d`; [`age`] says how long ago something was (`3h ago`).

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A positive duration parsed from humantime text such as `15m` or `1h 30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parsed = humantime::parse_duration(text.trim()).map_err(|e| {
            format!("`{text}` is not a duration like `30s`, `15m`, `2h` or `7d` ({e})")
        })?;
        if parsed.is_zero() {
            return Err(format!("`{text}` must be longer than zero"));
        }
        Ok(Self(parsed))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How long before `now` `then` was: `just now`, `5m ago`, `3h ago`, `2d ago`.
pub fn age(now: jiff::Timestamp, then: jiff::Timestamp) -> String {
    let seconds = now.as_second().saturating_sub(then.as_second());
    match seconds {
        s if s < 60 => "just now".into(),
        s if s < 3_600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3_600),
        s => format!("{}d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operator_durations() {
        assert_eq!(
            "15m".parse::<HumanDuration>().unwrap().0,
            Duration::from_secs(900)
        );
        assert_eq!(
            "365d".parse::<HumanDuration>().unwrap().0,
            Duration::from_secs(365 * 86400)
        );
        assert!("0s".parse::<HumanDuration>().is_err());
        assert!(
            "soon"
                .parse::<HumanDuration>()
                .unwrap_err()
                .contains("soon")
        );
    }
}

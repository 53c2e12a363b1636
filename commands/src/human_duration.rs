//! `HumanDuration`: a duration written the way operators write it (`90s`, `15m`, `365d`).

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

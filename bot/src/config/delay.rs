//! [`Delay`]: a duration in the configuration that may be zero (`"0m"`), unlike
//! `HumanDuration`. Used by escalation levels and the cost section.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A delay that may be zero (`"0m"`: immediately).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Delay(pub Duration);

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(text.trim())
            .map(Delay)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration like `0m`, `15m` or `1h` ({e})"
                ))
            })
    }
}

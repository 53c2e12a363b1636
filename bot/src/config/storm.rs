//! `[outbox.storm]`: the storm roll-up. When a channel's queued chat work would take
//! longer than its horizon to drain at `[outbox] channel_rate`, new incidents for it are
//! folded into one storm board instead of getting a root message each
//! (`crate::incidents::storm`). `off` keeps one root per incident, whatever the backlog.

use std::collections::BTreeMap;

use opsbot_commands::HumanDuration;
use serde::{Deserialize, Deserializer};

use super::{Config, document::KeyPath, problems::Problems};

/// `[outbox.storm]`
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StormConfig {
    /// How much queued work (at the channel's rate) a channel may have before new
    /// incidents are folded into a board; `off`: never.
    #[serde(default = "default_horizon")]
    pub horizon: Horizon,
    /// The shortest time between two edits of a board.
    #[serde(default = "default_board_interval")]
    pub board_interval: HumanDuration,
    /// Per channel, `"PLATFORM:CHANNEL" = "off"` or a horizon of its own
    /// (`"slack:#payments" = "1m"`).
    #[serde(default)]
    pub channels: BTreeMap<String, Horizon>,
}

impl Default for StormConfig {
    fn default() -> Self {
        Self {
            horizon: default_horizon(),
            board_interval: default_board_interval(),
            channels: BTreeMap::new(),
        }
    }
}

fn default_horizon() -> Horizon {
    Horizon::After(HumanDuration::from_secs(20))
}

fn default_board_interval() -> HumanDuration {
    HumanDuration::from_secs(5)
}

/// `off`, or how long a channel's backlog may take to drain before incidents fold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Horizon {
    Off,
    After(HumanDuration),
}

impl Horizon {
    pub fn as_duration(self) -> Option<std::time::Duration> {
        match self {
            Horizon::Off => None,
            Horizon::After(d) => Some(d.as_duration()),
        }
    }
}

impl<'de> Deserialize<'de> for Horizon {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(Horizon::Off);
        }
        text.parse::<HumanDuration>()
            .map(Horizon::After)
            .map_err(|e| serde::de::Error::custom(format!("{e}; or `off`")))
    }
}

/// Platforms whose channels can storm (the console is not rate limited).
const PACED_PLATFORMS: &[&str] = &["slack", "discord"];

/// `PLATFORM:CHANNEL` split, or why it cannot be.
pub fn channel_key(key: &str) -> Result<(&str, &str), String> {
    let Some((platform, channel)) = key.split_once(':') else {
        return Err(format!(
            "`{key}` is not `PLATFORM:CHANNEL` (e.g. `slack:#alerts`, `discord:1234`)"
        ));
    };
    if !PACED_PLATFORMS.contains(&platform) {
        return Err(format!(
            "unknown platform `{platform}` in `{key}`; use one of: {} (the console never storms)",
            PACED_PLATFORMS.join(", ")
        ));
    }
    if channel.trim().is_empty() {
        return Err(format!("`{key}` names no channel"));
    }
    Ok((platform, channel))
}

pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let path = KeyPath::root().key("outbox").key("storm");
    let storm = &config.outbox.storm;
    if storm.board_interval.as_duration() < std::time::Duration::from_secs(1) {
        problems.push(
            path.key("board_interval"),
            "must be at least 1s (Slack and Discord allow about one call per second per channel)",
        );
    }
    for key in storm.channels.keys() {
        if let Err(message) = channel_key(key) {
            problems.push(path.key("channels").key(key.clone()), message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_off_and_per_channel_horizons() {
        let empty: StormConfig = toml::from_str("").unwrap();
        assert_eq!(empty, StormConfig::default());
        assert_eq!(
            empty.horizon.as_duration(),
            Some(std::time::Duration::from_secs(20))
        );
        let set: StormConfig = toml::from_str(
            "horizon = \"off\"\nboard_interval = \"2s\"\n\
             channels = { \"slack:#payments\" = \"1m\", \"discord:42\" = \"OFF\" }",
        )
        .unwrap();
        assert_eq!(set.horizon, Horizon::Off);
        assert_eq!(
            set.channels["slack:#payments"],
            Horizon::After(HumanDuration::from_secs(60))
        );
        assert_eq!(set.channels["discord:42"], Horizon::Off);
        let bad = toml::from_str::<StormConfig>("horizon = \"soon\"").unwrap_err();
        assert!(bad.to_string().contains("or `off`"), "{bad}");
        assert!(toml::from_str::<StormConfig>("horizon = \"0s\"").is_err());
    }

    #[test]
    fn check_config_names_the_line_of_each_bad_setting() {
        let text = "[outbox]\nchannel_rate = 1\n\n[outbox.storm]\nboard_interval = \"500ms\"\n\
                    channels = { \"#alerts\" = \"off\", \"slack:#ok\" = \"1m\" }\n";
        let err = crate::config::parse(text, "t.toml", &|_| None).unwrap_err();
        let found: Vec<(usize, String)> = err
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.key.clone()))
            .collect();
        assert_eq!(
            found,
            [
                (5, "outbox.storm.board_interval".to_string()),
                (6, "outbox.storm.channels.\"#alerts\"".to_string())
            ],
            "{err}"
        );
        assert!(err.to_string().contains("PLATFORM:CHANNEL"), "{err}");
        let err = crate::config::parse("[outbox.storm]\n\nhorizon = \"soon\"\n", "t.toml", &|_| {
            None
        })
        .unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(
            (d.line, d.key.as_str()),
            (3, "outbox.storm.horizon"),
            "{err}"
        );
        assert!(d.message.contains("or `off`"), "{err}");
    }

    #[test]
    fn channel_keys_name_a_paced_platform_and_a_channel() {
        assert_eq!(channel_key("slack:#a:b"), Ok(("slack", "#a:b")));
        assert!(
            channel_key("#alerts")
                .unwrap_err()
                .contains("PLATFORM:CHANNEL")
        );
        assert!(
            channel_key("console:ops")
                .unwrap_err()
                .contains("never storms")
        );
        assert!(
            channel_key("discord: ")
                .unwrap_err()
                .contains("names no channel")
        );
    }
}

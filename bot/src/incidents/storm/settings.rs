//! What the storm roll-up takes from `[outbox]` and `[outbox.storm]`: the channel rate
//! and each channel's horizon.

use std::{collections::HashMap, time::Duration};

use opsbot_commands::Platform;

use crate::config::outbox::OutboxConfig;

/// The storm roll-up's settings, ready to use.
#[derive(Clone, Debug, PartialEq)]
pub struct StormSettings {
    /// Chat calls per second per channel (`[outbox] channel_rate`); 0: unpaced, no storms.
    pub rate: f64,
    /// The horizon of channels not named in `channels`; `None`: off.
    pub horizon: Option<Duration>,
    /// Horizons of named channels.
    pub channels: HashMap<(Platform, String), Option<Duration>>,
    /// The shortest time between two edits of a board.
    pub board_interval: Duration,
}

impl StormSettings {
    pub fn from_config(outbox: &OutboxConfig) -> Self {
        let storm = &outbox.storm;
        let channels = storm
            .channels
            .iter()
            .filter_map(|(key, horizon)| {
                let (platform, channel) = crate::config::storm::channel_key(key).ok()?;
                Some((
                    (Platform::parse(platform)?, channel.to_string()),
                    horizon.as_duration(),
                ))
            })
            .collect();
        Self {
            rate: outbox.channel_rate,
            horizon: storm.horizon.as_duration(),
            channels,
            board_interval: storm.board_interval.as_duration(),
        }
    }

    /// The horizon of `channel`; `None` when incidents there are never folded (off, an
    /// unpaced outbox, or the console, which has no rate limit).
    pub fn horizon(&self, platform: Platform, channel: &str) -> Option<Duration> {
        if platform == Platform::Console || !(self.rate > 0.0 && self.rate.is_finite()) {
            return None;
        }
        self.channels
            .get(&(platform, channel.to_string()))
            .copied()
            .unwrap_or(self.horizon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_override_the_default_and_the_console_never_storms() {
        let config: OutboxConfig = toml::from_str(
            "channel_rate = 1\n[storm]\nhorizon = \"20s\"\n\
             channels = { \"slack:#quiet\" = \"off\", \"discord:42\" = \"1m\" }",
        )
        .unwrap();
        let settings = StormSettings::from_config(&config);
        let twenty = Some(Duration::from_secs(20));
        assert_eq!(settings.horizon(Platform::Slack, "#ops"), twenty);
        assert_eq!(settings.horizon(Platform::Slack, "#quiet"), None);
        assert_eq!(
            settings.horizon(Platform::Discord, "42"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(settings.horizon(Platform::Console, "console"), None);
        let unpaced: OutboxConfig = toml::from_str("channel_rate = 0").unwrap();
        assert_eq!(
            StormSettings::from_config(&unpaced).horizon(Platform::Slack, "#ops"),
            None
        );
    }
}

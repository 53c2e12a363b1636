//! `[outbox]`: how chat messages are delivered (pacing, retries, leases).

use opsbot_commands::HumanDuration;
use serde::Deserialize;

/// `[outbox]`
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Chat calls per second per channel (Slack allows about one); `0` disables pacing
    /// (and with it the coalescing of thread updates into digests).
    #[serde(default = "default_channel_rate")]
    pub channel_rate: f64,
    /// Attempts before a message is parked as failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How long a dispatcher holds the messages it claimed; after a crash, others take
    /// them over once it runs out.
    #[serde(default = "default_lease")]
    pub lease: HumanDuration,
    /// The first retry's backoff, doubled on each attempt up to five minutes (jittered);
    /// a platform's `Retry-After` takes precedence.
    #[serde(default = "default_retry_base")]
    pub retry_base: HumanDuration,
    /// How often an idle dispatcher looks for messages queued by other processes.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// `[outbox.storm]`: folding incidents into a storm board when a channel falls behind.
    #[serde(default)]
    pub storm: super::storm::StormConfig,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            channel_rate: default_channel_rate(),
            max_attempts: default_max_attempts(),
            lease: default_lease(),
            retry_base: default_retry_base(),
            poll_interval: default_poll_interval(),
            storm: super::storm::StormConfig::default(),
        }
    }
}

fn default_channel_rate() -> f64 {
    1.0
}

fn default_max_attempts() -> u32 {
    10
}

fn default_lease() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_retry_base() -> HumanDuration {
    HumanDuration::from_secs(1)
}

fn default_poll_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let empty: OutboxConfig = toml::from_str("").unwrap();
        assert_eq!(empty, OutboxConfig::default());
        assert_eq!(empty.channel_rate, 1.0);
        assert_eq!(empty.lease, HumanDuration::from_secs(30));
        let set: OutboxConfig =
            toml::from_str("channel_rate = 2\nmax_attempts = 3\nlease = \"1m\"").unwrap();
        assert_eq!(set.channel_rate, 2.0);
        assert_eq!(set.max_attempts, 3);
        assert_eq!(set.lease, HumanDuration::from_secs(60));
        assert!(toml::from_str::<OutboxConfig>("rate = 1").is_err());
    }
}

//! `[docker]`: how opsbot reaches Docker Engines for `kind = "compose"` targets.

use opsbot_commands::HumanDuration;
use serde::Deserialize;

/// `[docker]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    /// The Engine of compose targets without a `docker_host`: `unix:///PATH` or
    /// `tcp://HOST:PORT`.
    #[serde(default = "default_host")]
    pub default_host: String,
    /// Every Engine API call gives up after this long.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// How long `restart` and `scale` wait for a container to become healthy.
    #[serde(default = "default_health_timeout")]
    pub health_timeout: HumanDuration,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            default_host: default_host(),
            request_timeout: default_request_timeout(),
            health_timeout: default_health_timeout(),
        }
    }
}

fn default_host() -> String {
    "unix:///var/run/docker.sock".to_string()
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_health_timeout() -> HumanDuration {
    HumanDuration::from_secs(120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let empty: DockerConfig = toml::from_str("").unwrap();
        assert_eq!(empty, DockerConfig::default());
        assert_eq!(empty.default_host, "unix:///var/run/docker.sock");
        assert_eq!(empty.request_timeout, HumanDuration::from_secs(30));
        assert_eq!(empty.health_timeout, HumanDuration::from_secs(120));
        let set: DockerConfig =
            toml::from_str("default_host = \"tcp://docker-1:2375\"\nhealth_timeout = \"90s\"")
                .unwrap();
        assert_eq!(set.health_timeout, HumanDuration::from_secs(90));
        assert!(toml::from_str::<DockerConfig>("host = \"x\"").is_err());
    }
}

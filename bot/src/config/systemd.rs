//! `[systemd]`: how opsbot reaches systemd for `kind = "systemd"` targets.

use opsbot_commands::HumanDuration;
use serde::Deserialize;

/// `[systemd]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemdConfig {
    /// D-Bus address of targets without a `bus` (`unix:path=/run/dbus/system_bus_socket`);
    /// the standard system bus when absent.
    #[serde(default)]
    pub bus: Option<String>,
    /// How long `restart` waits for systemd's job to finish.
    #[serde(default = "default_job_timeout")]
    pub job_timeout: HumanDuration,
}

impl Default for SystemdConfig {
    fn default() -> Self {
        Self {
            bus: None,
            job_timeout: default_job_timeout(),
        }
    }
}

fn default_job_timeout() -> HumanDuration {
    HumanDuration::from_secs(120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let empty: SystemdConfig = toml::from_str("").unwrap();
        assert_eq!(empty, SystemdConfig::default());
        assert_eq!(empty.bus, None);
        assert_eq!(empty.job_timeout, HumanDuration::from_secs(120));
        let set: SystemdConfig =
            toml::from_str("bus = \"unix:path=/run/dbus/system_bus_socket\"\njob_timeout = \"3m\"")
                .unwrap();
        assert_eq!(set.job_timeout, HumanDuration::from_secs(180));
        assert!(toml::from_str::<SystemdConfig>("address = \"x\"").is_err());
    }
}

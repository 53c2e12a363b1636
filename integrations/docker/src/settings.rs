//! How the docker runtime behaves: which daemon it talks to by default and how long it
//! waits. The `opsbot` binary fills this from `[docker]` in `opsbot.toml`.

use std::time::Duration;

use crate::DockerHost;

/// Settings of the docker compose runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerSettings {
    /// The Engine of compose targets that name no `docker_host`.
    pub default_host: String,
    /// Every Engine API call gives up after this long (calls that stop a container get
    /// `stop_grace` on top).
    pub request_timeout: Duration,
    /// How long `restart` and `scale` wait for a container to become healthy.
    pub health_timeout: Duration,
    /// How often container health is polled while waiting.
    pub poll_interval: Duration,
    /// Seconds a container gets to stop before it is killed (`?t=` of restart and stop).
    pub stop_grace: Duration,
}

impl Default for DockerSettings {
    fn default() -> Self {
        Self {
            default_host: DockerHost::DEFAULT.to_string(),
            request_timeout: Duration::from_secs(30),
            health_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            stop_grace: Duration::from_secs(10),
        }
    }
}

//! How the systemd runtime behaves: which bus it talks to and how long it waits. The
//! `opsbot` binary fills this from `[systemd]` in `opsbot.toml`.

use std::time::Duration;

/// Settings of the systemd runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemdSettings {
    /// D-Bus address used when a target names no `bus`; the system bus when absent.
    pub bus: Option<String>,
    /// How long `restart` waits for systemd's job to finish (`JobRemoved`).
    pub job_timeout: Duration,
    /// How long connecting and each method call may take.
    pub call_timeout: Duration,
}

impl Default for SystemdSettings {
    fn default() -> Self {
        Self {
            bus: None,
            job_timeout: Duration::from_secs(120),
            call_timeout: Duration::from_secs(10),
        }
    }
}

//! How the systemd runtime behaves: which bus it talks to and how long it waits. The
//! `opsbot` binary fills this from `[systemd]` in `opsbot.toml`.

use std::{path::PathBuf, time::Duration};

/// Settings of the systemd runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemdSettings {
    /// D-Bus address used when a target names no `bus`; the system bus when absent.
    pub bus: Option<String>,
    /// How long `restart` waits for systemd's job to finish (`JobRemoved`).
    pub job_timeout: Duration,
    /// How long connecting and each method call may take.
    pub call_timeout: Duration,
    /// How long reading a unit's journal from systemd-journal-gatewayd may take.
    pub journal_timeout: Duration,
    /// TLS towards gateways served over `https://`.
    pub journal_tls: JournalTls,
}

/// TLS towards systemd-journal-gatewayd (`https://` targets): the CA its `--cert` is
/// signed by (else the system's web roots), and a client certificate for a gateway that
/// checks clients (`--trust`). PEM files; the key never leaves its file otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalTls {
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

impl Default for SystemdSettings {
    fn default() -> Self {
        Self {
            bus: None,
            job_timeout: Duration::from_secs(120),
            call_timeout: Duration::from_secs(10),
            journal_timeout: Duration::from_secs(10),
            journal_tls: JournalTls::default(),
        }
    }
}

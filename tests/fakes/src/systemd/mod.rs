//! systemd over D-Bus: a private `dbus-daemon` ([`DbusDaemon`]) and a fake systemd manager
//! served on it ([`FakeSystemd`]), written from systemd's D-Bus API documentation
//! (`org.freedesktop.systemd1(5)`).
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//!
//! use opsbot_fakes::systemd::{Behaviour, FakeSystemd, PrivateBus};
//!
//! let bus = PrivateBus::start(Duration::from_millis(50)).await; // jobs end after 50 ms
//! bus.systemd.add_unit("ollama.service", Behaviour::Starts).await;
//! // … point a client at `bus.address()` (`unix:path=/tmp/…/bus`), then look:
//! assert_eq!(bus.systemd.restarts("ollama.service"), 0);
//! bus.shutdown();
//! # }
//! ```

mod dbus_daemon;
mod manager;

use std::time::Duration;

pub use dbus_daemon::DbusDaemon;
pub use manager::{Behaviour, FakeSystemd, unit_path};

/// A private bus with the fake systemd manager on it: both stop when this is dropped.
pub struct PrivateBus {
    // Field order: the manager leaves the bus before the daemon stops.
    pub systemd: FakeSystemd,
    pub daemon: DbusDaemon,
}

impl PrivateBus {
    /// Starts `dbus-daemon` on a socket in a temp dir and the manager on it; restart jobs
    /// end `job_delay` after `RestartUnit`.
    pub async fn start(job_delay: Duration) -> Self {
        let daemon = DbusDaemon::start();
        let systemd = FakeSystemd::start(&daemon.address, job_delay).await;
        Self { systemd, daemon }
    }

    /// The bus address, as `[systemd] bus` and `SystemdSettings::bus` take it.
    pub fn address(&self) -> &str {
        &self.daemon.address
    }

    /// Leaves the bus and stops the daemon (as dropping does).
    pub fn shutdown(self) {
        drop(self);
    }
}

//! The systemd runtime against the fake systemd manager of `opsbot-fakes` on a private
//! `dbus-daemon`: one test binary, one file per behaviour.

mod failures;
mod inspect;
mod journal;
mod restart;

use std::{sync::Mutex, time::Duration};

use opsbot_commands::{Service, catalog::Target, context::Progress};
use opsbot_systemd::{SystemdRuntime, SystemdSettings};

pub use opsbot_fakes::systemd::{Behaviour, DbusDaemon, FakeSystemd};

/// A service whose target is `unit`, on the bus the runtime defaults to.
pub fn service(unit: &str) -> Service {
    let mut service = Service::new("ollama".parse().unwrap(), "prod".parse().unwrap()).with_target(
        Target::Systemd {
            unit: unit.into(),
            bus: None,
            journal: None,
        },
    );
    service.runbook = Some("runbooks/agent-aiops.txt".into());
    service
}

/// A runtime whose default bus is `address`, with a 2 s job timeout.
pub fn runtime(address: &str) -> SystemdRuntime {
    SystemdRuntime::new(SystemdSettings {
        bus: Some(address.to_string()),
        job_timeout: Duration::from_secs(2),
        call_timeout: Duration::from_secs(5),
        ..SystemdSettings::default()
    })
}

/// A private bus with the fake systemd on it (job delay 200 ms).
pub async fn bus_with_systemd() -> (DbusDaemon, FakeSystemd) {
    let daemon = DbusDaemon::start();
    let systemd = FakeSystemd::start(&daemon.address, Duration::from_millis(200)).await;
    (daemon, systemd)
}

/// Progress that keeps every message.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn report(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

impl Recorder {
    pub fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

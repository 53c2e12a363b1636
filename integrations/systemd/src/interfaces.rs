//! Client proxies for the parts of systemd's D-Bus API opsbot uses
//! (<https://www.freedesktop.org/software/systemd/man/latest/org.freedesktop.systemd1.html>):
//! the manager's `RestartUnit`, `GetUnit`, `LoadUnit`, `Subscribe` and `JobRemoved`, and a
//! unit's state properties.

use zbus::{OwnedObjectPath, proxy};

/// `org.freedesktop.systemd1.Manager` at `/org/freedesktop/systemd1`.
#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
pub trait Manager {
    /// Asks systemd to send signals (`JobRemoved`) to this client.
    fn subscribe(&self) -> zbus::Result<()>;

    /// Queues a restart job; `mode` is `replace`, `fail`, … Returns the job's path.
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// The object of a loaded unit (`NoSuchUnit` when it is not loaded).
    fn get_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    /// The object of a unit, loading it first when needed.
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    /// A job finished: `result` is done, canceled, timeout, failed, dependency or skipped.
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: OwnedObjectPath,
        unit: String,
        result: String,
    ) -> zbus::Result<()>;
}

/// `org.freedesktop.systemd1.Unit` of one unit object.
#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1"
)]
pub trait Unit {
    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn sub_state(&self) -> zbus::Result<String>;
}

/// `org.freedesktop.systemd1.Service`: present on service units only.
#[proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1"
)]
pub trait ServiceUnit {
    /// `success`, or why the service last failed (`exit-code`, `signal`, `timeout`, …).
    #[zbus(property)]
    fn result(&self) -> zbus::Result<String>;
}

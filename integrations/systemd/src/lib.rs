//! opsbot's systemd runtime: restart and inspect units through systemd's D-Bus API
//! (`org.freedesktop.systemd1.Manager` at `/org/freedesktop/systemd1`), with `zbus`.
//!
//! `restart` waits for systemd's job to finish (`JobRemoved`) and reports the unit's
//! state; `inspect` reports `ActiveState`/`SubState`/`Result`; `logs` reads the unit's
//! journal through systemd-journal-gatewayd's HTTP API when the target names one
//! (`journal`, see [`journal`]), else points to `journalctl -u UNIT`. systemd keeps no
//! revisions and runs one instance per unit, so `rollback` and `scale` point to the
//! runbook.

pub mod bus;
pub mod interfaces;
pub mod journal;
pub mod restart;
pub mod runtime;
pub mod settings;
pub mod unit;

pub use runtime::SystemdRuntime;
pub use settings::{JournalTls, SystemdSettings};

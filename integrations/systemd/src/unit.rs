//! A unit's state as systemd reports it (`ActiveState`, `SubState`, `Result`), how to read
//! it, and what it means for an operator.

use opsbot_commands::context::{HealthLevel, RuntimeError, RuntimeView};
use zbus::{Connection, OwnedObjectPath, proxy::CacheProperties};

use crate::{
    bus::Bus,
    interfaces::{ManagerProxy, ServiceUnitProxy, UnitProxy},
};

/// The state of one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitState {
    pub active: String,
    pub sub: String,
    /// The `Result` of a service unit (`success`, `exit-code`, …); absent for other kinds.
    pub result: Option<String>,
}

impl UnitState {
    /// `active (running)`, as `systemctl status` prints it.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.active, self.sub)
    }

    /// Running fine → Ok; changing state → Warning; failed or stopped → Critical.
    pub fn level(&self) -> HealthLevel {
        match self.active.as_str() {
            "active" => HealthLevel::Ok,
            "activating" if self.sub == "auto-restart" => HealthLevel::Critical,
            "activating" | "deactivating" | "reloading" | "refreshing" => HealthLevel::Warning,
            _ => HealthLevel::Critical,
        }
    }

    /// A failed unit, or one systemd is restarting after a crash.
    pub fn has_failed(&self) -> bool {
        self.active == "failed" || (self.active == "activating" && self.sub == "auto-restart")
    }

    /// `Result: exit-code`, when the service's last run did not succeed.
    pub fn result_line(&self) -> Option<String> {
        self.result
            .as_deref()
            .filter(|r| *r != "success")
            .map(|r| format!("Result: {r}"))
    }

    pub fn view(&self, unit: &str) -> RuntimeView {
        let mut details = Vec::new();
        details.extend(self.result_line());
        if self.level() != HealthLevel::Ok {
            details.push(format!("read `journalctl -u {unit}` on its host for why"));
        }
        RuntimeView {
            level: self.level(),
            summary: self.describe(),
            details,
        }
    }
}

/// The unit's object: `GetUnit`, or `LoadUnit` when systemd has unloaded the unit (an
/// inactive unit may be garbage-collected). A unit whose file does not exist is an error.
pub async fn unit_path(
    bus: &Bus,
    manager: &ManagerProxy<'_>,
    unit: &str,
) -> Result<OwnedObjectPath, RuntimeError> {
    match bus.bounded("GetUnit", manager.get_unit(unit)).await? {
        Ok(path) => Ok(path),
        Err(zbus::Error::MethodError(name, _, _))
            if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" =>
        {
            bus.bounded("LoadUnit", manager.load_unit(unit))
                .await?
                .map_err(|e| bus.error(Some(unit), e))
        }
        Err(e) => Err(bus.error(Some(unit), e)),
    }
}

/// Reads the unit's `LoadState`, `ActiveState`, `SubState` and (for services) `Result`.
pub async fn read_state(
    bus: &Bus,
    connection: &Connection,
    manager: &ManagerProxy<'_>,
    unit: &str,
) -> Result<UnitState, RuntimeError> {
    let path = unit_path(bus, manager, unit).await?;
    let properties = async {
        let proxy = UnitProxy::builder(connection)
            .path(path.clone())
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        let load = proxy.load_state().await?;
        let active = proxy.active_state().await?;
        let sub = proxy.sub_state().await?;
        Ok::<_, zbus::Error>((load, active, sub))
    };
    let (load, active, sub) = bus
        .bounded("reading the unit's state", properties)
        .await?
        .map_err(|e| bus.error(Some(unit), e))?;
    if load == "not-found" {
        return Err(RuntimeError::Failed(format!(
            "systemd on {} has no unit {unit} (LoadState not-found); check `unit` of the service in the catalog",
            bus.label()
        )));
    }
    let result = if unit.ends_with(".service") {
        let read = async {
            let proxy = ServiceUnitProxy::builder(connection)
                .path(path)
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            proxy.result().await
        };
        bus.bounded("reading the service's result", read)
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    Ok(UnitState {
        active,
        sub,
        result,
    })
}

/// `ollama` → `ollama.service`, as `systemctl` reads a name without a unit type.
pub fn unit_name(unit: &str) -> String {
    const TYPES: [&str; 11] = [
        ".service",
        ".socket",
        ".target",
        ".timer",
        ".mount",
        ".automount",
        ".swap",
        ".path",
        ".slice",
        ".scope",
        ".device",
    ];
    if TYPES.iter().any(|t| unit.ends_with(t)) {
        unit.to_string()
    } else {
        format!("{unit}.service")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(active: &str, sub: &str) -> UnitState {
        UnitState {
            active: active.into(),
            sub: sub.into(),
            result: None,
        }
    }

    #[test]
    fn levels_follow_active_state() {
        assert_eq!(state("active", "running").level(), HealthLevel::Ok);
        assert_eq!(state("activating", "start").level(), HealthLevel::Warning);
        assert_eq!(
            state("activating", "auto-restart").level(),
            HealthLevel::Critical
        );
        assert_eq!(state("failed", "failed").level(), HealthLevel::Critical);
        assert_eq!(state("inactive", "dead").level(), HealthLevel::Critical);
        assert_eq!(state("active", "running").describe(), "active (running)");
    }

    #[test]
    fn bare_names_are_services() {
        assert_eq!(unit_name("ollama"), "ollama.service");
        assert_eq!(unit_name("ollama.service"), "ollama.service");
        assert_eq!(unit_name("backup.timer"), "backup.timer");
    }
}

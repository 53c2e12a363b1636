//! [`SystemdRuntime`]: the [`Runtime`] of `Target::Systemd` services. Each action opens its
//! own connection to the target's bus (`bus` of the target, else the configured default,
//! else the system bus).

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    catalog::Target,
    context::{ActionReport, LogChunk, LogQuery, Progress, Runtime, RuntimeError, RuntimeView},
};

use crate::{
    SystemdSettings,
    bus::Bus,
    interfaces::ManagerProxy,
    unit::{read_state, unit_name},
};

/// Operates systemd units over D-Bus, and reads their journal over HTTP.
pub struct SystemdRuntime {
    settings: SystemdSettings,
    /// The journal client, built on first use (so bad TLS files fail `logs`, not start).
    journal: std::sync::Mutex<Option<reqwest::Client>>,
}

impl SystemdRuntime {
    pub fn new(settings: SystemdSettings) -> Self {
        Self {
            settings,
            journal: std::sync::Mutex::new(None),
        }
    }

    fn journal_client(&self) -> Result<reqwest::Client, RuntimeError> {
        let mut cached = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = cached.as_ref() {
            return Ok(client.clone());
        }
        let client =
            crate::journal::client(&self.settings.journal_tls, self.settings.journal_timeout)
                .map_err(|e| RuntimeError::Failed(format!("[systemd] {e}")))?;
        *cached = Some(client.clone());
        Ok(client)
    }

    pub fn settings(&self) -> &SystemdSettings {
        &self.settings
    }

    /// The unit name and bus of a `Target::Systemd`.
    fn target(&self, service: &Service) -> Result<(String, Bus), RuntimeError> {
        match &service.target {
            Target::Systemd { unit, bus, .. } => Ok((
                unit_name(unit),
                Bus {
                    address: bus.clone().or_else(|| self.settings.bus.clone()),
                    timeout: self.settings.call_timeout,
                },
            )),
            _ => Err(RuntimeError::foreign_target(
                "systemd",
                "systemd units",
                service,
            )),
        }
    }
}

#[async_trait]
impl Runtime for SystemdRuntime {
    async fn restart(
        &self,
        service: &Service,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let (unit, bus) = self.target(service)?;
        crate::restart::restart(&bus, self.settings.job_timeout, &unit, progress).await
    }

    async fn rollback(
        &self,
        service: &Service,
        _to_revision: Option<i64>,
        _progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let (unit, _) = self.target(service)?;
        Err(RuntimeError::by_hand(
            service,
            format!("systemd keeps no previous revision of {unit}"),
        ))
    }

    async fn scale(
        &self,
        service: &Service,
        _replicas: u32,
        _progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let (unit, _) = self.target(service)?;
        Err(RuntimeError::by_hand(
            service,
            format!("systemd unit {unit} runs as one instance and cannot be scaled"),
        ))
    }

    async fn logs(
        &self,
        service: &Service,
        query: &LogQuery,
    ) -> Result<Vec<LogChunk>, RuntimeError> {
        let (unit, _) = self.target(service)?;
        let Target::Systemd {
            journal: Some(journal),
            ..
        } = &service.target
        else {
            return Err(RuntimeError::NotSupported(format!(
                "opsbot does not read the journal; read `journalctl -u {unit}` on its host"
            )));
        };
        let client = self.journal_client()?;
        crate::journal::read_unit(&client, journal, &unit, query).await
    }

    async fn inspect(&self, service: &Service) -> Result<RuntimeView, RuntimeError> {
        let (unit, bus) = self.target(service)?;
        let connection = bus.connect().await?;
        let manager = bus
            .bounded(
                "opening the systemd manager",
                ManagerProxy::new(&connection),
            )
            .await?
            .map_err(|e| bus.error(Some(&unit), e))?;
        let state = read_state(&bus, &connection, &manager, &unit).await?;
        Ok(state.view(&unit))
    }
}

//! Reaching systemd: connecting to the system bus or a configured D-Bus address, each
//! step bounded by a timeout, and turning D-Bus failures into errors an operator can act
//! on (`NoSuchUnit`, access denied, no systemd on the bus, bus unreachable).

use std::{future::Future, time::Duration};

use opsbot_commands::context::RuntimeError;
use zbus::{Connection, connection};

/// Which bus a call goes to: an address, or the standard system bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bus {
    pub address: Option<String>,
    pub timeout: Duration,
}

impl Bus {
    /// `the system bus` or `D-Bus unix:path=/run/…`, for messages.
    pub fn label(&self) -> String {
        match &self.address {
            Some(address) => format!("D-Bus {address}"),
            None => "the system bus".to_string(),
        }
    }

    pub async fn connect(&self) -> Result<Connection, RuntimeError> {
        let builder = match &self.address {
            Some(address) => connection::Builder::address(address.as_str()),
            None => connection::Builder::system(),
        };
        self.bounded("connecting", builder.build())
            .await?
            .map_err(|e| self.error(None, e))
    }

    /// Runs one step with the call timeout; running out is "unreachable".
    pub async fn bounded<T>(
        &self,
        step: &str,
        future: impl Future<Output = T>,
    ) -> Result<T, RuntimeError> {
        tokio::time::timeout(self.timeout, future)
            .await
            .map_err(|_| RuntimeError::Unreachable {
                what: self.label(),
                reason: format!("{step} took longer than {}s", self.timeout.as_secs_f32()),
            })
    }

    /// The error a command shows for a failed D-Bus call about `unit`.
    pub fn error(&self, unit: Option<&str>, error: zbus::Error) -> RuntimeError {
        let bus = self.label();
        let unit = unit.unwrap_or("the unit");
        match error {
            zbus::Error::MethodError(name, detail, _) => {
                let detail = detail.unwrap_or_default();
                match name.as_str() {
                    "org.freedesktop.systemd1.NoSuchUnit" => RuntimeError::Failed(format!(
                        "systemd on {bus} has no unit {unit} ({detail}); check `unit` of the service in the catalog"
                    )),
                    "org.freedesktop.systemd1.UnitMasked" => {
                        RuntimeError::Refused(format!("{unit} is masked on {bus}: {detail}"))
                    }
                    other => RuntimeError::Failed(format!(
                        "systemd on {bus} refused ({other}): {detail}"
                    )),
                }
            }
            zbus::Error::FDO(fdo) => match *fdo {
                zbus::fdo::Error::AccessDenied(detail)
                | zbus::fdo::Error::InteractiveAuthorizationRequired(detail) => {
                    RuntimeError::Refused(format!(
                        "systemd on {bus} does not let opsbot manage {unit}: {detail} (grant it with a polkit rule)"
                    ))
                }
                zbus::fdo::Error::ServiceUnknown(detail)
                | zbus::fdo::Error::NameHasNoOwner(detail)
                | zbus::fdo::Error::SpawnChildExited(detail)
                | zbus::fdo::Error::SpawnServiceNotFound(detail)
                | zbus::fdo::Error::SpawnFailed(detail) => RuntimeError::Unreachable {
                    what: format!("systemd on {bus}"),
                    reason: format!("no systemd manager answers there ({detail})"),
                },
                other => RuntimeError::Failed(format!("systemd on {bus}: {other}")),
            },
            zbus::Error::Address(reason) => {
                RuntimeError::Failed(format!("{bus} is not a D-Bus address: {reason}"))
            }
            error @ (zbus::Error::Connection(..)
            | zbus::Error::InputOutput(_)
            | zbus::Error::Handshake(_)) => RuntimeError::Unreachable {
                what: bus,
                reason: error.to_string(),
            },
            other => RuntimeError::Failed(format!("{bus}: {other}")),
        }
    }
}

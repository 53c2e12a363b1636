//! Where a service runs, and therefore how opsbot restarts, rolls back, scales and tails it.

use serde::{Deserialize, Serialize};

/// The runtime that hosts a service. Each variant names exactly what an operator would
/// type by hand (`kubectl -n NS ... deployment/NAME`, `docker compose -p P ... SERVICE`,
/// `systemctl restart UNIT`), never a command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A Kubernetes Deployment.
    Kubernetes {
        /// kubeconfig context; the in-cluster or current context when absent.
        #[serde(default)]
        context: Option<String>,
        namespace: String,
        deployment: String,
        /// Container whose logs `logs` shows; the first container when absent.
        #[serde(default)]
        container: Option<String>,
    },
    /// A service of a docker compose project, driven through the Docker Engine API.
    Compose {
        project: String,
        service: String,
        /// `unix:///var/run/docker.sock` (the default) or `tcp://host:2375`.
        #[serde(default)]
        docker_host: Option<String>,
        /// Whether `scale` may change the number of containers of this service.
        #[serde(default)]
        scalable: bool,
    },
    /// A systemd unit, driven over D-Bus.
    Systemd {
        unit: String,
        /// D-Bus address of the system bus; the standard system bus when absent.
        #[serde(default)]
        bus: Option<String>,
        /// Base URL of systemd-journal-gatewayd on the unit's host
        /// (`http://aiops-host:19531`): `logs` reads the unit's journal there. Without
        /// it, `logs` points to `journalctl -u UNIT`.
        #[serde(default)]
        journal: Option<String>,
    },
    /// Nothing to operate (an external API): health checks and cost only.
    #[default]
    None,
}

impl Target {
    /// A short human label: `kubernetes deployment userwhisperer-prod/ai-orchestration`.
    pub fn describe(&self) -> String {
        match self {
            Target::Kubernetes {
                namespace,
                deployment,
                context,
                ..
            } => match context {
                Some(ctx) => format!("kubernetes deployment {namespace}/{deployment} ({ctx})"),
                None => format!("kubernetes deployment {namespace}/{deployment}"),
            },
            Target::Compose {
                project, service, ..
            } => format!("compose service {project}/{service}"),
            Target::Systemd { unit, .. } => format!("systemd unit {unit}"),
            Target::None => "no runtime target".to_string(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::Kubernetes { .. } => "kubernetes",
            Target::Compose { .. } => "compose",
            Target::Systemd { .. } => "systemd",
            Target::None => "none",
        }
    }
}

//! Routes runtime actions (restart, rollback, scale) to the adapter for a service's target
//! kind. A target kind without an adapter answers with a clear "not supported" error.

use std::sync::Arc;

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    catalog::Target,
    context::{
        ActionReport, LogChunk, LogQuery, Progress, Revision, Runtime, RuntimeError, RuntimeView,
    },
};

/// The adapters this opsbot was given, one per target kind.
#[derive(Clone, Default)]
pub struct RuntimeRouter {
    pub kubernetes: Option<Arc<dyn Runtime>>,
    pub compose: Option<Arc<dyn Runtime>>,
    pub systemd: Option<Arc<dyn Runtime>>,
}

/// An adapter could not be built from configuration.
#[derive(Debug, thiserror::Error)]
#[error("{adapter} adapter: {message}")]
pub struct AdapterError {
    pub adapter: &'static str,
    pub message: String,
}

impl RuntimeRouter {
    /// `runtime` for every target kind (a test's or benchmark's recording runtime).
    pub fn every_kind(runtime: Arc<dyn Runtime>) -> Self {
        Self {
            kubernetes: Some(runtime.clone()),
            compose: Some(runtime.clone()),
            systemd: Some(runtime),
        }
    }

    /// The adapters the configuration asks for. Each adapter crate contributes one line
    /// here; a target kind without one answers "not supported" at run time.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, AdapterError> {
        let mut router = RuntimeRouter::default();
        let has = |kind: &str| config.services.iter().any(|s| s.target.kind() == kind);
        if has("compose") {
            router.compose = Some(Arc::new(docker_runtime(config)?));
        }
        if has("kubernetes") {
            // Clients are built on first use: a missing kubeconfig fails those commands
            // with a clear error instead of keeping opsbot from starting.
            router.kubernetes = Some(Arc::new(opsbot_kubernetes::KubernetesRuntime::new(
                opsbot_kubernetes::KubernetesSettings {
                    kubeconfig: config.kubernetes.kubeconfig.clone(),
                    request_timeout: config.kubernetes.request_timeout.as_duration(),
                    rollout_timeout: config.kubernetes.rollout_timeout.as_duration(),
                    ..Default::default()
                },
            )));
        }
        if has("systemd") {
            router.systemd = Some(Arc::new(opsbot_systemd::SystemdRuntime::new(
                opsbot_systemd::SystemdSettings {
                    bus: config.systemd.bus.clone(),
                    job_timeout: config.systemd.job_timeout.as_duration(),
                    journal_timeout: config.systemd.journal_timeout.as_duration(),
                    journal_tls: config.systemd.journal_tls(),
                    ..Default::default()
                },
            )));
        }
        Ok(router)
    }

    fn adapter(&self, service: &Service) -> Result<&Arc<dyn Runtime>, RuntimeError> {
        let (adapter, kind) = match &service.target {
            Target::Kubernetes { .. } => (&self.kubernetes, "Kubernetes"),
            Target::Compose { .. } => (&self.compose, "docker compose"),
            Target::Systemd { .. } => (&self.systemd, "systemd"),
            Target::None => {
                return Err(RuntimeError::NotSupported(format!(
                    "{} has no runtime target in the catalog, so there is nothing to operate",
                    service.name
                )));
            }
        };
        adapter.as_ref().ok_or_else(|| {
            RuntimeError::NotSupported(format!(
                "this opsbot has no {kind} adapter configured, so it cannot operate {}",
                service.name
            ))
        })
    }
}

/// The docker compose adapter from `[docker]`; every `docker_host` of the catalog must parse.
fn docker_runtime(
    config: &crate::config::Config,
) -> Result<opsbot_docker::DockerRuntime, AdapterError> {
    let error = |message: String| AdapterError {
        adapter: "docker",
        message,
    };
    for service in &config.services {
        if let Target::Compose {
            docker_host: Some(host),
            ..
        } = &service.target
        {
            opsbot_docker::DockerHost::parse(host)
                .map_err(|e| error(format!("service {}: {e}", service.name)))?;
        }
    }
    opsbot_docker::DockerRuntime::new(opsbot_docker::DockerSettings {
        default_host: config.docker.default_host.clone(),
        request_timeout: config.docker.request_timeout.as_duration(),
        health_timeout: config.docker.health_timeout.as_duration(),
        ..Default::default()
    })
    .map_err(|e| error(format!("[docker] default_host: {e}")))
}

#[async_trait]
impl Runtime for RuntimeRouter {
    async fn restart(
        &self,
        service: &Service,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        self.adapter(service)?.restart(service, progress).await
    }

    async fn rollback(
        &self,
        service: &Service,
        to_revision: Option<i64>,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        self.adapter(service)?
            .rollback(service, to_revision, progress)
            .await
    }

    async fn scale(
        &self,
        service: &Service,
        replicas: u32,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        self.adapter(service)?
            .scale(service, replicas, progress)
            .await
    }

    async fn history(&self, service: &Service) -> Result<Vec<Revision>, RuntimeError> {
        self.adapter(service)?.history(service).await
    }

    async fn logs(
        &self,
        service: &Service,
        query: &LogQuery,
    ) -> Result<Vec<LogChunk>, RuntimeError> {
        self.adapter(service)?.logs(service, query).await
    }

    async fn inspect(&self, service: &Service) -> Result<RuntimeView, RuntimeError> {
        self.adapter(service)?.inspect(service).await
    }
}

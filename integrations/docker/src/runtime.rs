//! [`DockerRuntime`]: the [`Runtime`] of `Target::Compose` services, one Engine client per
//! docker host, reused across calls.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    catalog::Target,
    context::{ActionReport, LogChunk, LogQuery, Progress, Runtime, RuntimeError, RuntimeView},
};

use crate::{DockerHost, DockerSettings, client::Engine, compose::ComposeService};

/// Operates docker compose services through the Docker Engine API.
pub struct DockerRuntime {
    settings: DockerSettings,
    default_host: DockerHost,
    engines: Mutex<HashMap<DockerHost, Arc<Engine>>>,
}

impl DockerRuntime {
    /// Fails when `settings.default_host` is not a docker host address.
    pub fn new(settings: DockerSettings) -> Result<Self, String> {
        let default_host = DockerHost::parse(&settings.default_host)?;
        Ok(Self {
            settings,
            default_host,
            engines: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &DockerSettings {
        &self.settings
    }

    fn engine(&self, host: &Option<String>) -> Result<Arc<Engine>, RuntimeError> {
        let host = match host {
            Some(text) => DockerHost::parse(text).map_err(RuntimeError::Failed)?,
            None => self.default_host.clone(),
        };
        let mut engines = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        Ok(engines
            .entry(host.clone())
            .or_insert_with(|| Arc::new(Engine::new(host, self.settings.request_timeout)))
            .clone())
    }

    /// The Engine and compose service of a `Target::Compose`, and whether it may scale.
    fn target(
        &self,
        service: &Service,
    ) -> Result<(Arc<Engine>, ComposeService, bool), RuntimeError> {
        match &service.target {
            Target::Compose {
                project,
                service: name,
                docker_host,
                scalable,
            } => Ok((
                self.engine(docker_host)?,
                ComposeService {
                    project: project.clone(),
                    service: name.clone(),
                },
                *scalable,
            )),
            _ => Err(RuntimeError::foreign_target(
                "docker",
                "compose services",
                service,
            )),
        }
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn restart(
        &self,
        service: &Service,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let (engine, compose, _) = self.target(service)?;
        crate::restart::restart(&engine, &compose, &self.settings, progress).await
    }

    async fn rollback(
        &self,
        service: &Service,
        _to_revision: Option<i64>,
        _progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        self.target(service)?;
        Err(RuntimeError::by_hand(
            service,
            format!(
                "docker compose keeps no previous revision of {}",
                service.name
            ),
        ))
    }

    async fn scale(
        &self,
        service: &Service,
        replicas: u32,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let (engine, compose, scalable) = self.target(service)?;
        if !scalable {
            return Err(RuntimeError::by_hand(
                service,
                format!(
                    "compose service {} is not marked `scalable = true` in the catalog, so opsbot does not scale it",
                    compose.label()
                ),
            ));
        }
        crate::scale::scale(&engine, &compose, replicas, &self.settings, progress).await
    }

    async fn logs(
        &self,
        service: &Service,
        query: &LogQuery,
    ) -> Result<Vec<LogChunk>, RuntimeError> {
        let (engine, compose, _) = self.target(service)?;
        crate::logs::logs(&engine, &compose, query).await
    }

    async fn inspect(&self, service: &Service) -> Result<RuntimeView, RuntimeError> {
        let (engine, compose, _) = self.target(service)?;
        crate::view::inspect(&engine, &compose).await
    }
}

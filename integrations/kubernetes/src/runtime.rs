//! [`KubernetesRuntime`]: the [`Runtime`] of services whose target is a Kubernetes
//! Deployment. It resolves the service's target to a [`Session`] (the client of the
//! target's kubeconfig context, namespace, deployment) and hands it to the operation.

use std::sync::Arc;

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    catalog::Target,
    context::{
        ActionReport, LogChunk, LogQuery, Progress, Revision, Runtime, RuntimeError, RuntimeView,
    },
};

use crate::{
    KubernetesSettings, clients::ClientCache, history, inspect, logs, restart, rollback, scale,
    session::Session,
};

/// Operates Kubernetes Deployments with kubectl's semantics.
pub struct KubernetesRuntime {
    settings: Arc<KubernetesSettings>,
    clients: ClientCache,
}

impl KubernetesRuntime {
    /// A runtime that builds its clients on first use, so a missing kubeconfig fails the
    /// commands that need it (with a clear error), not opsbot's start.
    pub fn new(settings: KubernetesSettings) -> Self {
        let settings = Arc::new(settings);
        Self {
            clients: ClientCache::new(settings.clone()),
            settings,
        }
    }

    pub fn settings(&self) -> &KubernetesSettings {
        &self.settings
    }

    async fn session(&self, service: &Service) -> Result<Session<'_>, RuntimeError> {
        let Target::Kubernetes {
            context,
            namespace,
            deployment,
            container,
        } = &service.target
        else {
            return Err(RuntimeError::foreign_target(
                "Kubernetes",
                "deployments",
                service,
            ));
        };
        let cluster = self.clients.get(context.as_deref()).await?;
        Ok(Session {
            cluster,
            namespace: namespace.clone(),
            deployment: deployment.clone(),
            container: container.clone(),
            settings: &self.settings,
        })
    }
}

#[async_trait]
impl Runtime for KubernetesRuntime {
    async fn restart(
        &self,
        service: &Service,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let session = self.session(service).await?;
        Ok(restart::restart(&session, progress).await?)
    }

    async fn rollback(
        &self,
        service: &Service,
        to_revision: Option<i64>,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let session = self.session(service).await?;
        Ok(rollback::rollback(&session, to_revision, progress).await?)
    }

    async fn scale(
        &self,
        service: &Service,
        replicas: u32,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        let session = self.session(service).await?;
        Ok(scale::scale(&session, replicas, progress).await?)
    }

    async fn history(&self, service: &Service) -> Result<Vec<Revision>, RuntimeError> {
        let session = self.session(service).await?;
        Ok(history::history(&session).await?)
    }

    async fn logs(
        &self,
        service: &Service,
        query: &LogQuery,
    ) -> Result<Vec<LogChunk>, RuntimeError> {
        let session = self.session(service).await?;
        Ok(logs::logs(&session, query).await?)
    }

    async fn inspect(&self, service: &Service) -> Result<RuntimeView, RuntimeError> {
        let session = self.session(service).await?;
        Ok(inspect::inspect(&session).await?)
    }
}

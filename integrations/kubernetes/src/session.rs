//! One operation on one Deployment: the client, where the deployment is, and the single
//! place every API call goes through, so each is bounded by the request timeout and each
//! failure names the verb and resource (the words of an RBAC rule).

use std::{error::Error as _, future::Future, io};

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Event, Pod},
};
use kube::Api;

use crate::{KubeError, KubernetesSettings, clients::ClusterClient};

/// Everything an operation on one Deployment needs.
pub(crate) struct Session<'a> {
    pub cluster: ClusterClient,
    pub namespace: String,
    pub deployment: String,
    /// The container whose logs are shown; the pod's first container when absent.
    pub container: Option<String>,
    pub settings: &'a KubernetesSettings,
}

impl Session<'_> {
    pub fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.cluster.client.clone(), &self.namespace)
    }

    pub fn replica_sets(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.cluster.client.clone(), &self.namespace)
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.cluster.client.clone(), &self.namespace)
    }

    pub fn events(&self) -> Api<Event> {
        Api::namespaced(self.cluster.client.clone(), &self.namespace)
    }

    /// Runs one API call within the request timeout. `verb` and `resource` are written as
    /// in a Role rule (`patch`, `deployments/scale`); `name` is the object, if any.
    pub async fn call<T>(
        &self,
        verb: &'static str,
        resource: &'static str,
        name: Option<&str>,
        request: impl Future<Output = kube::Result<T>>,
    ) -> Result<T, KubeError> {
        let after = self.settings.request_timeout;
        match tokio::time::timeout(after, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.error(verb, resource, name, error)),
            Err(_elapsed) => Err(KubeError::TimedOut {
                server: self.cluster.server.clone(),
                verb,
                resource,
                after,
            }),
        }
    }

    /// The deployment, as the API server has it now.
    pub async fn get_deployment(&self) -> Result<Deployment, KubeError> {
        let api = self.deployments();
        self.call(
            "get",
            "deployments",
            Some(&self.deployment),
            api.get(&self.deployment),
        )
        .await
    }

    /// A failed call (or a failed watch stream) as the operator's error.
    pub fn error(
        &self,
        verb: &'static str,
        resource: &'static str,
        name: Option<&str>,
        error: kube::Error,
    ) -> KubeError {
        match error {
            kube::Error::Api(status) => match status.code {
                401 => KubeError::Unauthorized {
                    server: self.cluster.server.clone(),
                    message: status.message,
                },
                403 => KubeError::Forbidden {
                    verb,
                    resource,
                    namespace: self.namespace.clone(),
                    message: status.message,
                },
                404 => KubeError::NotFound {
                    resource,
                    name: name.unwrap_or_default().to_string(),
                    namespace: self.namespace.clone(),
                },
                code => KubeError::Api {
                    verb,
                    resource,
                    code,
                    reason: status.reason,
                    message: status.message,
                },
            },
            kube::Error::Service(_) | kube::Error::HyperError(_) => match io_error_kind(&error) {
                Some(io::ErrorKind::TimedOut) => KubeError::TimedOut {
                    server: self.cluster.server.clone(),
                    verb,
                    resource,
                    after: self.settings.request_timeout,
                },
                Some(_) => KubeError::Unreachable {
                    server: self.cluster.server.clone(),
                    reason: root_cause(&error),
                },
                None if root_cause(&error).contains("onnect") => KubeError::Unreachable {
                    server: self.cluster.server.clone(),
                    reason: root_cause(&error),
                },
                None => KubeError::Transport {
                    verb,
                    resource,
                    message: root_cause(&error),
                },
            },
            other => KubeError::Transport {
                verb,
                resource,
                message: other.to_string(),
            },
        }
    }
}

/// The kind of the first `io::Error` in an error's source chain.
fn io_error_kind(error: &kube::Error) -> Option<io::ErrorKind> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = cause.source();
    }
    None
}

/// The innermost cause's text: `Connection refused (os error 111)`, not `ServiceError: …`.
fn root_cause(error: &kube::Error) -> String {
    let mut deepest: &dyn std::error::Error = error;
    while let Some(cause) = deepest.source() {
        deepest = cause;
    }
    deepest.to_string()
}

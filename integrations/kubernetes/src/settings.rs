//! What the adapter is told by configuration: where the kubeconfig is and how long to wait.

use std::{path::PathBuf, time::Duration};

/// Settings of the Kubernetes adapter (the `[kubernetes]` section of `opsbot.toml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesSettings {
    /// The kubeconfig to read. When absent: `$KUBECONFIG` or `~/.kube/config`, and the
    /// in-cluster service account when neither exists (and no context is asked for).
    pub kubeconfig: Option<PathBuf>,
    /// Upper bound of every single API call.
    pub request_timeout: Duration,
    /// How long `restart`, `rollback` and `scale` follow the rollout before they report a
    /// timeout.
    pub rollout_timeout: Duration,
    /// How long to wait before reading the deployment again after a failed watch (and how
    /// often it is read when the Role grants no `watch`). Rollouts are followed by a watch,
    /// so this is not how quickly a finished rollout is noticed.
    pub retry_interval: Duration,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            request_timeout: Duration::from_secs(30),
            rollout_timeout: Duration::from_secs(600),
            retry_interval: Duration::from_secs(2),
        }
    }
}

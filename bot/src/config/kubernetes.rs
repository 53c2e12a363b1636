//! `[kubernetes]`: how opsbot reaches Kubernetes API servers for `kind = "kubernetes"`
//! targets, and how long it waits for them.

use std::path::PathBuf;

use opsbot_commands::HumanDuration;
use serde::Deserialize;

/// `[kubernetes]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// The kubeconfig to read; when absent, `$KUBECONFIG` or `~/.kube/config`, else the
    /// in-cluster service account. A target's `context` picks a context of this file.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// Every API call gives up after this long.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// How long `restart`, `rollback` and `scale` follow the rollout before reporting a
    /// timeout.
    #[serde(default = "default_rollout_timeout")]
    pub rollout_timeout: HumanDuration,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            request_timeout: default_request_timeout(),
            rollout_timeout: default_rollout_timeout(),
        }
    }
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_rollout_timeout() -> HumanDuration {
    HumanDuration::from_secs(600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let empty: KubernetesConfig = toml::from_str("").unwrap();
        assert_eq!(empty, KubernetesConfig::default());
        assert_eq!(empty.kubeconfig, None);
        assert_eq!(empty.request_timeout, HumanDuration::from_secs(30));
        assert_eq!(empty.rollout_timeout, HumanDuration::from_secs(600));
        let set: KubernetesConfig = toml::from_str(
            "kubeconfig = \"/etc/opsbot/kubeconfig\"\nrequest_timeout = \"10s\"\nrollout_timeout = \"15m\"",
        )
        .unwrap();
        assert_eq!(
            set.kubeconfig,
            Some(PathBuf::from("/etc/opsbot/kubeconfig"))
        );
        assert_eq!(set.request_timeout, HumanDuration::from_secs(10));
        assert_eq!(set.rollout_timeout, HumanDuration::from_secs(900));
        assert!(toml::from_str::<KubernetesConfig>("context = \"x\"").is_err());
    }
}

//! Leadership by Kubernetes Lease (`coordination.k8s.io/v1`), through kube-lease-manager:
//! the Lease `PREFIX-ROLE` in the replica's namespace names its holder and when it last
//! renewed. The owner renews before `lease_duration` runs out; when it stops (a dead pod)
//! the Lease expires and another replica takes it. RBAC: get, create and patch on leases
//! (deploy/kubernetes/overlays/replicas-postgres/lease-role.yaml).
//!
//! A failed renewal (API server unreachable) turns ownership off at once, before the Lease
//! can expire and be taken by another replica; the manager is then rebuilt and tries
//! again (an identity still holding the Lease gets it back immediately).

use std::time::Duration;

use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;

use super::{
    ElectedBy, LeadershipError, LeadershipHandle, default_identity, lease_namespace, stop_requested,
};
use crate::config::{LeadershipConfig, kubernetes::KubernetesConfig};

/// Which Lease, held as whom, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// Seconds a holder keeps the Lease without renewing.
    pub duration_seconds: u64,
    /// Seconds before expiry at which the holder renews.
    pub grace_seconds: u64,
    /// Pause after an API error before building the manager again.
    pub retry: Duration,
}

impl LeaseSettings {
    /// The settings of `role` from `[leadership]` and the process environment.
    pub fn from_config(
        config: &LeadershipConfig,
        role: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let duration_seconds = config.lease_duration.as_duration().as_secs().max(3);
        Self {
            namespace: lease_namespace(config.lease_namespace.as_deref(), env),
            name: format!("{}-{role}", config.lease_prefix),
            identity: config
                .identity
                .clone()
                .unwrap_or_else(|| default_identity(env)),
            duration_seconds,
            // Renew a third of the duration before expiry: two renewals may fail in a row.
            grace_seconds: (duration_seconds / 3).max(1),
            retry: config.retry_interval.as_duration(),
        }
    }
}

pub(crate) async fn spawn(
    config: &LeadershipConfig,
    kubernetes: &KubernetesConfig,
    role: &str,
) -> Result<LeadershipHandle, LeadershipError> {
    let client = client(kubernetes).await?;
    let env = |name: &str| std::env::var(name).ok();
    Ok(spawn_with_client(
        client,
        LeaseSettings::from_config(config, role, &env),
        role,
    ))
}

/// Starts competing for the Lease of `settings` with `client`.
pub fn spawn_with_client(
    client: kube::Client,
    settings: LeaseSettings,
    role: &str,
) -> LeadershipHandle {
    let (owner_tx, owner) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(client, settings, owner_tx, stop_rx));
    LeadershipHandle::new(role, ElectedBy::KubernetesLease, owner, stop, task)
}

/// The kube client of `[kubernetes] kubeconfig`, else the default loading rules
/// (`$KUBECONFIG`, `~/.kube/config`, then the in-cluster service account).
async fn client(kubernetes: &KubernetesConfig) -> Result<kube::Client, LeadershipError> {
    let error = |message: String| LeadershipError::Kubernetes(message);
    let mut config = match &kubernetes.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| error(format!("cannot read kubeconfig {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| error(format!("kubeconfig {}: {e}", path.display())))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            error(format!(
                "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a cluster: {e}"
            ))
        })?,
    };
    // Never credentials over plain http://; opsbot's User-Agent on every request.
    opsbot_kubernetes::prepare_client_config(&mut config, None).map_err(error)?;
    kube::Client::try_from(config).map_err(|e| error(format!("cannot build a client: {e}")))
}

async fn build(
    client: &kube::Client,
    settings: &LeaseSettings,
) -> kube_lease_manager::Result<LeaseManager> {
    LeaseManagerBuilder::new(client.clone(), &settings.name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(settings.duration_seconds)
        .with_grace(settings.grace_seconds)
        .build()
        .await
}

async fn run(
    client: kube::Client,
    settings: LeaseSettings,
    owner: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let lease = format!("{}/{}", settings.namespace, settings.name);
    let mut failures = 0u32;
    loop {
        match build(&client, &settings).await {
            Ok(manager) => loop {
                failures = 0;
                tokio::select! {
                    () = stop_requested(&mut stop) => {
                        owner.send_replace(false);
                        if let Err(error) = manager.release().await {
                            tracing::warn!(%lease, %error, "leadership: cannot release the Lease");
                        }
                        tracing::info!(%lease, "leadership released");
                        return;
                    }
                    changed = manager.changed() => match changed {
                        Ok(owns) => {
                            owner.send_replace(owns);
                            if owns {
                                tracing::info!(%lease, identity = %settings.identity, "leadership acquired (Kubernetes Lease)");
                            } else {
                                tracing::warn!(%lease, "leadership lost: another replica holds the Lease");
                            }
                        }
                        Err(error) => {
                            if owner.send_replace(false) {
                                tracing::warn!(%lease, %error, "leadership lost: cannot renew the Lease");
                            } else {
                                tracing::debug!(%lease, %error, "leadership: Lease API error");
                            }
                            break;
                        }
                    }
                }
            },
            Err(error) => {
                failures += 1;
                if super::worth_a_warning(failures) {
                    tracing::warn!(%lease, %error, failures, "leadership: cannot use the Lease (RBAC? API server?); retrying");
                } else {
                    tracing::debug!(%lease, %error, "leadership: cannot use the Lease");
                }
            }
        }
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            () = tokio::time::sleep(settings.retry) => {}
        }
    }
}

//! One `kube::Client` per kubeconfig context, built on first use and then reused.
//!
//! Building lazily means a missing kubeconfig only fails the commands that need it, with
//! a message naming the file and context, instead of keeping opsbot from starting.

use std::{collections::HashMap, sync::Arc};

use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};
use tokio::sync::Mutex;

use crate::{KubeError, KubernetesSettings};

/// A client and the API server URL it talks to (for error messages).
#[derive(Clone)]
pub(crate) struct ClusterClient {
    pub client: Client,
    pub server: String,
}

/// Clients by kubeconfig context (`None`: the current or in-cluster context).
pub(crate) struct ClientCache {
    settings: Arc<KubernetesSettings>,
    clients: Mutex<HashMap<Option<String>, ClusterClient>>,
}

impl ClientCache {
    pub fn new(settings: Arc<KubernetesSettings>) -> Self {
        Self {
            settings,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for a context, building it the first time.
    pub async fn get(&self, context: Option<&str>) -> Result<ClusterClient, KubeError> {
        let key = context.map(str::to_string);
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = self.build(context).await?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    async fn build(&self, context: Option<&str>) -> Result<ClusterClient, KubeError> {
        let config_error = |message: String| KubeError::Config {
            context: context.map(str::to_string),
            message,
        };
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        // The context whose user is applied (named in a refusal of its credentials).
        let mut used_context = context.map(str::to_string);
        let mut config = match (&self.settings.kubeconfig, context) {
            (Some(path), _) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    config_error(format!("cannot read kubeconfig {}: {e}", path.display()))
                })?;
                if used_context.is_none() {
                    used_context = kubeconfig.current_context.clone();
                }
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| config_error(format!("kubeconfig {}: {e}", path.display())))?
            }
            // A named context exists only in a kubeconfig ($KUBECONFIG or ~/.kube/config).
            (None, Some(_)) => Config::from_kubeconfig(&options).await.map_err(|e| {
                config_error(format!(
                    "default kubeconfig ($KUBECONFIG or ~/.kube/config): {e}"
                ))
            })?,
            // The default loading rules: kubeconfig first, then the in-cluster account.
            (None, None) => Config::infer().await.map_err(|e| {
                config_error(format!(
                    "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a cluster: {e}"
                ))
            })?,
        };
        crate::transport::prepare(&mut config, used_context.as_deref()).map_err(config_error)?;
        let timeout = self.settings.request_timeout;
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.reset_reader_on_write = true;
        // Retrying 429/503 is left to the operator: a command must answer within its timeout.
        config.default_retry = false;
        let server = config.cluster_url.to_string();
        let server = server.trim_end_matches('/').to_string();
        let client = Client::try_from(config)
            .map_err(|e| config_error(format!("cannot build a client for {server}: {e}")))?;
        Ok(ClusterClient { client, server })
    }
}

//! Why a Kubernetes operation failed, in words an operator can act on, and how that maps
//! onto the neutral [`RuntimeError`] the commands understand.

use std::time::Duration;

use opsbot_commands::context::RuntimeError;

/// A failed Kubernetes operation.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No usable client configuration (kubeconfig missing, context unknown, …).
    #[error("cannot build a Kubernetes client{}: {message}", context_suffix(.context))]
    Config {
        context: Option<String>,
        message: String,
    },
    /// The API server answered 403: the opsbot Role lacks this verb on this resource.
    #[error(
        "the Kubernetes API server forbids opsbot to {verb} {resource} in namespace {namespace} \
         (grant it in the opsbot Role, see deploy/kubernetes/opsbot-rbac.yaml): {message}"
    )]
    Forbidden {
        verb: &'static str,
        resource: &'static str,
        namespace: String,
        message: String,
    },
    /// The API server answered 404.
    #[error("{resource} {name:?} not found in namespace {namespace}")]
    NotFound {
        resource: &'static str,
        name: String,
        namespace: String,
    },
    /// The API server answered 401: it does not accept opsbot's credentials (a revoked or
    /// expired token, a certificate it does not trust).
    #[error(
        "the Kubernetes API server at {server} rejected opsbot's credentials (401 Unauthorized: \
         {message}); check the user of the kubeconfig context (token, certificate, exec plugin)"
    )]
    Unauthorized { server: String, message: String },
    /// The API server could not be reached (connection refused, DNS, TLS, reset).
    #[error("cannot reach the Kubernetes API server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// The API server did not answer within the request timeout.
    #[error(
        "the Kubernetes API server at {server} did not answer `{verb} {resource}` within {}",
        humanize(.after)
    )]
    TimedOut {
        server: String,
        verb: &'static str,
        resource: &'static str,
        after: Duration,
    },
    /// Any other answer of the API server (409, 422, 500, …).
    #[error("Kubernetes API error on `{verb} {resource}` ({code} {reason}): {message}")]
    Api {
        verb: &'static str,
        resource: &'static str,
        code: u16,
        reason: String,
        message: String,
    },
    /// The request could not be made or its answer not read.
    #[error("Kubernetes request `{verb} {resource}` failed: {message}")]
    Transport {
        verb: &'static str,
        resource: &'static str,
        message: String,
    },
    /// `kubectl rollout restart` refuses paused deployments, and so does opsbot.
    #[error(
        "can't restart paused deployment {name:?} (run `kubectl rollout resume deployment/{name} -n {namespace}` first)"
    )]
    PausedRestart { namespace: String, name: String },
    /// `kubectl rollout undo` refuses paused deployments, and so does opsbot.
    #[error(
        "you cannot rollback paused deployment {name:?}; resume it first with `kubectl rollout resume deployment/{name} -n {namespace}` and try again"
    )]
    PausedRollback { namespace: String, name: String },
    /// `rollback --to N` named a revision no ReplicaSet of the deployment carries.
    #[error("unable to find revision {revision} of deployment {name:?}; known revisions: {}", list(.known))]
    UnknownRevision {
        name: String,
        revision: i64,
        known: Vec<i64>,
    },
    /// Nothing to roll back to.
    #[error("no rollout history found for deployment {name:?} (only revision {} exists)", list(.known))]
    NoHistory { name: String, known: Vec<i64> },
    /// A second restart within the same second would write the same annotation.
    #[error(
        "deployment {name:?} was restarted less than a second ago; wait a moment before restarting it again"
    )]
    RestartTooSoon { name: String },
    /// The object the API server returned lacks something every real one has.
    #[error("unexpected answer from the Kubernetes API server: {0}")]
    Malformed(String),
}

fn context_suffix(context: &Option<String>) -> String {
    match context {
        Some(context) => format!(" for context {context:?}"),
        None => String::new(),
    }
}

fn humanize(after: &Duration) -> String {
    format!("{}s", after.as_secs_f64())
}

fn list(known: &[i64]) -> String {
    if known.is_empty() {
        return "none".to_string();
    }
    known
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<KubeError> for RuntimeError {
    fn from(error: KubeError) -> Self {
        let text = error.to_string();
        match error {
            KubeError::Unreachable { server, reason } => RuntimeError::Unreachable {
                what: format!("the Kubernetes API server at {server}"),
                reason,
            },
            KubeError::TimedOut {
                server,
                verb,
                resource,
                after,
            } => RuntimeError::Unreachable {
                what: format!("the Kubernetes API server at {server}"),
                reason: format!(
                    "no answer to `{verb} {resource}` within {}",
                    humanize(&after)
                ),
            },
            KubeError::Forbidden { .. }
            | KubeError::PausedRestart { .. }
            | KubeError::PausedRollback { .. }
            | KubeError::UnknownRevision { .. }
            | KubeError::NoHistory { .. }
            | KubeError::RestartTooSoon { .. } => RuntimeError::Refused(text),
            KubeError::Config { .. }
            | KubeError::Unauthorized { .. }
            | KubeError::NotFound { .. }
            | KubeError::Api { .. }
            | KubeError::Transport { .. }
            | KubeError::Malformed(_) => RuntimeError::Failed(text),
        }
    }
}

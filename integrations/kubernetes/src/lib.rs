//! The Kubernetes runtime adapter of opsbot.
//!
//! [`KubernetesRuntime`] implements [`opsbot_commands::context::Runtime`] for services whose
//! catalog target is `Target::Kubernetes` (a Deployment), with the semantics an operator
//! gets from `kubectl`:
//!
//! | opsbot | kubectl |
//! | --- | --- |
//! | `restart` | `kubectl rollout restart` + `kubectl rollout status` |
//! | `rollback [--to N]` | `kubectl rollout undo [--to-revision N]` + `kubectl rollout status` |
//! | history | `kubectl rollout history` |
//! | `scale N` | `kubectl scale --replicas N` (scale subresource) + `kubectl rollout status` |
//! | logs | `kubectl logs -l SELECTOR [-c C] [--since] [--tail] \| grep TEXT` |
//! | inspect | `kubectl get deploy,pods` + `kubectl get events --field-selector type=Warning` |
//!
//! Every API call is bounded by [`KubernetesSettings::request_timeout`], every rollout by
//! [`KubernetesSettings::rollout_timeout`]. Rollouts are followed with a watch of the
//! deployment, so an action ends as soon as its rollout does (see `rollout.rs`).
//! [`Revision::id`](opsbot_commands::context::Revision::id) is the ReplicaSet's name,
//! which a rollback keeps while it renumbers the revision. The RBAC verbs the adapter uses are listed in
//! [`REQUIRED_PERMISSIONS`] and granted by `deploy/kubernetes/opsbot-rbac.yaml`. Like
//! kubectl, a context never sends credentials to a plain `http://` server (it is refused,
//! see [`prepare_client_config`]); every request carries `User-Agent: opsbot/VERSION`.

mod clients;
mod error;
mod history;
mod inspect;
mod logs;
mod permissions;
mod restart;
mod revisions;
mod rollback;
mod rollout;
mod rollout_status;
mod runtime;
mod scale;
mod session;
mod settings;
mod template;
mod transport;

pub use error::KubeError;
pub use permissions::{Permission, REQUIRED_PERMISSIONS};
pub use rollout_status::{RolloutState, rollout_state};
pub use runtime::KubernetesRuntime;
pub use settings::KubernetesSettings;
pub use template::templates_equal_ignoring_hash;
pub use transport::{USER_AGENT, prepare as prepare_client_config};

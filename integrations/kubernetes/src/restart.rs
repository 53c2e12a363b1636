//! `restart`: `kubectl rollout restart deployment/NAME`, then its rollout is followed.
//!
//! Like kubectl, a paused deployment is refused, and the pod template gets the annotation
//! `kubectl.kubernetes.io/restartedAt` set to the current time (RFC 3339, whole seconds)
//! through a strategic-merge patch. The changed template makes the controller roll out a
//! new ReplicaSet. (kube's own `restart()` writes `kube.kubernetes.io/restartedAt`, which
//! `kubectl rollout history` and dashboards do not know, so it is not used.)

use kube::api::{Patch, PatchParams};
use opsbot_commands::context::{ActionReport, Progress};
use serde_json::json;

use crate::{
    KubeError,
    rollout::{Done, follow},
    session::Session,
};

/// The pod template annotation `kubectl rollout restart` writes.
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";

/// The field manager opsbot's writes are recorded under in `managedFields`.
pub(crate) const FIELD_MANAGER: &str = "opsbot";

/// The strategic-merge patch kubectl sends for a restart at `restarted_at`.
pub fn restart_patch(restarted_at: &str) -> serde_json::Value {
    json!({"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT_ANNOTATION: restarted_at
    }}}}})
}

/// The current time as kubectl writes it (Go's `time.RFC3339`, in UTC).
pub fn restarted_at_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) async fn restart(
    session: &Session<'_>,
    progress: &dyn Progress,
) -> Result<ActionReport, KubeError> {
    let deployment = session.get_deployment().await?;
    let spec = deployment.spec.as_ref();
    if spec.and_then(|spec| spec.paused) == Some(true) {
        return Err(KubeError::PausedRestart {
            namespace: session.namespace.clone(),
            name: session.deployment.clone(),
        });
    }
    let now = restarted_at_now();
    let previous = spec
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.annotations.as_ref())
        .and_then(|annotations| annotations.get(RESTARTED_AT_ANNOTATION));
    if previous == Some(&now) {
        // The patch would change nothing, so no rollout would start (kubectl refuses too).
        return Err(KubeError::RestartTooSoon {
            name: session.deployment.clone(),
        });
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let patch = Patch::Strategic(restart_patch(&now));
    let api = session.deployments();
    session
        .call(
            "patch",
            "deployments",
            Some(&session.deployment),
            api.patch(&session.deployment, &params, &patch),
        )
        .await?;
    let line = format!("deployment.apps/{} restarted", session.deployment);
    progress.report(&line);
    let done = Done {
        summary: "restarted".to_string(),
        details: vec![line, format!("{RESTARTED_AT_ANNOTATION}: {now}")],
    };
    Ok(follow(session, progress, done).await)
}

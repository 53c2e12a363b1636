//! `scale N`: `kubectl scale deployment/NAME --replicas N`, through the scale subresource
//! (a merge patch of `spec.replicas`, as kubectl sends it), then the rollout is followed
//! until the new count is available.

use kube::api::{Patch, PatchParams};
use opsbot_commands::context::{ActionReport, Progress};
use serde_json::json;

use crate::{
    KubeError,
    restart::FIELD_MANAGER,
    rollout::{Done, follow},
    session::Session,
};

pub(crate) async fn scale(
    session: &Session<'_>,
    replicas: u32,
    progress: &dyn Progress,
) -> Result<ActionReport, KubeError> {
    let deployment = session.get_deployment().await?;
    let before = deployment.spec.as_ref().and_then(|spec| spec.replicas);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let api = session.deployments();
    session
        .call(
            "patch",
            "deployments/scale",
            Some(&session.deployment),
            api.patch_scale(&session.deployment, &params, &patch),
        )
        .await?;
    let line = format!("deployment.apps/{} scaled", session.deployment);
    progress.report(&line);
    let summary = match before {
        Some(before) if i64::from(before) == i64::from(replicas) => {
            format!("already at {replicas} replicas")
        }
        Some(before) => format!("scaled from {before} to {replicas} replicas"),
        None => format!("scaled to {replicas} replicas"),
    };
    let done = Done {
        summary,
        details: vec![line],
    };
    Ok(follow(session, progress, done).await)
}

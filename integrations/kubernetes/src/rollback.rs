//! `rollback [--to N]`: `kubectl rollout undo deployment/NAME [--to-revision N]`, then its
//! rollout is followed.
//!
//! As kubectl does it: the revision is the ReplicaSet with that revision annotation (by
//! default the second newest); a paused deployment is refused; when the current template
//! already equals the revision's the rollback is skipped; otherwise one JSON patch replaces
//! `spec.template` with the ReplicaSet's template (without its `pod-template-hash` label)
//! and `metadata.annotations` with the deployment's bookkeeping annotations plus the
//! ReplicaSet's other annotations (such as `kubernetes.io/change-cause`). The controller
//! then re-uses that ReplicaSet under a new revision number.

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use opsbot_commands::context::{ActionReport, Progress};
use serde_json::json;

use crate::{
    KubeError,
    restart::FIELD_MANAGER,
    revisions::{RevisionedReplicaSet, revisions},
    rollout::{Done, follow},
    session::Session,
    template::{POD_TEMPLATE_HASH_LABEL, templates_equal_ignoring_hash},
};

/// Annotations kubectl keeps from the deployment and never copies from the ReplicaSet.
pub const ANNOTATIONS_TO_SKIP: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// The revision to roll back to: `to`, or the second newest (kubectl's choice).
pub(crate) fn choose<'a>(
    name: &str,
    revisions: &'a [RevisionedReplicaSet],
    to: Option<i64>,
) -> Result<&'a RevisionedReplicaSet, KubeError> {
    let known = || revisions.iter().map(|rs| rs.revision).collect::<Vec<_>>();
    match to {
        Some(revision) if revision > 0 => revisions
            .iter()
            .find(|rs| rs.revision == revision)
            .ok_or_else(|| KubeError::UnknownRevision {
                name: name.to_string(),
                revision,
                known: known(),
            }),
        // Sorted by revision: the newest is the last, the one to go back to before it.
        _ => revisions
            .iter()
            .rev()
            .nth(1)
            .ok_or_else(|| KubeError::NoHistory {
                name: name.to_string(),
                known: known(),
            }),
    }
}

pub(crate) async fn rollback(
    session: &Session<'_>,
    to: Option<i64>,
    progress: &dyn Progress,
) -> Result<ActionReport, KubeError> {
    let deployment = session.get_deployment().await?;
    let revisions = revisions(session, &deployment).await?;
    let target = choose(&session.deployment, &revisions, to)?;
    let spec = deployment
        .spec
        .as_ref()
        .ok_or_else(|| KubeError::Malformed("deployment without spec".to_string()))?;
    if spec.paused == Some(true) {
        return Err(KubeError::PausedRollback {
            namespace: session.namespace.clone(),
            name: session.deployment.clone(),
        });
    }
    let mut template = target
        .replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.clone())
        .ok_or_else(|| KubeError::Malformed("replica set without a pod template".to_string()))?;
    if templates_equal_ignoring_hash(&template, &spec.template) {
        let line = format!(
            "skipped rollback (current template already matches revision {})",
            target.revision
        );
        progress.report(&line);
        return Ok(ActionReport {
            succeeded: true,
            summary: line.clone(),
            details: vec![line],
        });
    }
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let annotations = restored_annotations(
        deployment.metadata.annotations.as_ref(),
        target.replica_set.metadata.annotations.as_ref(),
    );
    let operations = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    let patch: json_patch::Patch = serde_json::from_value(operations)
        .map_err(|e| KubeError::Malformed(format!("cannot build the rollback patch: {e}")))?;
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let api = session.deployments();
    session
        .call(
            "patch",
            "deployments",
            Some(&session.deployment),
            api.patch(&session.deployment, &params, &Patch::<()>::Json(patch)),
        )
        .await?;
    let line = format!("deployment.apps/{} rolled back", session.deployment);
    progress.report(&line);
    let done = Done {
        summary: format!("rolled back to revision {}", target.revision),
        details: vec![line, format!("images: {}", images(&template).join(", "))],
    };
    Ok(follow(session, progress, done).await)
}

/// The deployment's annotations after the rollback: its own bookkeeping ones, plus all of
/// the ReplicaSet's others.
pub(crate) fn restored_annotations(
    deployment: Option<&BTreeMap<String, String>>,
    replica_set: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    for (key, value) in deployment.into_iter().flatten() {
        if ANNOTATIONS_TO_SKIP.contains(&key.as_str()) {
            annotations.insert(key.clone(), value.clone());
        }
    }
    for (key, value) in replica_set.into_iter().flatten() {
        if !ANNOTATIONS_TO_SKIP.contains(&key.as_str()) {
            annotations.insert(key.clone(), value.clone());
        }
    }
    annotations
}

/// The container images of a pod template.
pub(crate) fn images(template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> Vec<String> {
    template
        .spec
        .iter()
        .flat_map(|spec| &spec.containers)
        .filter_map(|container| container.image.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;

    fn revision(number: i64) -> RevisionedReplicaSet {
        RevisionedReplicaSet {
            revision: number,
            replica_set: ReplicaSet::default(),
        }
    }

    #[test]
    fn default_is_the_second_newest() {
        let all = [revision(1), revision(3), revision(4)];
        assert_eq!(choose("x", &all, None).unwrap().revision, 3);
        assert_eq!(choose("x", &all, Some(1)).unwrap().revision, 1);
    }

    #[test]
    fn unknown_revision_lists_the_known_ones() {
        let all = [revision(1), revision(3)];
        let error = choose("x", &all, Some(2)).unwrap_err().to_string();
        assert_eq!(
            error,
            "unable to find revision 2 of deployment \"x\"; known revisions: 1, 3"
        );
        assert!(matches!(
            choose("x", &all[..1], None),
            Err(KubeError::NoHistory { .. })
        ));
    }

    #[test]
    fn annotations_are_restored_like_kubectl() {
        let deployment = BTreeMap::from([
            (
                "deployment.kubernetes.io/revision".to_string(),
                "4".to_string(),
            ),
            ("kubernetes.io/change-cause".to_string(), "v4".to_string()),
            ("team".to_string(), "ai".to_string()),
        ]);
        let replica_set = BTreeMap::from([
            (
                "deployment.kubernetes.io/revision".to_string(),
                "2".to_string(),
            ),
            (
                "deployment.kubernetes.io/desired-replicas".to_string(),
                "3".to_string(),
            ),
            ("kubernetes.io/change-cause".to_string(), "v2".to_string()),
        ]);
        let restored = restored_annotations(Some(&deployment), Some(&replica_set));
        assert_eq!(
            restored,
            BTreeMap::from([
                (
                    "deployment.kubernetes.io/revision".to_string(),
                    "4".to_string()
                ),
                ("kubernetes.io/change-cause".to_string(), "v2".to_string()),
            ])
        );
    }
}

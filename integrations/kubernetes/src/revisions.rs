//! The revisions of a Deployment: the ReplicaSets it controls (found by its selector, kept
//! when an `ownerReference` with `controller: true` names its UID, like kubectl's
//! `GetAllReplicaSets`) and the `deployment.kubernetes.io/revision` each carries.

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
};
use kube::api::ListParams;

use crate::{KubeError, session::Session};

/// The annotation holding a ReplicaSet's (and a Deployment's current) revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The annotation `kubectl rollout history` shows as CHANGE-CAUSE.
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";

/// A ReplicaSet of the deployment and its revision.
#[derive(Clone, Debug)]
pub(crate) struct RevisionedReplicaSet {
    pub revision: i64,
    pub replica_set: ReplicaSet,
}

/// The revision recorded in an object's annotations.
pub(crate) fn revision_of(meta: &ObjectMeta) -> Option<i64> {
    meta.annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?
        .trim()
        .parse()
        .ok()
}

/// The ReplicaSets the deployment controls that carry a revision, oldest revision first.
pub(crate) async fn revisions(
    session: &Session<'_>,
    deployment: &Deployment,
) -> Result<Vec<RevisionedReplicaSet>, KubeError> {
    let uid = deployment
        .metadata
        .uid
        .clone()
        .ok_or_else(|| KubeError::Malformed("deployment without metadata.uid".to_string()))?;
    let selector = deployment
        .spec
        .as_ref()
        .map(|spec| selector_string(&spec.selector))
        .unwrap_or_default();
    let params = ListParams::default().labels(&selector);
    let api = session.replica_sets();
    let list = session
        .call("list", "replicasets", None, api.list(&params))
        .await?;
    let mut owned: Vec<RevisionedReplicaSet> = list
        .items
        .into_iter()
        .filter(|rs| controlled_by(&rs.metadata, &uid))
        .filter_map(|replica_set| {
            revision_of(&replica_set.metadata).map(|revision| RevisionedReplicaSet {
                revision,
                replica_set,
            })
        })
        .collect();
    owned.sort_by_key(|rs| rs.revision);
    Ok(owned)
}

/// Whether the object's controller is the object with this UID.
fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|owner| owner.controller == Some(true) && owner.uid == uid)
}

/// A label selector in the text form of `?labelSelector=` (`app=x,tier in (a,b)`).
pub(crate) fn selector_string(selector: &LabelSelector) -> String {
    let mut terms: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    for expression in selector.match_expressions.iter().flatten() {
        let values = expression.values.clone().unwrap_or_default().join(",");
        let key = &expression.key;
        terms.push(match expression.operator.as_str() {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.clone(),
            _ => format!("!{key}"),
        });
    }
    terms.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_render_like_kubectl() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "x", "tier": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(
            selector_string(&selector),
            "app=x,tier=web,env in (prod,staging),!canary"
        );
    }
}

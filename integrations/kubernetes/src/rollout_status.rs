//! Where a rollout stands, decided exactly as `kubectl rollout status` decides it
//! (kubectl's `DeploymentStatusViewer`), including its messages.
//!
//! Only a status whose `observedGeneration` has caught up with `metadata.generation`
//! says anything about the current spec; before that the controller has not seen the
//! change. (kube-runtime's "deployment completed" condition skips this check.)

use k8s_openapi::api::apps::v1::Deployment;

/// The `Progressing` condition reason a stuck rollout ends with.
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";

/// One look at a deployment's rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutState {
    /// Still going; the message is what kubectl prints while it waits.
    Waiting(String),
    /// All replicas updated, old ones gone, updated ones available.
    Complete(String),
    /// The controller gave up: `Progressing` is `ProgressDeadlineExceeded`.
    DeadlineExceeded(String),
}

impl RolloutState {
    pub fn message(&self) -> &str {
        match self {
            RolloutState::Waiting(m)
            | RolloutState::Complete(m)
            | RolloutState::DeadlineExceeded(m) => m,
        }
    }
}

/// Where the deployment's rollout stands.
pub fn rollout_state(deployment: &Deployment) -> RolloutState {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or(0);
    let status = deployment.status.clone().unwrap_or_default();
    if generation > status.observed_generation.unwrap_or(0) {
        return RolloutState::Waiting(
            "Waiting for deployment spec update to be observed...".to_string(),
        );
    }
    let deadline_exceeded = status.conditions.iter().flatten().any(|condition| {
        condition.type_ == "Progressing"
            && condition.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED)
    });
    if deadline_exceeded {
        return RolloutState::DeadlineExceeded(format!(
            "deployment {name:?} exceeded its progress deadline"
        ));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if let Some(desired) = deployment.spec.as_ref().and_then(|spec| spec.replicas)
        && updated < desired
    {
        return RolloutState::Waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return RolloutState::Waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return RolloutState::Waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    RolloutState::Complete(format!("deployment {name:?} successfully rolled out"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(value: serde_json::Value) -> Deployment {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn unobserved_generation_waits_even_when_counts_look_done() {
        let d = deployment(json!({
            "metadata": {"name": "x", "generation": 3},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
        }));
        assert_eq!(
            rollout_state(&d),
            RolloutState::Waiting("Waiting for deployment spec update to be observed...".into())
        );
    }

    #[test]
    fn steps_follow_kubectl_order_and_wording() {
        let step = |updated: i32, replicas: i32, available: i32| {
            rollout_state(&deployment(json!({
                "metadata": {"name": "x", "generation": 2},
                "spec": {"replicas": 3, "selector": {}, "template": {}},
                "status": {"observedGeneration": 2, "replicas": replicas,
                           "updatedReplicas": updated, "availableReplicas": available}
            })))
        };
        assert_eq!(
            step(1, 4, 3).message(),
            "Waiting for deployment \"x\" rollout to finish: 1 out of 3 new replicas have been updated..."
        );
        assert_eq!(
            step(3, 4, 3).message(),
            "Waiting for deployment \"x\" rollout to finish: 1 old replicas are pending termination..."
        );
        assert_eq!(
            step(3, 3, 1).message(),
            "Waiting for deployment \"x\" rollout to finish: 1 of 3 updated replicas are available..."
        );
        assert_eq!(
            step(3, 3, 3),
            RolloutState::Complete("deployment \"x\" successfully rolled out".into())
        );
    }

    #[test]
    fn progress_deadline_fails() {
        let d = deployment(json!({
            "metadata": {"name": "x", "generation": 2},
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
            ]}
        }));
        assert!(matches!(
            rollout_state(&d),
            RolloutState::DeadlineExceeded(_)
        ));
    }
}

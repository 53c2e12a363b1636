//! `inspect`: the deployment as the cluster sees it, for `health SERVICE`: ready versus
//! desired replicas, container restarts, pods in CrashLoopBackOff (or failing to pull
//! their image), the rollout state, and recent Warning events about the deployment, its
//! ReplicaSets and its pods.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::ListParams;
use opsbot_commands::context::{HealthLevel, RuntimeView};

use crate::{KubeError, RolloutState, revisions::selector_string, rollout_state, session::Session};

/// Warning events older than this are history, not health.
const RECENT_EVENTS: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
/// At most this many events are shown, newest first.
const MAX_EVENTS: usize = 5;
/// Waiting reasons that mean a container cannot run.
const BAD_WAITING_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
];

pub(crate) async fn inspect(session: &Session<'_>) -> Result<RuntimeView, KubeError> {
    let deployment = session.get_deployment().await?;
    let spec = deployment.spec.as_ref();
    let desired = spec.and_then(|spec| spec.replicas).unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let selector = spec
        .map(|spec| selector_string(&spec.selector))
        .unwrap_or_default();

    let pods_api = session.pods();
    let params = ListParams::default().labels(&selector);
    let mut pods = session
        .call("list", "pods", None, pods_api.list(&params))
        .await?
        .items;
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let restarts: i32 = pods.iter().map(restarts_of).sum();
    let stuck: Vec<String> = pods.iter().flat_map(stuck_containers).collect();

    let events_api = session.events();
    let params = ListParams::default().fields("type=Warning");
    let events = session
        .call("list", "events", None, events_api.list(&params))
        .await?
        .items;
    let warnings = recent_warnings(&session.deployment, &pods, events, jiff::Timestamp::now());

    let rollout = rollout_state(&deployment);
    let paused = spec.and_then(|spec| spec.paused) == Some(true);
    let mut level = HealthLevel::Ok;
    if ready < desired || !stuck.is_empty() || !warnings.is_empty() || paused {
        level = HealthLevel::Warning;
    }
    if (desired > 0 && ready == 0) || matches!(rollout, RolloutState::DeadlineExceeded(_)) {
        level = HealthLevel::Critical;
    }
    let mut details = Vec::new();
    if paused {
        details.push("rollouts are paused (kubectl rollout resume)".to_string());
    }
    if !matches!(rollout, RolloutState::Complete(_)) {
        details.push(rollout.message().to_string());
    }
    details.extend(stuck);
    details.extend(warnings);
    Ok(RuntimeView {
        level,
        summary: format!(
            "{ready}/{desired} ready, {restarts} restart{}",
            if restarts == 1 { "" } else { "s" }
        ),
        details,
    })
}

fn restarts_of(pod: &Pod) -> i32 {
    pod.status
        .iter()
        .flat_map(|status| status.container_statuses.iter().flatten())
        .map(|container| container.restart_count)
        .sum()
}

/// `pod/NAME container C: CrashLoopBackOff (restarted 7 times)`.
fn stuck_containers(pod: &Pod) -> Vec<String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.status
        .iter()
        .flat_map(|status| status.container_statuses.iter().flatten())
        .filter_map(|container| {
            let waiting = container.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.as_deref()?;
            BAD_WAITING_REASONS.contains(&reason).then(|| {
                format!(
                    "pod/{name} container {}: {reason} (restarted {} times)",
                    container.name, container.restart_count
                )
            })
        })
        .collect()
}

/// Recent Warning events about the deployment, its pods, or its pods' ReplicaSets.
fn recent_warnings(
    deployment: &str,
    pods: &[Pod],
    events: Vec<Event>,
    now: jiff::Timestamp,
) -> Vec<String> {
    let pod_names: BTreeSet<&str> = pods
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    let replica_sets: BTreeSet<&str> = pods
        .iter()
        .flat_map(|p| p.metadata.owner_references.iter().flatten())
        .filter(|owner| owner.kind == "ReplicaSet")
        .map(|owner| owner.name.as_str())
        .collect();
    let mut recent: Vec<(jiff::Timestamp, String)> = events
        .into_iter()
        .filter(|event| event.type_.as_deref() == Some("Warning"))
        .filter(|event| {
            let object = &event.involved_object;
            let name = object.name.as_deref().unwrap_or_default();
            match object.kind.as_deref() {
                Some("Deployment") => name == deployment,
                Some("ReplicaSet") => replica_sets.contains(name),
                Some("Pod") => pod_names.contains(name),
                _ => false,
            }
        })
        .filter_map(|event| {
            let at = event
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or(event.event_time.as_ref().map(|t| t.0))
                .or(event.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
            if now.duration_since(at) > RECENT_EVENTS {
                return None;
            }
            let object = &event.involved_object;
            let count = event.count.unwrap_or(1);
            let line = format!(
                "Warning {} {}/{}: {}{}",
                event.reason.as_deref().unwrap_or("Unknown"),
                object.kind.as_deref().unwrap_or_default().to_lowercase(),
                object.name.as_deref().unwrap_or_default(),
                event.message.as_deref().unwrap_or_default().trim(),
                if count > 1 {
                    format!(" (x{count})")
                } else {
                    String::new()
                }
            );
            Some((at, line))
        })
        .collect();
    recent.sort_by_key(|event| std::cmp::Reverse(event.0));
    recent
        .into_iter()
        .take(MAX_EVENTS)
        .map(|(_, line)| line)
        .collect()
}

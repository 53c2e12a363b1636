//! `inspect`: the deployment as the cluster sees it, for `health SERVICE`: ready versus
//! desired replicas, container restarts, pods in CrashLoopBackOff (or failing to pull
//! their image), the rollout state, and the recent Warning events that are still about
//! the deployment as it runs now.
//!
//! Which Warning events count (at most an hour old, newest first):
//!
//! * those about the **current ReplicaSet** (the one carrying the deployment's revision)
//!   and about **its pods**. Events of replaced ReplicaSets and their pods are history:
//!   after a rollout or rollback recovered, their `BackOff`s no longer describe anything
//!   that serves traffic;
//! * those about the **deployment itself**, unless superseded: a `ProgressDeadlineExceeded`
//!   only while the `Progressing` condition still says so, and nothing older than the
//!   condition's last change for the better — its `lastUpdateTime` once the rollout is
//!   complete (`NewReplicaSetAvailable`), its `lastTransitionTime` while a rollout that
//!   followed a failure is progressing.
//!
//! The current rollout state itself (deadline exceeded, waiting) comes from the
//! deployment's status, not from events.

use std::collections::BTreeSet;

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{Event, Pod},
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::api::ListParams;
use opsbot_commands::context::{HealthLevel, RuntimeView};

use crate::{
    KubeError, RolloutState,
    revisions::{revision_of, revisions, selector_string},
    rollout_state,
    rollout_status::PROGRESS_DEADLINE_EXCEEDED,
    session::Session,
};

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

    // The ReplicaSet of the deployment's current revision.
    let current_revision = revision_of(&deployment.metadata);
    let current_rs = revisions(session, &deployment)
        .await?
        .into_iter()
        .find(|rs| Some(rs.revision) == current_revision)
        .and_then(|rs| rs.replica_set.metadata.name);

    let events_api = session.events();
    let params = ListParams::default().fields("type=Warning");
    let events = session
        .call("list", "events", None, events_api.list(&params))
        .await?
        .items;
    let relevant = Relevant::new(&deployment, current_rs.as_deref(), &pods);
    let warnings = recent_warnings(&relevant, events, jiff::Timestamp::now());

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

/// What the Warning events of `health` may be about (see the module docs).
struct Relevant<'a> {
    deployment: &'a str,
    replica_set: Option<&'a str>,
    pods: BTreeSet<&'a str>,
    /// The `Progressing` condition says the deadline was exceeded.
    deadline_exceeded: bool,
    /// Deployment events before this are superseded.
    deployment_since: Option<jiff::Timestamp>,
}

impl<'a> Relevant<'a> {
    fn new(deployment: &'a Deployment, replica_set: Option<&'a str>, pods: &'a [Pod]) -> Self {
        let progressing = deployment
            .status
            .iter()
            .flat_map(|status| status.conditions.iter().flatten())
            .find(|condition| condition.type_ == "Progressing");
        let deadline_exceeded =
            progressing.is_some_and(|c| c.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED));
        let time = |t: &Option<Time>| t.as_ref().map(|t| t.0);
        let deployment_since =
            progressing
                .filter(|c| c.status == "True")
                .and_then(|c| match c.reason.as_deref() {
                    Some("NewReplicaSetAvailable") => time(&c.last_update_time),
                    _ => time(&c.last_transition_time),
                });
        let pods = pods
            .iter()
            .filter(|pod| {
                pod.metadata.owner_references.iter().flatten().any(|owner| {
                    owner.kind == "ReplicaSet" && Some(owner.name.as_str()) == replica_set
                })
            })
            .filter_map(|pod| pod.metadata.name.as_deref())
            .collect();
        Self {
            deployment: deployment.metadata.name.as_deref().unwrap_or_default(),
            replica_set,
            pods,
            deadline_exceeded,
            deployment_since,
        }
    }

    /// Whether a Warning event at `at` still describes the deployment as it runs now.
    fn counts(&self, event: &Event, at: jiff::Timestamp) -> bool {
        let object = &event.involved_object;
        let name = object.name.as_deref().unwrap_or_default();
        match object.kind.as_deref() {
            Some("Deployment") if name == self.deployment => {
                if event.reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED) {
                    return self.deadline_exceeded;
                }
                self.deployment_since.is_none_or(|since| at >= since)
            }
            Some("ReplicaSet") => Some(name) == self.replica_set,
            Some("Pod") => self.pods.contains(name),
            _ => false,
        }
    }
}

/// Recent Warning events that still count (see [`Relevant`]), newest first.
fn recent_warnings(
    relevant: &Relevant<'_>,
    events: Vec<Event>,
    now: jiff::Timestamp,
) -> Vec<String> {
    let mut recent: Vec<(jiff::Timestamp, String)> = events
        .into_iter()
        .filter(|event| event.type_.as_deref() == Some("Warning"))
        .filter_map(|event| {
            let at = event
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or(event.event_time.as_ref().map(|t| t.0))
                .or(event.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
            if now.duration_since(at) > RECENT_EVENTS || !relevant.counts(&event, at) {
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

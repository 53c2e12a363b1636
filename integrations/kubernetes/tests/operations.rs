//! opsbot's Kubernetes runtime against the fake API server: every operation, its kubectl
//! semantics, and its failure paths (paused, unknown revision, rollout timeout, progress
//! deadline, 403, connection refused, request timeout, bad kubeconfig or context).

use std::{sync::Mutex, time::Duration};

use opsbot_commands::{
    Service,
    catalog::Target,
    context::{HealthLevel, LogQuery, Progress, Runtime, RuntimeError},
};
use opsbot_fakes::kubernetes::{FakeApiServer, RolloutMode, write_kubeconfig};
use opsbot_kubernetes::{KubernetesRuntime, KubernetesSettings};
use serde_json::json;

const NS: &str = "userwhisperer-prod";
const NAME: &str = "ai-orchestration";

/// Remembers every progress message.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn report(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

impl Recorder {
    fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn service(context: Option<&str>, container: Option<&str>) -> Service {
    Service::new(NAME.parse().unwrap(), "prod".parse().unwrap()).with_target(Target::Kubernetes {
        context: context.map(str::to_string),
        namespace: NS.to_string(),
        deployment: NAME.to_string(),
        container: container.map(str::to_string),
    })
}

fn runtime_for(kubeconfig: &std::path::Path) -> KubernetesRuntime {
    KubernetesRuntime::new(KubernetesSettings {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        request_timeout: Duration::from_secs(5),
        rollout_timeout: Duration::from_secs(10),
        retry_interval: Duration::from_millis(10),
    })
}

async fn server_with_history() -> FakeApiServer {
    let server = FakeApiServer::start().await;
    server.seed_deployment(
        NS,
        NAME,
        3,
        &[
            "gcr.io/userwhisperer/ai-orchestration:v1.0.0",
            "gcr.io/userwhisperer/ai-orchestration:v1.1.0",
            "gcr.io/userwhisperer/ai-orchestration:v1.2.0",
        ],
    );
    server
}

fn image_of(deployment: &serde_json::Value) -> &str {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
}

fn revision_of(object: &serde_json::Value) -> i64 {
    object["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn restart_writes_restarted_at_and_follows_the_rollout_step_by_step() {
    let server = server_with_history().await;
    server.set_mode(RolloutMode::Steps {
        delay: Duration::from_millis(40),
    });
    let runtime = runtime_for(server.kubeconfig());
    let progress = Recorder::default();
    server.clear_requests();

    let report = runtime
        .restart(&service(None, None), &progress)
        .await
        .unwrap();

    assert!(report.succeeded, "{report:?}");
    assert_eq!(
        report.summary,
        "restarted; deployment \"ai-orchestration\" successfully rolled out"
    );
    let deployment = server.deployment(NS, NAME);
    let restarted_at = deployment["spec"]["template"]["metadata"]["annotations"]
        ["kubectl.kubernetes.io/restartedAt"]
        .as_str()
        .unwrap();
    let at: jiff::Timestamp = restarted_at.parse().unwrap();
    assert!(jiff::Timestamp::now().duration_since(at) < jiff::SignedDuration::from_secs(10));
    assert_eq!(restarted_at.len(), "2025-01-01T00:00:00Z".len());
    // A new template: a new ReplicaSet with the next revision, the image unchanged.
    assert_eq!(revision_of(&deployment), 4);
    assert_eq!(
        image_of(&deployment),
        "gcr.io/userwhisperer/ai-orchestration:v1.2.0"
    );
    assert_eq!(deployment["metadata"]["generation"], json!(4));
    // kubectl's wire format: a strategic-merge patch of the deployment.
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.replace("?&", "?").starts_with(&format!(
            "PATCH /apis/apps/v1/namespaces/{NS}/deployments/{NAME}?fieldManager=opsbot application/strategic-merge-patch+json"
        ))),
        "{requests:#?}"
    );
    // kubectl rollout status' messages, in order, each once.
    let messages = progress.messages();
    let expected = [
        "deployment.apps/ai-orchestration restarted",
        "Waiting for deployment \"ai-orchestration\" rollout to finish: 0 out of 3 new replicas have been updated...",
        "Waiting for deployment \"ai-orchestration\" rollout to finish: 1 out of 3 new replicas have been updated...",
        "Waiting for deployment \"ai-orchestration\" rollout to finish: 2 out of 3 new replicas have been updated...",
        "Waiting for deployment \"ai-orchestration\" rollout to finish: 1 old replicas are pending termination...",
        "Waiting for deployment \"ai-orchestration\" rollout to finish: 2 of 3 updated replicas are available...",
    ];
    assert_eq!(messages, expected);
}

#[tokio::test]
async fn restart_refuses_a_paused_deployment() {
    let server = server_with_history().await;
    server.patch(
        NS,
        NAME,
        "application/merge-patch+json",
        &json!({"spec": {"paused": true}}),
    );
    let runtime = runtime_for(server.kubeconfig());
    let error = runtime
        .restart(&service(None, None), &Recorder::default())
        .await
        .unwrap_err();
    let RuntimeError::Refused(message) = error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("can't restart paused deployment \"ai-orchestration\""),
        "{message}"
    );
    assert!(message.contains("kubectl rollout resume"), "{message}");
}

#[tokio::test]
async fn rollback_goes_to_the_previous_revision_like_rollout_undo() {
    let server = server_with_history().await;
    let runtime = runtime_for(server.kubeconfig());
    server.clear_requests();
    let report = runtime
        .rollback(&service(None, None), None, &Recorder::default())
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    assert!(
        report.summary.starts_with("rolled back to revision 2; "),
        "{report:?}"
    );
    let deployment = server.deployment(NS, NAME);
    assert_eq!(
        image_of(&deployment),
        "gcr.io/userwhisperer/ai-orchestration:v1.1.0"
    );
    // The old ReplicaSet is re-used under a new revision; no new ReplicaSet appears.
    assert_eq!(revision_of(&deployment), 4);
    let replica_sets = server.replica_sets(NS);
    assert_eq!(replica_sets.len(), 3);
    let reused = replica_sets.iter().find(|rs| revision_of(rs) == 4).unwrap();
    assert_eq!(
        reused["spec"]["template"]["spec"]["containers"][0]["image"],
        json!("gcr.io/userwhisperer/ai-orchestration:v1.1.0")
    );
    assert_eq!(
        reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        json!("2")
    );
    // Annotations restored from the ReplicaSet, the hash label not copied into the template.
    assert_eq!(
        deployment["metadata"]["annotations"]["kubernetes.io/change-cause"],
        json!("set image gcr.io/userwhisperer/ai-orchestration:v1.1.0")
    );
    assert!(deployment["spec"]["template"]["metadata"]["labels"]["pod-template-hash"].is_null());
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("PATCH ") && r.contains(" application/json-patch+json ")),
        "{requests:#?}"
    );
}

#[tokio::test]
async fn rollback_to_a_given_revision_skips_when_already_there_and_lists_unknown_ones() {
    let server = server_with_history().await;
    let runtime = runtime_for(server.kubeconfig());
    let svc = service(None, None);

    let report = runtime
        .rollback(&svc, Some(1), &Recorder::default())
        .await
        .unwrap();
    assert!(report.succeeded && report.summary.starts_with("rolled back to revision 1; "));
    assert_eq!(
        image_of(&server.deployment(NS, NAME)),
        "gcr.io/userwhisperer/ai-orchestration:v1.0.0"
    );

    // Revision 1 became 4: the current template matches it, nothing to do.
    let generation = server.deployment(NS, NAME)["metadata"]["generation"].clone();
    let report = runtime
        .rollback(&svc, Some(4), &Recorder::default())
        .await
        .unwrap();
    assert_eq!(
        report.summary,
        "skipped rollback (current template already matches revision 4)"
    );
    assert_eq!(
        server.deployment(NS, NAME)["metadata"]["generation"],
        generation
    );

    let error = runtime
        .rollback(&svc, Some(1), &Recorder::default())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        RuntimeError::Refused(
            "unable to find revision 1 of deployment \"ai-orchestration\"; known revisions: 2, 3, 4"
                .to_string()
        )
    );
}

#[tokio::test]
async fn rollback_refuses_a_paused_deployment_and_a_deployment_without_history() {
    let server = FakeApiServer::start().await;
    server.seed_deployment(NS, NAME, 1, &["x:1"]);
    let runtime = runtime_for(server.kubeconfig());
    let error = runtime
        .rollback(&service(None, None), None, &Recorder::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Refused(m) if m.contains("no rollout history found")),
        "{error:?}"
    );

    server.set_image(NS, NAME, "x:2");
    server.patch(
        NS,
        NAME,
        "application/merge-patch+json",
        &json!({"spec": {"paused": true}}),
    );
    let error = runtime
        .rollback(&service(None, None), None, &Recorder::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Refused(m) if m.contains("you cannot rollback paused deployment")),
        "{error:?}"
    );
    assert_eq!(image_of(&server.deployment(NS, NAME)), "x:2");
}

#[tokio::test]
async fn history_lists_revisions_with_images_causes_and_the_current_one() {
    let server = server_with_history().await;
    let runtime = runtime_for(server.kubeconfig());
    let history = runtime.history(&service(None, None)).await.unwrap();
    let summary: Vec<(i64, Vec<String>, Option<String>, bool)> = history
        .iter()
        .map(|r| {
            (
                r.number,
                r.images.clone(),
                r.change_cause.clone(),
                r.current,
            )
        })
        .collect();
    let image = |v: &str| vec![format!("gcr.io/userwhisperer/ai-orchestration:{v}")];
    let cause = |what: &str| Some(format!("{what} gcr.io/userwhisperer/ai-orchestration:"));
    assert_eq!(summary[0].0, 1);
    assert_eq!(summary[0].1, image("v1.0.0"));
    assert!(
        summary[0]
            .2
            .clone()
            .unwrap()
            .starts_with(&cause("create").unwrap())
    );
    assert_eq!((summary[1].0, summary[1].3), (2, false));
    assert_eq!(
        (summary[2].0, summary[2].1.clone(), summary[2].3),
        (3, image("v1.2.0"), true)
    );
    assert!(history.iter().all(|r| r.created.is_some()));
}

#[tokio::test]
async fn scale_patches_the_scale_subresource_and_waits_for_the_replicas() {
    let server = server_with_history().await;
    server.set_mode(RolloutMode::Steps {
        delay: Duration::from_millis(30),
    });
    let runtime = runtime_for(server.kubeconfig());
    let progress = Recorder::default();
    server.clear_requests();
    let report = runtime
        .scale(&service(None, None), 5, &progress)
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    assert_eq!(
        report.summary,
        "scaled from 3 to 5 replicas; deployment \"ai-orchestration\" successfully rolled out"
    );
    assert_eq!(server.deployment(NS, NAME)["spec"]["replicas"], json!(5));
    assert_eq!(server.pods(NS).len(), 5);
    assert!(progress.messages().contains(
        &"Waiting for deployment \"ai-orchestration\" rollout to finish: 3 of 5 updated replicas are available..."
            .to_string()
    ));
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.replace("?&", "?").starts_with(&format!(
            "PATCH /apis/apps/v1/namespaces/{NS}/deployments/{NAME}/scale?fieldManager=opsbot application/merge-patch+json"
        ))),
        "{requests:#?}"
    );
}

#[tokio::test]
async fn logs_come_per_pod_with_tail_since_and_a_plain_substring_grep() {
    let server = server_with_history().await;
    let mut pods: Vec<String> = server
        .pods(NS)
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    pods.sort();
    server.add_log_lines(
        NS,
        &pods[0],
        NAME,
        &[
            (7200, "ERROR old failure"),
            (60, "INFO decision made"),
            (50, "ERROR [openai] timeout (a.*b)"),
            (40, "INFO decision made"),
            (30, "ERROR anthropic 529"),
        ],
    );
    server.add_log_lines(NS, &pods[1], NAME, &[(10, "INFO ok")]);
    let runtime = runtime_for(server.kubeconfig());

    let query = LogQuery {
        since: Some(Duration::from_secs(3600)),
        tail: 100,
        grep: Some("ERROR".to_string()),
    };
    let chunks = runtime
        .logs(&service(None, Some(NAME)), &query)
        .await
        .unwrap();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0].source, format!("pod/{}/{NAME}", pods[0]));
    assert_eq!(
        chunks[0].lines,
        ["ERROR [openai] timeout (a.*b)", "ERROR anthropic 529"]
    );
    assert!(chunks[1].lines.is_empty() && chunks[2].lines.is_empty());

    // The tail is cut by the API server, the grep applies to it; the text is not a pattern.
    let query = LogQuery {
        since: None,
        tail: 2,
        grep: None,
    };
    let chunks = runtime.logs(&service(None, None), &query).await.unwrap();
    assert_eq!(
        chunks[0].lines,
        ["INFO decision made", "ERROR anthropic 529"]
    );
    let query = LogQuery {
        since: None,
        tail: 100,
        grep: Some("(a.*b)".to_string()),
    };
    let chunks = runtime.logs(&service(None, None), &query).await.unwrap();
    assert_eq!(chunks[0].lines, ["ERROR [openai] timeout (a.*b)"]);

    // A container the pods do not have is named, per pod.
    let chunks = runtime
        .logs(&service(None, Some("sidecar")), &query)
        .await
        .unwrap();
    assert!(
        chunks[0].lines[0].contains("no container \"sidecar\""),
        "{chunks:?}"
    );
}

#[tokio::test]
async fn inspect_reports_readiness_restarts_crash_loops_and_warning_events() {
    let server = server_with_history().await;
    let runtime = runtime_for(server.kubeconfig());
    let view = runtime.inspect(&service(None, None)).await.unwrap();
    assert_eq!(view.level, HealthLevel::Ok, "{view:?}");
    assert_eq!(view.summary, "3/3 ready, 0 restarts");

    // One pod crash-loops; the deployment has 2 of 3 ready; the kubelet complains.
    let mut pod = server.pods(NS)[0].clone();
    let pod_name = pod["metadata"]["name"].as_str().unwrap().to_string();
    pod["status"]["containerStatuses"][0] = json!({
        "name": NAME, "image": "x", "imageID": "", "ready": false, "restartCount": 7,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}
    });
    server.put("pods", pod);
    let mut deployment = server.deployment(NS, NAME);
    deployment["status"]["readyReplicas"] = json!(2);
    deployment["status"]["availableReplicas"] = json!(2);
    server.put("deployments", deployment);
    let now = jiff::Timestamp::now();
    let event = |name: &str,
                 kind: &str,
                 object: &str,
                 reason: &str,
                 message: &str,
                 at: jiff::Timestamp,
                 kind_of_event: &str| {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": NS},
            "involvedObject": {"kind": kind, "name": object, "namespace": NS},
            "reason": reason, "message": message, "type": kind_of_event, "count": 12,
            "lastTimestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
        })
    };
    server.put(
        "events",
        event(
            "e1",
            "Pod",
            &pod_name,
            "BackOff",
            "Back-off restarting failed container",
            now,
            "Warning",
        ),
    );
    server.put(
        "events",
        event(
            "e2",
            "Pod",
            "someone-else",
            "BackOff",
            "not ours",
            now,
            "Warning",
        ),
    );
    server.put(
        "events",
        event(
            "e3",
            "Pod",
            &pod_name,
            "Pulled",
            "normal news",
            now,
            "Normal",
        ),
    );
    server.put(
        "events",
        event(
            "e4",
            "Deployment",
            NAME,
            "Old",
            "too old",
            now - jiff::SignedDuration::from_hours(3),
            "Warning",
        ),
    );

    let view = runtime.inspect(&service(None, None)).await.unwrap();
    assert_eq!(view.level, HealthLevel::Warning, "{view:?}");
    assert_eq!(view.summary, "2/3 ready, 7 restarts");
    assert_eq!(
        view.details,
        [
            "Waiting for deployment \"ai-orchestration\" rollout to finish: 2 of 3 updated replicas are available...".to_string(),
            format!("pod/{pod_name} container {NAME}: CrashLoopBackOff (restarted 7 times)"),
            format!("Warning BackOff pod/{pod_name}: Back-off restarting failed container (x12)"),
        ]
    );

    let mut deployment = server.deployment(NS, NAME);
    deployment["status"]["readyReplicas"] = json!(0);
    server.put("deployments", deployment);
    let view = runtime.inspect(&service(None, None)).await.unwrap();
    assert_eq!(view.level, HealthLevel::Critical);
}

/// A Warning event about `kind/object`, `minutes_ago` old.
fn warning(
    name: &str,
    kind: &str,
    object: &str,
    reason: &str,
    minutes_ago: i64,
) -> serde_json::Value {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes_ago);
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": NS},
        "involvedObject": {"kind": kind, "name": object, "namespace": NS},
        "reason": reason, "message": format!("{reason} {name}"), "type": "Warning",
        "lastTimestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    })
}

fn minutes_ago(minutes: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[tokio::test]
async fn only_warnings_about_the_current_rollout_count() {
    let server = server_with_history().await;
    let runtime = runtime_for(server.kubeconfig());
    let name_of = |rs: &serde_json::Value| rs["metadata"]["name"].as_str().unwrap().to_string();
    let replica_sets = server.replica_sets(NS);
    let current = name_of(replica_sets.iter().find(|rs| revision_of(rs) == 3).unwrap());
    let old = name_of(replica_sets.iter().find(|rs| revision_of(rs) == 2).unwrap());
    let current_pod = server
        .pods(NS)
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .find(|p| p.starts_with(&current))
        .unwrap();
    // A pod of the replaced ReplicaSet, still terminating.
    let old_pod = format!("{old}-zzzzz");
    server.put(
        "pods",
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": old_pod, "namespace": NS, "labels": {"app": NAME},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": old, "uid": "u", "controller": true}]},
            "status": {"phase": "Running"}}),
    );
    // The rollout failed 40 minutes ago, was rolled forward, and completed 30 minutes ago.
    let mut deployment = server.deployment(NS, NAME);
    deployment["status"]["conditions"] = json!([
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
         "lastUpdateTime": minutes_ago(30), "lastTransitionTime": minutes_ago(30)},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
         "lastUpdateTime": minutes_ago(30), "lastTransitionTime": minutes_ago(34)}
    ]);
    server.put("deployments", deployment);
    for event in [
        warning("d1", "Deployment", NAME, "ProgressDeadlineExceeded", 40),
        warning("d2", "Deployment", NAME, "ReplicaSetCreateError", 35),
        warning("d3", "Deployment", NAME, "FailedGetScale", 5),
        warning("r1", "ReplicaSet", &old, "FailedCreate", 20),
        warning("p1", "Pod", &old_pod, "BackOff", 10),
        warning("r2", "ReplicaSet", &current, "FailedCreate", 3),
        warning("p2", "Pod", &current_pod, "BackOff", 2),
    ] {
        server.put("events", event);
    }
    let view = runtime.inspect(&service(None, None)).await.unwrap();
    assert_eq!(
        view.details,
        [
            format!("Warning BackOff pod/{current_pod}: BackOff p2"),
            format!("Warning FailedCreate replicaset/{current}: FailedCreate r2"),
            format!("Warning FailedGetScale deployment/{NAME}: FailedGetScale d3"),
        ],
        "{view:?}"
    );
    assert_eq!(view.level, HealthLevel::Warning);

    // While the deadline is exceeded, the deployment's own warnings of this failure count.
    let mut deployment = server.deployment(NS, NAME);
    deployment["status"]["conditions"] = json!([
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": format!("ReplicaSet \"{current}\" has timed out progressing."),
         "lastUpdateTime": minutes_ago(1), "lastTransitionTime": minutes_ago(1)}
    ]);
    server.put("deployments", deployment);
    let view = runtime.inspect(&service(None, None)).await.unwrap();
    assert_eq!(view.level, HealthLevel::Critical);
    let shown: Vec<&str> = view
        .details
        .iter()
        .filter_map(|line| line.rsplit(' ').next())
        .collect();
    assert_eq!(shown[1..], ["p2", "r2", "d3", "d2", "d1"], "{view:?}");
}

#[tokio::test]
async fn a_rollout_that_never_finishes_ends_with_a_timeout_report() {
    let server = server_with_history().await;
    server.set_mode(RolloutMode::Stalled);
    let runtime = KubernetesRuntime::new(KubernetesSettings {
        kubeconfig: Some(server.kubeconfig().to_path_buf()),
        request_timeout: Duration::from_secs(5),
        rollout_timeout: Duration::from_millis(300),
        retry_interval: Duration::from_millis(20),
    });
    let progress = Recorder::default();
    let started = std::time::Instant::now();
    let report = runtime
        .restart(&service(None, None), &progress)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!report.succeeded);
    assert_eq!(
        report.summary,
        "restarted, but the rollout did not finish within 300ms (last status: Waiting for deployment spec update to be observed...)"
    );
    assert_eq!(
        progress.messages().last().unwrap(),
        "Waiting for deployment spec update to be observed..."
    );
}

#[tokio::test]
async fn a_rollout_past_its_progress_deadline_fails() {
    let server = server_with_history().await;
    server.set_mode(RolloutMode::DeadlineExceeded);
    let runtime = runtime_for(server.kubeconfig());
    let report = runtime
        .rollback(&service(None, None), None, &Recorder::default())
        .await
        .unwrap();
    assert!(!report.succeeded);
    assert_eq!(
        report.summary,
        "rolled back to revision 2, but the rollout failed: deployment \"ai-orchestration\" exceeded its progress deadline"
    );
}

#[tokio::test]
async fn forbidden_verbs_name_the_verb_and_resource_the_role_lacks() {
    let server = server_with_history().await;
    server.forbid("patch", "deployments");
    server.forbid("patch", "deployments/scale");
    server.forbid("list", "events");
    server.forbid("get", "pods/log");
    let runtime = runtime_for(server.kubeconfig());
    let svc = service(None, None);
    let refused = |error: RuntimeError| match error {
        RuntimeError::Refused(message) => message,
        other => panic!("{other:?}"),
    };
    let message = refused(
        runtime
            .restart(&svc, &Recorder::default())
            .await
            .unwrap_err(),
    );
    assert!(
        message.starts_with(&format!(
            "the Kubernetes API server forbids opsbot to patch deployments in namespace {NS} (grant it in the opsbot Role, see deploy/kubernetes/opsbot-rbac.yaml): deployments.apps \"ai-orchestration\" is forbidden"
        )),
        "{message}"
    );
    let message = refused(
        runtime
            .scale(&svc, 4, &Recorder::default())
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("forbids opsbot to patch deployments/scale in namespace"),
        "{message}"
    );
    let message = refused(runtime.inspect(&svc).await.unwrap_err());
    assert!(
        message.contains("forbids opsbot to list events in namespace"),
        "{message}"
    );
    let query = LogQuery {
        since: None,
        tail: 10,
        grep: None,
    };
    let message = refused(runtime.logs(&svc, &query).await.unwrap_err());
    assert!(
        message.contains("forbids opsbot to get pods/log in namespace"),
        "{message}"
    );
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
    let runtime = runtime_for(&kubeconfig);
    let error = runtime
        .restart(&service(None, None), &Recorder::default())
        .await
        .unwrap_err();
    let RuntimeError::Unreachable { what, reason } = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        what,
        format!("the Kubernetes API server at http://127.0.0.1:{port}")
    );
    assert!(
        reason.to_lowercase().contains("connection refused"),
        "{reason}"
    );

    // Over TLS too: the rustls client (ring provider, no OpenSSL) builds and fails cleanly.
    let kubeconfig = write_kubeconfig(dir.path(), &format!("https://127.0.0.1:{port}"));
    let error = runtime_for(&kubeconfig)
        .inspect(&service(None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Unreachable { reason, .. } if reason.to_lowercase().contains("connection refused")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_api_server_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accept connections and say nothing.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &url);
    let runtime = KubernetesRuntime::new(KubernetesSettings {
        kubeconfig: Some(kubeconfig),
        request_timeout: Duration::from_millis(300),
        ..KubernetesSettings::default()
    });
    let started = std::time::Instant::now();
    let error = runtime.inspect(&service(None, None)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let RuntimeError::Unreachable { what, reason } = error else {
        panic!("{error:?}")
    };
    assert_eq!(what, format!("the Kubernetes API server at {url}"));
    assert!(reason.contains("get deployments"), "{reason}");
    silent.abort();
}

#[tokio::test]
async fn contexts_are_chosen_per_target_and_bad_configuration_is_reported_when_used() {
    let server = server_with_history().await;
    let runtime = runtime_for(server.kubeconfig());
    let view = runtime
        .inspect(&service(Some("staging"), None))
        .await
        .unwrap();
    assert_eq!(view.summary, "3/3 ready, 0 restarts");

    let error = runtime
        .inspect(&service(Some("nope"), None))
        .await
        .unwrap_err();
    let RuntimeError::Failed(message) = error else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with("cannot build a Kubernetes client for context \"nope\""),
        "{message}"
    );

    let runtime = runtime_for(std::path::Path::new("/nonexistent/kubeconfig"));
    let error = runtime.inspect(&service(None, None)).await.unwrap_err();
    let RuntimeError::Failed(message) = error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("cannot read kubeconfig /nonexistent/kubeconfig"),
        "{message}"
    );
}

#[tokio::test]
async fn other_targets_are_not_supported() {
    let runtime = KubernetesRuntime::new(KubernetesSettings::default());
    let svc = Service::new("web".parse().unwrap(), "prod".parse().unwrap()).with_target(
        Target::Systemd {
            unit: "web.service".to_string(),
            bus: None,
            journal: None,
        },
    );
    let error = runtime.inspect(&svc).await.unwrap_err();
    assert!(matches!(error, RuntimeError::NotSupported(_)));
}

#[tokio::test]
async fn a_rejected_token_is_a_failure_that_says_so() {
    let server = server_with_history().await;
    server.reject_credentials();
    let runtime = runtime_for(server.kubeconfig());
    let error = runtime.inspect(&service(None, None)).await.unwrap_err();
    let RuntimeError::Failed(message) = error else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with(&format!(
            "the Kubernetes API server at {} rejected opsbot's credentials (401 Unauthorized",
            server.url
        )),
        "{message}"
    );
}

#[tokio::test]
async fn credentials_are_never_sent_over_plain_http_and_requests_name_opsbot() {
    let server = server_with_history().await;
    // Every request opsbot makes says who it is.
    let runtime = runtime_for(server.kubeconfig());
    runtime.inspect(&service(None, None)).await.unwrap();
    let agents = server.user_agents();
    assert!(!agents.is_empty());
    assert!(
        agents.iter().all(|a| a == opsbot_kubernetes::USER_AGENT),
        "{agents:?}"
    );
    assert!(opsbot_kubernetes::USER_AGENT.starts_with("opsbot/"));

    // A context with a token, at an http:// server: refused before any request.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n\
             contexts:\n- name: prod\n  context:\n    cluster: c\n    user: u\n\
             current-context: prod\nusers:\n- name: u\n  user:\n    token: s3cr3t-token\n",
            server.url
        ),
    )
    .unwrap();
    let before = server.user_agents().len();
    let error = runtime_for(&kubeconfig)
        .inspect(&service(None, None))
        .await
        .unwrap_err();
    let RuntimeError::Failed(message) = error else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with(&format!(
            "cannot build a Kubernetes client: context \"prod\" would send its bearer token to {} over plain http://",
            server.url
        )),
        "{message}"
    );
    assert!(!message.contains("s3cr3t-token"), "{message}");
    assert_eq!(server.user_agents().len(), before, "no request was sent");
}

#[tokio::test]
async fn a_revision_keeps_its_id_when_a_rollback_renumbers_it() {
    let server = server_with_history().await;
    let runtime = runtime_for(server.kubeconfig());
    let svc = service(None, None);
    let before = runtime.history(&svc).await.unwrap();
    let ids: Vec<String> = before.iter().map(|r| r.id.clone().unwrap()).collect();
    let names: Vec<String> = server
        .replica_sets(NS)
        .iter()
        .map(|rs| rs["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.iter().all(|id| names.contains(id)), "{ids:?} {names:?}");
    let first = before.iter().find(|r| r.number == 1).unwrap().id.clone();

    runtime
        .rollback(&svc, Some(1), &Recorder::default())
        .await
        .unwrap();
    let after = runtime.history(&svc).await.unwrap();
    let current = after.iter().find(|r| r.current).unwrap();
    assert_eq!((current.number, current.id.clone()), (4, first));
}

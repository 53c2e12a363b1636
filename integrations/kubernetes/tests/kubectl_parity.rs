//! The real `kubectl` (v1.32) against the fake API server, side by side with opsbot.
//!
//! Each test seeds two identical fakes, runs `kubectl rollout …` (or `scale`) against one
//! and the same opsbot operation against the other, and compares the requests and the
//! resulting objects (deployment, ReplicaSets with their revisions and annotations). This
//! proves two things at once: the fake answers kubectl like an API server, and opsbot
//! writes what kubectl writes. Skipped, loudly, when `kubectl` is not on PATH (a failure under CI).

use std::{path::PathBuf, process::Command, sync::Mutex, time::Duration};

use opsbot_commands::{
    Service,
    catalog::Target,
    context::{NoProgress, Progress, Runtime},
};
use opsbot_fakes::kubernetes::{FakeApiServer, RolloutMode};
use opsbot_kubernetes::{KubernetesRuntime, KubernetesSettings};
use serde_json::{Value, json};

const NS: &str = "userwhisperer-prod";
const NAME: &str = "ai-orchestration";
const IMAGES: &[&str] = &[
    "gcr.io/userwhisperer/ai-orchestration:v1.0.0",
    "gcr.io/userwhisperer/ai-orchestration:v1.1.0",
    "gcr.io/userwhisperer/ai-orchestration:v1.2.0",
];

struct Kubectl {
    success: bool,
    stdout: String,
    stderr: String,
}

fn kubectl_available() -> bool {
    let found = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok();
    if !found {
        // Under CI the comparison is the point of the fake: a missing kubectl fails.
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "kubectl is not installed; the kubectl parity tests must run under CI"
        );
        eprintln!("kubectl is not installed: skipping the kubectl parity test");
    }
    found
}

async fn kubectl(server: &FakeApiServer, args: &[&str]) -> Kubectl {
    let kubeconfig: PathBuf = server.kubeconfig().to_path_buf();
    let home: PathBuf = server.dir().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(home.join("cache"))
            .args(&args)
            .env("TZ", "UTC")
            .env("HOME", &home)
            .output()
            .expect("kubectl runs");
        Kubectl {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn service() -> Service {
    Service::new(NAME.parse().unwrap(), "prod".parse().unwrap()).with_target(Target::Kubernetes {
        context: None,
        namespace: NS.to_string(),
        deployment: NAME.to_string(),
        container: None,
    })
}

fn runtime(server: &FakeApiServer) -> KubernetesRuntime {
    KubernetesRuntime::new(KubernetesSettings {
        kubeconfig: Some(server.kubeconfig().to_path_buf()),
        request_timeout: Duration::from_secs(5),
        rollout_timeout: Duration::from_secs(20),
        retry_interval: Duration::from_millis(20),
    })
}

/// Two fakes in the same state: revisions 1..3, 3 replicas, all rolled out.
async fn twins() -> (FakeApiServer, FakeApiServer) {
    let a = FakeApiServer::start().await;
    let b = FakeApiServer::start().await;
    a.seed_deployment(NS, NAME, 3, IMAGES);
    b.seed_deployment(NS, NAME, 3, IMAGES);
    a.clear_requests();
    b.clear_requests();
    (a, b)
}

/// The cluster state with what legitimately differs between two runs taken out: times,
/// resource versions, and the restart time (after checking it is RFC 3339 in seconds),
/// which also feeds the template hash and so the new ReplicaSet's name.
fn snapshot(server: &FakeApiServer) -> Value {
    let mut replica_sets = server.replica_sets(NS);
    replica_sets.sort_by_key(|rs| {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    });
    let mut state = json!({
        "deployment": server.deployment(NS, NAME),
        "replicaSets": replica_sets,
        "pods": server.pods(NS).len(),
    });
    let restarted = state.to_string().contains("restartedAt");
    scrub(&mut state, restarted);
    state
}

fn scrub(value: &mut Value, hide_hashes: bool) {
    match value {
        Value::Object(map) => {
            for key in ["creationTimestamp", "resourceVersion", "managedFields"] {
                map.remove(key);
            }
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "kubectl.kubernetes.io/restartedAt" => {
                        let text = child.as_str().unwrap();
                        let _: jiff::Timestamp = text.parse().unwrap();
                        assert!(text.ends_with('Z') && text.len() == 20, "{text}");
                        *child = json!("<restartedAt>");
                    }
                    "pod-template-hash" if hide_hashes => *child = json!("<hash>"),
                    "message" if hide_hashes => *child = json!("<message>"),
                    _ => scrub(child, hide_hashes),
                }
            }
            if hide_hashes
                && map.get("kind") == Some(&json!("ReplicaSet"))
                && let Some(name) = map.get_mut("metadata").and_then(|m| m.get_mut("name"))
            {
                *name = json!("<replica set>");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub(item, hide_hashes)),
        _ => {}
    }
}

/// The PATCH requests a server received: `path content-type body`, query and time hidden.
fn patches(server: &FakeApiServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("PATCH "))
        .map(|r| {
            let mut parts = r.splitn(4, ' ');
            let (_, path, content_type, body) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap_or_default(),
            );
            let path = path.split('?').next().unwrap();
            let mut body: Value = serde_json::from_str(body).unwrap();
            scrub(&mut body, false);
            format!("{path} {content_type} {body}")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_restart_writes_what_kubectl_writes() {
    if !kubectl_available() {
        return;
    }
    let (a, b) = twins().await;
    let out = kubectl(
        &a,
        &[
            "rollout",
            "restart",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
        ],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!("deployment.apps/{NAME} restarted")
    );
    let report = runtime(&b).restart(&service(), &NoProgress).await.unwrap();
    assert!(report.succeeded, "{report:?}");

    assert_eq!(patches(&a), patches(&b));
    assert_eq!(
        patches(&b),
        [format!(
            "/apis/apps/v1/namespaces/{NS}/deployments/{NAME} application/strategic-merge-patch+json {}",
            json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "<restartedAt>"}}}}})
        )]
    );
    assert_eq!(snapshot(&a), snapshot(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_restart_of_a_paused_deployment_is_refused_by_both() {
    if !kubectl_available() {
        return;
    }
    let (a, b) = twins().await;
    for server in [&a, &b] {
        server.patch(
            NS,
            NAME,
            "application/merge-patch+json",
            &json!({"spec": {"paused": true}}),
        );
        server.clear_requests();
    }
    let out = kubectl(
        &a,
        &[
            "rollout",
            "restart",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
        ],
    )
    .await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("can't restart paused deployment"),
        "{}",
        out.stderr
    );
    let error = runtime(&b)
        .restart(&service(), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("can't restart paused deployment"),
        "{error}"
    );
    assert!(patches(&a).is_empty() && patches(&b).is_empty());
    assert_eq!(snapshot(&a), snapshot(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_undo_writes_what_kubectl_writes() {
    if !kubectl_available() {
        return;
    }
    let (a, b) = twins().await;
    let out = kubectl(
        &a,
        &["rollout", "undo", &format!("deployment/{NAME}"), "-n", NS],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!("deployment.apps/{NAME} rolled back")
    );
    let report = runtime(&b)
        .rollback(&service(), None, &NoProgress)
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    assert_eq!(patches(&a), patches(&b));
    assert_eq!(snapshot(&a), snapshot(&b));
    assert_eq!(
        snapshot(&b)["deployment"]["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(IMAGES[1])
    );

    // Then to an explicit revision, and to the revision that is already current.
    let out = kubectl(
        &a,
        &[
            "rollout",
            "undo",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
            "--to-revision=1",
        ],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    runtime(&b)
        .rollback(&service(), Some(1), &NoProgress)
        .await
        .unwrap();
    assert_eq!(patches(&a), patches(&b));
    assert_eq!(snapshot(&a), snapshot(&b));

    let out = kubectl(
        &a,
        &[
            "rollout",
            "undo",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
            "--to-revision=5",
        ],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    let report = runtime(&b)
        .rollback(&service(), Some(5), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        out.stdout.trim(),
        format!("deployment.apps/{NAME} {}", report.summary)
    );
    assert_eq!(patches(&a), patches(&b));
    assert_eq!(snapshot(&a), snapshot(&b));

    // An unknown revision: both refuse and change nothing.
    let out = kubectl(
        &a,
        &[
            "rollout",
            "undo",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
            "--to-revision=1",
        ],
    )
    .await;
    assert!(!out.success);
    assert!(
        out.stderr
            .contains("unable to find specified revision 1 in history"),
        "{}",
        out.stderr
    );
    let error = runtime(&b)
        .rollback(&service(), Some(1), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("unable to find revision 1"),
        "{error}"
    );
    assert_eq!(snapshot(&a), snapshot(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_history_matches_kubectl() {
    if !kubectl_available() {
        return;
    }
    let server = FakeApiServer::start().await;
    server.seed_deployment(NS, NAME, 3, IMAGES);
    // A rollback re-numbers an old revision: history must show the same numbers.
    runtime(&server)
        .rollback(&service(), Some(1), &NoProgress)
        .await
        .unwrap();
    let out = kubectl(
        &server,
        &[
            "rollout",
            "history",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
        ],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    let from_kubectl: Vec<(i64, String)> = out
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("REVISION"))
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (number, cause) = line.split_once(char::is_whitespace).unwrap();
            (number.parse().unwrap(), cause.trim().to_string())
        })
        .collect();
    let history = runtime(&server).history(&service()).await.unwrap();
    let from_opsbot: Vec<(i64, String)> = history
        .iter()
        .map(|r| {
            (
                r.number,
                r.change_cause.clone().unwrap_or_else(|| "<none>".into()),
            )
        })
        .collect();
    assert_eq!(from_kubectl, from_opsbot);
    assert_eq!(
        from_opsbot.iter().map(|r| r.0).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert!(history.last().unwrap().current);
    assert_eq!(history.last().unwrap().images, [IMAGES[0]]);

    // `--revision N` shows the template of that revision; check the image agrees.
    let out = kubectl(
        &server,
        &[
            "rollout",
            "history",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
            "--revision=3",
        ],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("Image:\t{}", history[1].images[0]))
            || out
                .stdout
                .contains(&format!("Image:      {}", history[1].images[0]))
            || out.stdout.contains(history[1].images[0].as_str()),
        "{}",
        out.stdout
    );
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn report(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_status_messages_match_kubectl() {
    if !kubectl_available() {
        return;
    }
    let (a, b) = twins().await;
    let steps = RolloutMode::Steps {
        delay: Duration::from_millis(700),
    };
    a.set_mode(steps);
    b.set_mode(steps);
    // Warm kubectl's discovery cache so that it starts watching within the first step.
    let out = kubectl(
        &a,
        &["rollout", "status", &format!("deployment/{NAME}"), "-n", NS],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    a.set_image(NS, NAME, "gcr.io/userwhisperer/ai-orchestration:v1.3.0");
    let out = kubectl(
        &a,
        &[
            "rollout",
            "status",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
            "--timeout=30s",
        ],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    let mut from_kubectl: Vec<String> = out.stdout.lines().map(str::to_string).collect();
    from_kubectl.dedup();

    let progress = Recorder::default();
    let report = runtime(&b).restart(&service(), &progress).await.unwrap();
    let mut from_opsbot = progress.0.lock().unwrap().clone();
    from_opsbot.remove(0); // "deployment.apps/… restarted"
    from_opsbot.push(report.details.last().unwrap().clone());
    assert_eq!(from_kubectl, from_opsbot);
    assert_eq!(from_opsbot.len(), 6, "{from_opsbot:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_status_fails_on_the_progress_deadline_like_kubectl() {
    if !kubectl_available() {
        return;
    }
    let (a, b) = twins().await;
    a.set_mode(RolloutMode::DeadlineExceeded);
    b.set_mode(RolloutMode::DeadlineExceeded);
    a.set_image(NS, NAME, "gcr.io/userwhisperer/ai-orchestration:v9");
    let out = kubectl(
        &a,
        &[
            "rollout",
            "status",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
            "--timeout=10s",
        ],
    )
    .await;
    assert!(!out.success);
    let report = runtime(&b)
        .rollback(&service(), None, &NoProgress)
        .await
        .unwrap();
    assert!(!report.succeeded);
    let message = format!("deployment \"{NAME}\" exceeded its progress deadline");
    assert!(out.stderr.contains(&message), "{}", out.stderr);
    assert!(report.summary.ends_with(&message), "{}", report.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_writes_what_kubectl_writes() {
    if !kubectl_available() {
        return;
    }
    let (a, b) = twins().await;
    let out = kubectl(
        &a,
        &[
            "scale",
            &format!("deployment/{NAME}"),
            "-n",
            NS,
            "--replicas=5",
        ],
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    let report = runtime(&b).scale(&service(), 5, &NoProgress).await.unwrap();
    assert!(report.succeeded, "{report:?}");
    assert_eq!(patches(&a), patches(&b));
    assert_eq!(snapshot(&a), snapshot(&b));
}

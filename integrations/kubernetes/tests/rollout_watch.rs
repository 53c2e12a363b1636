//! Following rollouts with a watch, against the fake API server: a finished rollout is
//! noticed from the watch's events (not from a poll), a watch the server closes is resumed
//! from its last resourceVersion, an expired one (`410`) is re-established after a fresh
//! read, and a Role without `watch` falls back to reading the deployment.
//!
//! The retry interval is an hour in the tests that must not poll: a follower that polled
//! would not finish within the rollout timeout, and its report would say so.

use std::{sync::Mutex, time::Duration};

use opsbot_commands::{
    Service,
    catalog::Target,
    context::{Progress, Runtime},
};
use opsbot_fakes::kubernetes::{FakeApiServer, RolloutMode};
use opsbot_kubernetes::{KubernetesRuntime, KubernetesSettings};

const NS: &str = "userwhisperer-prod";
const NAME: &str = "ai-orchestration";

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn report(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

fn service() -> Service {
    Service::new(NAME.parse().unwrap(), "prod".parse().unwrap()).with_target(Target::Kubernetes {
        context: None,
        namespace: NS.to_string(),
        deployment: NAME.to_string(),
        container: None,
    })
}

fn runtime(
    server: &FakeApiServer,
    request_timeout: Duration,
    retry: Duration,
) -> KubernetesRuntime {
    KubernetesRuntime::new(KubernetesSettings {
        kubeconfig: Some(server.kubeconfig().to_path_buf()),
        request_timeout,
        rollout_timeout: Duration::from_secs(20),
        retry_interval: retry,
    })
}

async fn server(step: Duration) -> FakeApiServer {
    let server = FakeApiServer::start().await;
    server.seed_deployment(NS, NAME, 3, &["ai:1", "ai:2"]);
    server.set_mode(RolloutMode::Steps { delay: step });
    server.clear_requests();
    server
}

/// The deployment requests, each as `GET`, `PATCH` or `WATCH from=RV`.
fn deployment_requests(server: &FakeApiServer) -> Vec<String> {
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments");
    server
        .requests()
        .iter()
        .filter_map(|request| {
            let (method, rest) = request.split_once(' ')?;
            let target = rest.split(' ').next()?;
            let (route, query) = target.split_once('?').unwrap_or((target, ""));
            if !route.starts_with(&path) {
                return None;
            }
            if query.split('&').any(|pair| pair == "watch=true") {
                let from = query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("resourceVersion="))
                    .unwrap_or("");
                assert!(
                    query.contains("fieldSelector=metadata.name%3Dai-orchestration"),
                    "{request}"
                );
                return Some(format!("WATCH from={from}"));
            }
            Some(method.to_string())
        })
        .collect()
}

fn kinds(requests: &[String]) -> Vec<&str> {
    requests
        .iter()
        .map(|r| r.split(' ').next().unwrap())
        .collect()
}

#[tokio::test]
async fn a_finished_rollout_is_noticed_from_watch_events_without_polling() {
    let server = server(Duration::from_millis(30)).await;
    let progress = Recorder::default();
    let report = runtime(&server, Duration::from_secs(5), Duration::from_secs(3600))
        .restart(&service(), &progress)
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    // One read before the patch, one to start following, one watch: every later status
    // (each step of the controller) came as an event of that watch.
    let requests = deployment_requests(&server);
    assert_eq!(
        kinds(&requests),
        ["GET", "PATCH", "GET", "WATCH"],
        "{requests:?}"
    );
    let messages = progress.0.lock().unwrap().clone();
    assert_eq!(
        messages,
        [
            "deployment.apps/ai-orchestration restarted",
            "Waiting for deployment \"ai-orchestration\" rollout to finish: 0 out of 3 new replicas have been updated...",
            "Waiting for deployment \"ai-orchestration\" rollout to finish: 1 out of 3 new replicas have been updated...",
            "Waiting for deployment \"ai-orchestration\" rollout to finish: 2 out of 3 new replicas have been updated...",
            "Waiting for deployment \"ai-orchestration\" rollout to finish: 1 old replicas are pending termination...",
            "Waiting for deployment \"ai-orchestration\" rollout to finish: 2 of 3 updated replicas are available...",
        ]
    );
}

#[tokio::test]
async fn scale_and_rollback_follow_with_a_watch_too() {
    let server = server(Duration::from_millis(20)).await;
    let rt = runtime(&server, Duration::from_secs(5), Duration::from_secs(3600));
    let report = rt.scale(&service(), 4, &Recorder::default()).await.unwrap();
    assert!(report.succeeded, "{report:?}");
    assert_eq!(
        kinds(&deployment_requests(&server)),
        ["GET", "PATCH", "GET", "WATCH"]
    );
    server.clear_requests();
    let report = rt
        .rollback(&service(), None, &Recorder::default())
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    assert_eq!(
        kinds(&deployment_requests(&server)),
        ["GET", "PATCH", "GET", "WATCH"]
    );
}

#[tokio::test]
async fn a_watch_the_server_closes_is_resumed_from_its_last_resource_version() {
    // Watches last 1 s (`timeoutSeconds` below the 2 s request timeout); the rollout's six
    // steps of 400 ms take longer, so the first watch ends before the rollout does.
    let server = server(Duration::from_millis(400)).await;
    let report = runtime(&server, Duration::from_secs(2), Duration::from_secs(3600))
        .restart(&service(), &Recorder::default())
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    let requests = deployment_requests(&server);
    let watches: Vec<&String> = requests.iter().filter(|r| r.starts_with("WATCH")).collect();
    assert!(watches.len() >= 2, "{requests:?}");
    // Resumed without another read, each from a later resourceVersion (the bookmark's).
    assert_eq!(kinds(&requests[..3]), ["GET", "PATCH", "GET"]);
    assert!(
        requests[3..].iter().all(|r| r.starts_with("WATCH")),
        "{requests:?}"
    );
    let versions: Vec<u64> = watches
        .iter()
        .map(|w| w.trim_start_matches("WATCH from=").parse().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );
}

#[tokio::test]
async fn an_expired_watch_is_re_established_after_a_fresh_read() {
    let server = server(Duration::from_millis(30)).await;
    server.expire_next_watches(1);
    let report = runtime(&server, Duration::from_secs(5), Duration::from_secs(3600))
        .restart(&service(), &Recorder::default())
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    // 410 Expired: read again (no waiting: the retry interval is an hour), watch again.
    assert_eq!(
        kinds(&deployment_requests(&server)),
        ["GET", "PATCH", "GET", "WATCH", "GET", "WATCH"]
    );
}

#[tokio::test]
async fn a_compacted_history_expires_an_old_resource_version() {
    let server = server(Duration::from_millis(30)).await;
    let old = server.deployment(NS, NAME)["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    server.set_image(NS, NAME, "ai:3");
    server.compact();
    let url = format!(
        "{}/apis/apps/v1/namespaces/{NS}/deployments?watch=true&resourceVersion={old}",
        server.url
    );
    let body = http_get(&url).await;
    let event: serde_json::Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
}

#[tokio::test]
async fn without_watch_in_the_role_the_rollout_is_followed_by_reading() {
    let server = server(Duration::from_millis(30)).await;
    server.forbid("watch", "deployments");
    let report = runtime(&server, Duration::from_secs(5), Duration::from_millis(10))
        .restart(&service(), &Recorder::default())
        .await
        .unwrap();
    assert!(report.succeeded, "{report:?}");
    let requests = deployment_requests(&server);
    let kinds = kinds(&requests);
    assert_eq!(kinds[..4], ["GET", "PATCH", "GET", "WATCH"], "{requests:?}");
    assert!(kinds[4..].iter().all(|k| *k == "GET"), "{requests:?}");
    assert!(kinds.len() > 5, "read until rolled out: {requests:?}");
}

/// A plain HTTP/1.1 GET of a watch that ends after its first event (the fake closes a
/// `410` watch at once), without a client library.
async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

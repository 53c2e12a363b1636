//! A fake Kubernetes API server for tests, written from the API's documented behaviour:
//! deployments (GET, watch with the documented resourceVersion, timeout, bookmark and
//! `410 Expired` semantics, PATCH with strategic-merge, merge and JSON patches; spec
//! changes bump `metadata.generation`, the controller reports `observedGeneration`), the
//! scale subresource, ReplicaSets with revisions and ownerReferences, pods and their logs,
//! events, the discovery documents kubectl needs, 403 for verbs a test forbids, and a
//! small deployment controller ([`controller`]). It listens on 127.0.0.1 over plain HTTP
//! and writes a kubeconfig pointing at itself, so both opsbot and the real `kubectl` talk
//! to it. Leases for leader election, with server-side apply: [`leases`].
//!
//! ```no_run
//! # async fn demo() {
//! use opsbot_fakes::kubernetes::FakeApiServer;
//!
//! let server = FakeApiServer::start().await; // 127.0.0.1:0, a kubeconfig in a temp dir
//! server.seed_deployment("prod", "api", 3, &["api:1", "api:2"]); // revisions 1 and 2
//! // … point a client at `server.kubeconfig()` and act, then look:
//! assert_eq!(server.deployment("prod", "api")["spec"]["replicas"], 3);
//! server.shutdown();
//! # }
//! ```

pub mod controller;
pub mod discovery;
pub mod leases;
pub mod patch;
pub mod routes;
pub mod selectors;
pub mod world;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};

pub use world::{RolloutMode, World};

/// A running fake API server and a kubeconfig that points at it.
pub struct FakeApiServer {
    pub world: Arc<Mutex<World>>,
    pub url: String,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApiServer {
    /// Starts an empty server on a free local port, with rollouts [`RolloutMode::Instant`].
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let world = Arc::new(Mutex::new(World::default()));
        let shared = routes::Shared {
            world: world.clone(),
            address: address.clone(),
        };
        let app = axum::Router::new()
            .fallback(routes::handle)
            .with_state(shared);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let url = format!("http://{address}");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = write_kubeconfig(dir.path(), &url);
        Self {
            world,
            url,
            dir,
            kubeconfig,
            task,
        }
    }

    /// A kubeconfig with contexts `fake` (current) and `staging`, both at this server.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A scratch directory that lives as long as the server (kubectl's cache, …).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops serving (as dropping does); the kubeconfig's directory goes away.
    pub fn shutdown(self) {
        drop(self);
    }

    /// How the controller rolls out changes from now on.
    pub fn set_mode(&self, mode: RolloutMode) {
        self.world.lock().unwrap().mode = mode;
    }

    /// Answers `verb` on `resource` (e.g. `patch`, `deployments/scale`) with 403 from now on.
    pub fn forbid(&self, verb: &str, resource: &str) {
        self.world
            .lock()
            .unwrap()
            .forbidden
            .insert((verb.to_string(), resource.to_string()));
    }

    /// Answers the next `count` watches with an `ERROR` event of status `410 Expired`
    /// (whatever resourceVersion they start at), as after an etcd compaction.
    pub fn expire_next_watches(&self, count: u32) {
        self.world.lock().unwrap().expire_watches = count;
    }

    /// Forgets the deployment change history up to now ([`World::compact`]).
    pub fn compact(&self) {
        self.world.lock().unwrap().compact();
    }

    /// Answers every request with 401 Unauthorized from now on (a revoked token).
    pub fn reject_credentials(&self) {
        self.world.lock().unwrap().unauthorized = true;
    }

    /// The `User-Agent` of every request so far (empty strings for requests without one).
    pub fn user_agents(&self) -> Vec<String> {
        self.world.lock().unwrap().user_agents.clone()
    }

    /// Creates a deployment as `kubectl create` + the controller would leave it (revision 1,
    /// rolled out), then rolls out each further image (`kubectl set image` with a
    /// change-cause), so revisions 1..=images.len() exist.
    pub fn seed_deployment(&self, namespace: &str, name: &str, replicas: i64, images: &[&str]) {
        let mode = {
            let mut world = self.world.lock().unwrap();
            std::mem::replace(&mut world.mode, RolloutMode::Instant)
        };
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "generation": 1,
                "labels": {"app": name},
                "annotations": {"kubernetes.io/change-cause": format!("create {}", images[0])}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [{"name": name, "image": images[0],
                            "imagePullPolicy": "IfNotPresent", "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File"}],
                        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst", "securityContext": {},
                        "schedulerName": "default-scheduler"
                    }
                },
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            },
            "status": {}
        });
        {
            let mut world = self.world.lock().unwrap();
            world.put("deployments", deployment);
            controller::reconcile(&self.world, &mut world, namespace, name);
        }
        for image in &images[1..] {
            self.set_image(namespace, name, image);
        }
        self.world.lock().unwrap().mode = mode;
    }

    /// `kubectl set image deployment/NAME NAME=IMAGE` with a change-cause annotation.
    pub fn set_image(&self, namespace: &str, name: &str, image: &str) {
        let patch = json!({
            "metadata": {"annotations": {"kubernetes.io/change-cause": format!("set image {image}")}},
            "spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}
        });
        self.patch(
            namespace,
            name,
            "application/strategic-merge-patch+json",
            &patch,
        );
    }

    /// Any PATCH, as if a client sent it.
    pub fn patch(&self, namespace: &str, name: &str, content_type: &str, patch: &Value) {
        let mut world = self.world.lock().unwrap();
        routes::patch_deployment(
            &self.world,
            &mut world,
            namespace,
            name,
            false,
            content_type,
            patch.to_string().as_bytes(),
        )
        .unwrap();
    }

    /// The stored deployment (panics when there is none).
    pub fn deployment(&self, namespace: &str, name: &str) -> Value {
        self.world
            .lock()
            .unwrap()
            .get("deployments", namespace, name)
            .cloned()
            .unwrap()
    }

    pub fn replica_sets(&self, namespace: &str) -> Vec<Value> {
        self.world.lock().unwrap().list("replicasets", namespace)
    }

    pub fn pods(&self, namespace: &str) -> Vec<Value> {
        self.world.lock().unwrap().list("pods", namespace)
    }

    /// Stores any object (a pod with a crash-looping container, an event, …).
    pub fn put(&self, resource: &str, object: Value) -> Value {
        self.world.lock().unwrap().put(resource, object)
    }

    /// Appends lines to a container's log, each `seconds_ago` old.
    pub fn add_log_lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: &[(i64, &str)],
    ) {
        let now = jiff::Timestamp::now();
        let mut world = self.world.lock().unwrap();
        let log = world
            .logs
            .entry((
                namespace.to_string(),
                pod.to_string(),
                container.to_string(),
            ))
            .or_default();
        for (seconds_ago, line) in lines {
            log.push((
                now - jiff::SignedDuration::from_secs(*seconds_ago),
                line.to_string(),
            ));
        }
    }

    /// `METHOD path?query content-type [patch body]` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.world.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.world.lock().unwrap().requests.clear();
    }
}

/// Writes a kubeconfig for `url` into `dir` and returns its path. Its user has no
/// credentials: the fake serves plain `http://`, where kubectl sends none and opsbot
/// refuses a context that has some.
pub fn write_kubeconfig(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {url}
contexts:
- name: fake
  context:
    cluster: fake
    user: opsbot
    namespace: default
- name: staging
  context:
    cluster: fake
    user: opsbot
current-context: fake
users:
- name: opsbot
  user: {{}}
"
    );
    std::fs::write(&path, text).unwrap();
    path
}

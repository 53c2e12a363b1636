//! The fake API server's state: objects as JSON (as the real server stores them), one
//! global resourceVersion counter, a log of deployment changes for watches, and the knobs
//! tests turn (forbidden verbs, how the controller rolls out).

use std::{
    collections::{BTreeMap, HashSet},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::sync::broadcast;

/// How the fake deployment controller brings a changed deployment to its new state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutMode {
    /// Observed and rolled out within the write that changed the spec.
    Instant,
    /// Observed at once, then one status step per `delay`, as kubectl would watch it:
    /// new replicas updated one by one, old ones terminating, new ones becoming available.
    Steps { delay: Duration },
    /// The controller never observes the new generation (a hung controller).
    Stalled,
    /// Observed, then `Progressing=False` with `ProgressDeadlineExceeded`.
    DeadlineExceeded,
}

/// A change to a deployment, as a watch reports it.
#[derive(Clone, Debug)]
pub struct Change {
    pub resource_version: u64,
    pub kind: &'static str,
    pub object: Value,
}

/// Everything the fake API server holds.
pub struct World {
    resource_version: u64,
    uid_counter: u64,
    /// (resource, namespace, name) → object. Resources: deployments, replicasets, pods, events.
    pub objects: BTreeMap<(String, String, String), Value>,
    /// (namespace, pod, container) → (line time, line).
    pub logs: BTreeMap<(String, String, String), Vec<(jiff::Timestamp, String)>>,
    /// (verb, resource) pairs answered with 403, e.g. ("patch", "deployments/scale").
    pub forbidden: HashSet<(String, String)>,
    pub mode: RolloutMode,
    /// Deployment changes, for watches that start at an older resourceVersion.
    pub changes: Vec<Change>,
    pub watchers: broadcast::Sender<Change>,
    /// `METHOD path?query content-type` of every request, for assertions and debugging.
    pub requests: Vec<String>,
    /// The `User-Agent` header of every request (empty when there was none).
    pub user_agents: Vec<String>,
    /// Answer every request with 401, as an API server does for a revoked or expired token.
    pub unauthorized: bool,
    /// Changes at or before this resourceVersion are compacted away: a watch from an
    /// older resourceVersion gets `410 Expired`, as from an etcd compaction.
    pub compacted_through: u64,
    /// How many of the next watches are answered with `410 Expired` whatever they ask.
    pub expire_watches: u32,
}

impl Default for World {
    fn default() -> Self {
        Self {
            resource_version: 1000,
            uid_counter: 0,
            objects: BTreeMap::new(),
            logs: BTreeMap::new(),
            forbidden: HashSet::new(),
            mode: RolloutMode::Instant,
            changes: Vec::new(),
            watchers: broadcast::channel(1024).0,
            requests: Vec::new(),
            user_agents: Vec::new(),
            unauthorized: false,
            compacted_through: 0,
            expire_watches: 0,
        }
    }
}

impl World {
    pub fn next_resource_version(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    pub fn new_uid(&mut self) -> String {
        self.uid_counter += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.uid_counter)
    }

    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(
            resource.to_string(),
            namespace.to_string(),
            name.to_string(),
        ))
    }

    pub fn list(&self, resource: &str, namespace: &str) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, ns, _), _)| r == resource && ns == namespace)
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// Stores an object (new or changed): stamps uid, creationTimestamp, resourceVersion,
    /// and tells deployment watchers.
    pub fn put(&mut self, resource: &str, mut object: Value) -> Value {
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("object without name")
            .to_string();
        let key = (resource.to_string(), namespace, name);
        let existed = self.objects.contains_key(&key);
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(self.new_uid());
        }
        if object["metadata"]["creationTimestamp"].is_null() {
            object["metadata"]["creationTimestamp"] = json!(now());
        }
        let rv = self.next_resource_version();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.objects.insert(key, object.clone());
        if resource == "deployments" {
            let change = Change {
                resource_version: rv,
                kind: if existed { "MODIFIED" } else { "ADDED" },
                object: object.clone(),
            };
            self.changes.push(change.clone());
            let _ = self.watchers.send(change);
        }
        object
    }

    /// Forgets the change history up to now, as an etcd compaction does: watches from an
    /// older resourceVersion are answered `410 Gone` (reason `Expired`) from now on.
    pub fn compact(&mut self) {
        self.compacted_through = self.resource_version;
        self.changes.clear();
    }

    pub fn remove(&mut self, resource: &str, namespace: &str, name: &str) {
        self.objects.remove(&(
            resource.to_string(),
            namespace.to_string(),
            name.to_string(),
        ));
        self.next_resource_version();
    }

    pub fn is_forbidden(&self, verb: &str, resource: &str) -> bool {
        self.forbidden
            .contains(&(verb.to_string(), resource.to_string()))
    }
}

/// Now, as the API server writes timestamps (RFC 3339, whole seconds, UTC).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

//! A small deployment controller, after the real one (`pkg/controller/deployment`):
//!
//! * a deployment whose pod template matches none of its ReplicaSets gets a new
//!   ReplicaSet `NAME-HASH` with revision max+1, labelled and selected by
//!   `pod-template-hash`, controlled by the deployment (ownerReference);
//! * when an older ReplicaSet matches (a rollback), that one is re-used and gets revision
//!   max+1, its former number going to `deployment.kubernetes.io/revision-history`;
//! * the new ReplicaSet gets the deployment's annotations (except the controller's own
//!   bookkeeping ones), the deployment gets the new revision in its annotations;
//! * the new ReplicaSet is scaled to `spec.replicas` (with pods), the old ones to zero;
//! * the status is updated according to [`RolloutMode`].

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Map, Value, json};

use super::world::{RolloutMode, World, now};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const HASH_LABEL: &str = "pod-template-hash";
/// Annotations the controller never copies from a deployment to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Brings the ReplicaSets, pods and status of a deployment in line with its spec.
pub fn reconcile(shared: &Arc<Mutex<World>>, world: &mut World, namespace: &str, name: &str) {
    let Some(mut deployment) = world.get("deployments", namespace, name).cloned() else {
        return;
    };
    if world.mode == RolloutMode::Stalled {
        return;
    }
    let uid = deployment["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = deployment["spec"]["template"].clone();
    let owned: Vec<Value> = world
        .list("replicasets", namespace)
        .into_iter()
        .filter(|rs| controlled_by(rs, &uid))
        .collect();
    let max_revision = owned.iter().filter_map(revision).max().unwrap_or(0);
    let matching = owned
        .iter()
        .find(|rs| equal_ignore_hash(&rs["spec"]["template"], &template))
        .cloned();
    let template_changed = matching
        .as_ref()
        .is_none_or(|rs| revision(rs) != Some(max_revision));
    let old_available: i64 = owned
        .iter()
        .filter(|rs| Some(*rs) != matching.as_ref())
        .map(|rs| rs["status"]["replicas"].as_i64().unwrap_or(0))
        .sum();

    // The new ReplicaSet: re-used (revision bumped) or created.
    let mut new_rs = match matching {
        Some(mut rs) => {
            let old = revision(&rs).unwrap_or(0);
            if old != max_revision {
                let annotations = annotations_mut(&mut rs);
                let history = match annotations.get(REVISION_HISTORY).and_then(Value::as_str) {
                    Some(history) => format!("{history},{old}"),
                    None => old.to_string(),
                };
                annotations.insert(REVISION_HISTORY.into(), json!(history));
                annotations.insert(REVISION.into(), json!((max_revision + 1).to_string()));
            }
            rs
        }
        None => new_replica_set(world, &deployment, max_revision + 1),
    };
    // Deployment annotations flow to the new ReplicaSet (this is how change-cause does).
    let copied: Vec<(String, Value)> = deployment["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let annotations = annotations_mut(&mut new_rs);
    annotations.extend(copied);
    annotations.insert(
        "deployment.kubernetes.io/desired-replicas".into(),
        json!(replicas.to_string()),
    );
    annotations.insert(
        "deployment.kubernetes.io/max-replicas".into(),
        json!((replicas + 1).to_string()),
    );
    let new_revision = revision(&new_rs).unwrap_or(1);
    new_rs["spec"]["replicas"] = json!(replicas);
    new_rs["status"] = json!({"replicas": replicas, "readyReplicas": replicas,
        "availableReplicas": replicas, "fullyLabeledReplicas": replicas,
        "observedGeneration": 1});
    let new_rs = world.put("replicasets", new_rs);
    let new_rs_name = new_rs["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Old ReplicaSets scale to zero; pods follow their ReplicaSet.
    for mut rs in owned {
        if rs["metadata"]["name"] == new_rs["metadata"]["name"]
            || rs["spec"]["replicas"] == json!(0)
        {
            continue;
        }
        rs["spec"]["replicas"] = json!(0);
        rs["status"] = json!({"replicas": 0, "observedGeneration": 1});
        world.put("replicasets", rs);
    }
    sync_pods(world, namespace, &new_rs, replicas);

    annotations_mut(&mut deployment).insert(REVISION.into(), json!(new_revision.to_string()));
    let generation = deployment["metadata"]["generation"].as_i64().unwrap_or(1);
    let complete = json!({
        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": replicas, "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": format!("ReplicaSet \"{new_rs_name}\" has successfully progressed.")}
        ]
    });
    match world.mode {
        RolloutMode::Instant | RolloutMode::Stalled => {
            deployment["status"] = complete;
            world.put("deployments", deployment);
        }
        RolloutMode::DeadlineExceeded => {
            deployment["status"] = json!({
                "observedGeneration": generation, "replicas": old_available.max(replicas),
                "updatedReplicas": 0, "availableReplicas": old_available,
                "conditions": [{"type": "Progressing", "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": format!("ReplicaSet \"{new_rs_name}\" has timed out progressing.")}]
            });
            world.put("deployments", deployment);
        }
        RolloutMode::Steps { delay } => {
            let mut steps = Vec::new();
            let status = |replicas_now: i64, updated: i64, available: i64| {
                json!({"observedGeneration": generation, "replicas": replicas_now,
                       "updatedReplicas": updated, "readyReplicas": available,
                       "availableReplicas": available})
            };
            if template_changed {
                let old = old_available;
                steps.push(status(old, 0, old));
                for updated in 1..=replicas {
                    steps.push(status(replicas + 1, updated, old.min(replicas)));
                }
                if replicas > 0 {
                    steps.push(status(replicas, replicas, replicas - 1));
                }
            } else {
                let before = deployment["status"]["availableReplicas"]
                    .as_i64()
                    .unwrap_or(0);
                steps.push(status(replicas, replicas, before.min(replicas)));
            }
            steps.push(complete);
            let first = steps.remove(0);
            deployment["status"] = first;
            world.put("deployments", deployment);
            spawn_steps(
                shared.clone(),
                namespace.to_string(),
                name.to_string(),
                generation,
                steps,
                delay,
            );
        }
    }
}

/// Applies the remaining statuses one per `delay`, unless the spec changed meanwhile.
fn spawn_steps(
    shared: Arc<Mutex<World>>,
    namespace: String,
    name: String,
    generation: i64,
    steps: Vec<Value>,
    delay: Duration,
) {
    tokio::spawn(async move {
        for status in steps {
            tokio::time::sleep(delay).await;
            let mut world = shared.lock().unwrap();
            let Some(mut deployment) = world.get("deployments", &namespace, &name).cloned() else {
                return;
            };
            if deployment["metadata"]["generation"].as_i64() != Some(generation) {
                return;
            }
            deployment["status"] = status;
            world.put("deployments", deployment);
        }
    });
}

fn new_replica_set(world: &mut World, deployment: &Value, revision: i64) -> Value {
    let hash = template_hash(&deployment["spec"]["template"]);
    let name = format!(
        "{}-{hash}",
        deployment["metadata"]["name"].as_str().unwrap_or_default()
    );
    let mut template = deployment["spec"]["template"].clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = deployment["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let _ = world;
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": deployment["metadata"]["namespace"],
            "labels": template["metadata"]["labels"],
            "annotations": {REVISION: revision.to_string()},
            "generation": 1,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment",
                "name": deployment["metadata"]["name"], "uid": deployment["metadata"]["uid"],
                "controller": true, "blockOwnerDeletion": true
            }]
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
        "status": {"replicas": 0}
    })
}

/// Pods of the new ReplicaSet up to `replicas`; pods of other ReplicaSets removed.
fn sync_pods(world: &mut World, namespace: &str, rs: &Value, replicas: i64) {
    let rs_name = rs["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let deployment_name = rs["metadata"]["ownerReferences"][0]["name"].clone();
    let deployment_prefix = format!("{}-", deployment_name.as_str().unwrap_or_default());
    let pods = world.list("pods", namespace);
    let mut mine = 0;
    for pod in pods {
        let owner = pod["metadata"]["ownerReferences"][0]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let pod_name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if owner == rs_name && mine < replicas {
            mine += 1;
        } else if owner.starts_with(&deployment_prefix) {
            world.remove("pods", namespace, &pod_name);
        }
    }
    while mine < replicas {
        let suffix = &world.new_uid()[30..];
        let containers = rs["spec"]["template"]["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true,
                "restartCount": 0, "started": true, "state": {"running": {"startedAt": now()}}})
            })
            .collect();
        world.put(
            "pods",
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": format!("{rs_name}-{suffix}"), "namespace": namespace,
                    "labels": rs["spec"]["template"]["metadata"]["labels"],
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": rs_name, "uid": rs["metadata"]["uid"], "controller": true,
                        "blockOwnerDeletion": true}]
                },
                "spec": rs["spec"]["template"]["spec"],
                "status": {"phase": "Running", "containerStatuses": statuses}
            }),
        );
        mine += 1;
    }
}

pub fn revision(object: &Value) -> Option<i64> {
    object["metadata"]["annotations"][REVISION]
        .as_str()?
        .parse()
        .ok()
}

fn controlled_by(object: &Value, uid: &str) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|owner| owner["controller"] == json!(true) && owner["uid"] == json!(uid))
}

fn annotations_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"]["annotations"].is_object() {
        object["metadata"]["annotations"] = json!({});
    }
    object["metadata"]["annotations"]
        .as_object_mut()
        .expect("object")
}

/// Templates equal once the hash label is gone and nulls and empty lists/maps pruned.
pub fn equal_ignore_hash(a: &Value, b: &Value) -> bool {
    fn clean(value: &Value) -> Value {
        let mut value = value.clone();
        if let Some(labels) = value["metadata"]["labels"].as_object_mut() {
            labels.remove(HASH_LABEL);
        }
        prune(&mut value);
        value
    }
    fn prune(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.values_mut().for_each(prune);
                map.retain(|k, v| {
                    !(v.is_null()
                        || v.as_array().is_some_and(Vec::is_empty)
                        || (v.as_object().is_some_and(Map::is_empty)
                            && matches!(k.as_str(), "labels" | "annotations" | "metadata")))
                });
            }
            Value::Array(items) => items.iter_mut().for_each(prune),
            _ => {}
        }
    }
    clean(a) == clean(b)
}

/// FNV-1a of the template, in the consonant-and-digit alphabet Kubernetes names use.
fn template_hash(template: &Value) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in template.to_string().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    let mut n = hash;
    while out.len() < 10 {
        out.push(ALPHABET[(n % 27) as usize] as char);
        n = n / 27 + hash.rotate_left(out.len() as u32) % 7;
    }
    out
}

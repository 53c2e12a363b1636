//! Rendered manifests into k8s-openapi types, strictly: a field the type does not know
//! (a typo) is dropped by the round trip through the type, and that fails.

use super::*;

/// Paths present in `original` that are missing or different in `round_trip`: a field
/// k8s-openapi does not know (a typo) is dropped on the way through the typed struct.
pub(super) fn lost_fields(
    original: &Value,
    round_trip: &Value,
    path: &str,
    lost: &mut Vec<String>,
) {
    match (original, round_trip) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let here = format!("{path}.{key}");
                match b.get(key) {
                    Some(other) => lost_fields(value, other, &here, lost),
                    None => lost.push(here),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                lost_fields(x, y, &format!("{path}[{index}]"), lost);
            }
        }
        (a, b) if a == b => {}
        (a, b) => lost.push(format!("{path}: {a} became {b}")),
    }
}

/// Deserializes `document` into `T` and fails when the round trip loses anything.
pub(super) fn typed<T: DeserializeOwned + serde::Serialize>(document: &Value) -> T {
    let name = describe(document);
    let value: T = serde_json::from_value(document.clone())
        .unwrap_or_else(|e| panic!("{name} does not match its k8s-openapi type: {e}"));
    let round_trip = serde_json::to_value(&value).expect("serialize");
    let mut lost = Vec::new();
    lost_fields(document, &round_trip, "", &mut lost);
    assert!(
        lost.is_empty(),
        "{name}: fields unknown to Kubernetes (typos?): {lost:#?}"
    );
    value
}

pub(super) fn describe(document: &Value) -> String {
    format!(
        "{} {}/{}",
        document["kind"].as_str().unwrap_or("?"),
        document["metadata"]["namespace"].as_str().unwrap_or("-"),
        document["metadata"]["name"].as_str().unwrap_or("?"),
    )
}

/// A rendered set of manifests, each parsed into its type.
#[derive(Default)]
pub(super) struct Rendered {
    pub(super) namespaces: Vec<Namespace>,
    pub(super) service_accounts: Vec<ServiceAccount>,
    pub(super) cluster_roles: Vec<ClusterRole>,
    pub(super) roles: Vec<Role>,
    pub(super) role_bindings: Vec<RoleBinding>,
    pub(super) claims: Vec<PersistentVolumeClaim>,
    pub(super) config_maps: Vec<ConfigMap>,
    pub(super) deployments: Vec<Deployment>,
    pub(super) services: Vec<Service>,
    pub(super) budgets: Vec<PodDisruptionBudget>,
    /// ServiceMonitor is a Prometheus Operator CRD, not in k8s-openapi: kept as JSON and
    /// checked structurally.
    pub(super) service_monitors: Vec<Value>,
}

pub(super) fn parse_rendered(documents: &[Value]) -> Rendered {
    let mut rendered = Rendered::default();
    for document in documents {
        let api_version = document["apiVersion"].as_str().unwrap_or_default();
        match (api_version, document["kind"].as_str().unwrap_or_default()) {
            ("v1", "Namespace") => rendered.namespaces.push(typed(document)),
            ("v1", "ServiceAccount") => rendered.service_accounts.push(typed(document)),
            ("v1", "PersistentVolumeClaim") => rendered.claims.push(typed(document)),
            ("v1", "ConfigMap") => rendered.config_maps.push(typed(document)),
            ("v1", "Service") => rendered.services.push(typed(document)),
            ("apps/v1", "Deployment") => rendered.deployments.push(typed(document)),
            ("policy/v1", "PodDisruptionBudget") => rendered.budgets.push(typed(document)),
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
                rendered.cluster_roles.push(typed(document))
            }
            ("rbac.authorization.k8s.io/v1", "Role") => rendered.roles.push(typed(document)),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
                rendered.role_bindings.push(typed(document))
            }
            ("monitoring.coreos.com/v1", "ServiceMonitor") => {
                rendered.service_monitors.push(document.clone())
            }
            (api_version, kind) => panic!(
                "unexpected object {api_version} {kind} ({}): add it to this test",
                describe(document)
            ),
        }
    }
    rendered
}

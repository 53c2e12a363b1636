//! Whether two pod templates are the same, as the deployment controller and kubectl decide
//! it (`EqualIgnoreHash`): equal after dropping the `pod-template-hash` label, with Go's
//! semantic equality, where a nil and an empty list or map are the same.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// The label the deployment controller adds to a ReplicaSet's pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Object keys whose values are Go maps (where empty equals absent), as opposed to
/// pointers to structs (where `{}` differs from absent, e.g. `emptyDir: {}`).
const MAP_KEYS: &[&str] = &[
    "labels",
    "annotations",
    "nodeSelector",
    "limits",
    "requests",
    "overhead",
    "volumeAttributes",
    "options",
    "matchLabels",
];

/// `EqualIgnoreHash`: whether two templates describe the same pods.
pub fn templates_equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

fn normalized(template: &PodTemplateSpec) -> Value {
    let mut template = template.clone();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut value = serde_json::to_value(&template).unwrap_or(Value::Null);
    prune(&mut value);
    value
}

/// Drops nulls, empty lists and empty maps, so that nil and empty compare equal.
fn prune(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for child in object.values_mut() {
                prune(child);
            }
            object.retain(|key, child| match child {
                Value::Null => false,
                Value::Array(items) => !items.is_empty(),
                Value::Object(fields) => !(fields.is_empty() && MAP_KEYS.contains(&key.as_str())),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(value: Value) -> PodTemplateSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn hash_label_and_empty_maps_do_not_matter() {
        let a = template(json!({
            "metadata": {"labels": {"app": "x", "pod-template-hash": "abc"}, "annotations": {}},
            "spec": {"containers": [{"name": "x", "image": "x:1", "env": []}]}
        }));
        let b = template(json!({
            "metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "x", "image": "x:1"}]}
        }));
        assert!(templates_equal_ignoring_hash(&a, &b));
    }

    #[test]
    fn images_and_restart_annotations_matter() {
        let a = template(json!({"spec": {"containers": [{"name": "x", "image": "x:1"}]}}));
        let b = template(json!({"spec": {"containers": [{"name": "x", "image": "x:2"}]}}));
        assert!(!templates_equal_ignoring_hash(&a, &b));
        let c = template(json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}},
            "spec": {"containers": [{"name": "x", "image": "x:1"}]}
        }));
        assert!(!templates_equal_ignoring_hash(&a, &c));
    }

    #[test]
    fn empty_struct_differs_from_absent() {
        let a = template(
            json!({"spec": {"containers": [], "volumes": [{"name": "v", "emptyDir": {}}]}}),
        );
        let b = template(json!({"spec": {"containers": [], "volumes": [{"name": "v"}]}}));
        assert!(!templates_equal_ignoring_hash(&a, &b));
    }
}

//! The three patch types kubectl and opsbot send, applied as the API server applies them
//! (for the fields these tests touch):
//!
//! * `application/json-patch+json`: RFC 6902 (kubectl `rollout undo`).
//! * `application/merge-patch+json`: RFC 7386 (kubectl `scale`): objects merge, `null`
//!   deletes, lists are replaced.
//! * `application/strategic-merge-patch+json` (kubectl `rollout restart`, `set image`): like
//!   a merge patch, except that lists with a patch merge key (containers, volumes, env by
//!   `name`; ports by `containerPort`; volume mounts by `mountPath`) merge element by
//!   element. `$setElementOrder` and `$retainKeys` directives are ignored; `$patch: delete`
//!   on a list element removes it.

use serde_json::Value;

/// Applies a patch body of the given content type; `Err` is the 4xx message.
pub fn apply(content_type: &str, target: &mut Value, body: &[u8]) -> Result<(), (u16, String)> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/json-patch+json" => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| (400, format!("invalid JSON patch: {e}")))?;
            json_patch::patch(target, &patch).map_err(|e| (422, format!("{e}")))
        }
        "application/merge-patch+json" => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| (400, format!("invalid merge patch: {e}")))?;
            json_patch::merge(target, &patch);
            Ok(())
        }
        "application/strategic-merge-patch+json" => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| (400, format!("invalid strategic merge patch: {e}")))?;
            strategic_merge(target, &patch);
            Ok(())
        }
        other => Err((
            415,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
            ),
        )),
    }
}

/// The patch merge key of a list field, as the Kubernetes types declare it.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "conditions" => Some(if field == "conditions" {
            "type"
        } else {
            "name"
        }),
        "ports" => Some("containerPort"),
        "volumeMounts" => Some("mountPath"),
        _ => None,
    }
}

fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let target = target.as_object_mut().expect("object");
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(_) => {
                strategic_merge(target.entry(key.clone()).or_insert(Value::Null), value)
            }
            Value::Array(items) => match (merge_key(key), target.get_mut(key)) {
                (Some(merge_key), Some(Value::Array(existing))) => {
                    merge_list(existing, items, merge_key)
                }
                _ => {
                    target.insert(key.clone(), value.clone());
                }
            },
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

fn merge_list(existing: &mut Vec<Value>, items: &[Value], merge_key: &str) {
    for item in items {
        let key = &item[merge_key];
        let position = existing.iter().position(|e| &e[merge_key] == key);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (Some(i), false) => strategic_merge(&mut existing[i], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item);
                existing.push(fresh);
            }
            (None, true) => {}
        }
    }
}

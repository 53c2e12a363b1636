//! `coordination.k8s.io/v1` Leases for leader election, written from the Lease API
//! reference and the server-side apply documentation: GET, POST (create; 409
//! `AlreadyExists`), and PATCH as server-side apply (`application/apply-patch+yaml` with a
//! `fieldManager`) or strategic merge (`null` deletes a field). Field ownership is kept in
//! `metadata.managedFields` (`f:spec` / `f:FIELD` sets, per manager and operation): applying
//! a value to a field another manager owns with a different value is `409 Conflict`
//! (unless `force=true`), which is what makes two replicas' simultaneous claims safe;
//! an update (strategic merge) takes over the fields it sets and never conflicts.

use axum::{
    body::Bytes,
    http::{Method, StatusCode},
    response::Response,
};
use serde_json::{Map, Value, json};

use super::routes::{Shared, status};

const PREFIX: &str = "/apis/coordination.k8s.io/v1/namespaces/";

/// Answers a Lease request, or `None` when `path` is not a Lease path.
pub fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    content_type: &str,
    body: &Bytes,
) -> Option<Response> {
    let rest = path.strip_prefix(PREFIX)?;
    let mut parts = rest.split('/');
    let namespace = parts.next()?.to_string();
    if parts.next()? != "leases" {
        return None;
    }
    let name = parts.next().map(str::to_string);
    if parts.next().is_some() {
        return None;
    }
    let verb = match (method, &name) {
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, None) => "create",
        (&Method::PATCH, Some(_)) => "patch",
        _ => {
            return Some(status(
                405,
                "MethodNotAllowed",
                &format!("{method} on leases is not supported by this fake"),
            ));
        }
    };
    let mut world = shared.world.lock().unwrap();
    if world.is_forbidden(verb, "leases") {
        return Some(status(
            403,
            "Forbidden",
            &format!(
                "leases.coordination.k8s.io is forbidden: User \"system:serviceaccount:ops:opsbot\" cannot {verb} resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"{namespace}\""
            ),
        ));
    }
    let query = parse_query(query);
    let response = match verb {
        "get" => {
            let name = name.unwrap();
            match world.get("leases", &namespace, &name) {
                Some(lease) => json_response(StatusCode::OK, lease),
                None => not_found(&name),
            }
        }
        "create" => {
            let Ok(mut lease) = serde_json::from_slice::<Value>(body) else {
                return Some(status(400, "BadRequest", "the body is not a Lease"));
            };
            let Some(name) = lease["metadata"]["name"].as_str().map(str::to_string) else {
                return Some(status(422, "Invalid", "metadata.name: Required value"));
            };
            if world.get("leases", &namespace, &name).is_some() {
                return Some(status(
                    409,
                    "AlreadyExists",
                    &format!("leases.coordination.k8s.io \"{name}\" already exists"),
                ));
            }
            lease["apiVersion"] = json!("coordination.k8s.io/v1");
            lease["kind"] = json!("Lease");
            lease["metadata"]["namespace"] = json!(namespace);
            let manager = query.field_manager.unwrap_or_default();
            let fields = spec_fields(&lease["spec"]);
            take_ownership(&mut lease, &manager, "Update", &fields);
            let stored = world.put("leases", lease);
            json_response(StatusCode::CREATED, &stored)
        }
        _ => {
            let name = name.unwrap();
            let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                return Some(status(400, "BadRequest", "the patch is not JSON"));
            };
            let Some(manager) = query.field_manager else {
                return Some(status(
                    422,
                    "Invalid",
                    "fieldManager is required for this patch",
                ));
            };
            let apply = content_type.starts_with("application/apply-patch");
            let existing = world.get("leases", &namespace, &name).cloned();
            let mut lease = match existing {
                Some(lease) => lease,
                // Server-side apply creates what does not exist; other patches do not.
                None if apply => json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": namespace}, "spec": {}
                }),
                None => return Some(not_found(&name)),
            };
            let result = if apply {
                server_side_apply(&mut lease, &patch, &manager, query.force)
            } else if content_type.starts_with("application/strategic-merge-patch")
                || content_type.starts_with("application/merge-patch")
            {
                update(&mut lease, &patch, &manager);
                Ok(())
            } else {
                return Some(status(
                    415,
                    "UnsupportedMediaType",
                    &format!("the content type {content_type} is not supported for leases"),
                ));
            };
            match result {
                Ok(()) => {
                    let stored = world.put("leases", lease);
                    json_response(StatusCode::OK, &stored)
                }
                Err(conflicts) => status(
                    409,
                    "Conflict",
                    &format!(
                        "Apply failed with {} conflict(s): {}",
                        conflicts.len(),
                        conflicts.join(", ")
                    ),
                ),
            }
        }
    };
    Some(response)
}

struct Query {
    field_manager: Option<String>,
    force: bool,
}

fn parse_query(query: &str) -> Query {
    let mut parsed = Query {
        field_manager: None,
        force: false,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "fieldManager" => parsed.field_manager = Some(value.replace("%2F", "/")),
            "force" => parsed.force = value == "true",
            _ => {}
        }
    }
    parsed
}

/// The `spec` fields a patch or object sets (a `null` deletes, so it is not "set").
fn spec_fields(spec: &Value) -> Vec<String> {
    spec.as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, _)| key.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Server-side apply of `patch`'s spec by `manager`: a conflict for every field another
/// manager owns with a different value (unless forced); otherwise the values are set and
/// `manager` owns them (shared with others who set the same value).
fn server_side_apply(
    lease: &mut Value,
    patch: &Value,
    manager: &str,
    force: bool,
) -> Result<(), Vec<String>> {
    let applied = patch["spec"].as_object().cloned().unwrap_or_default();
    let mut conflicts = Vec::new();
    for (field, value) in &applied {
        let current = &lease["spec"][field];
        if current == value {
            continue;
        }
        for owner in owners(lease, field) {
            if owner != manager {
                conflicts.push(format!("conflict with \"{owner}\": .spec.{field}"));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let spec = spec_mut(lease);
    for (field, value) in &applied {
        if value.is_null() {
            spec.remove(field);
        } else {
            spec.insert(field.clone(), value.clone());
        }
    }
    let fields = spec_fields(&Value::Object(applied.clone()));
    if force {
        release_ownership(lease, &fields, manager);
    }
    take_ownership(lease, manager, "Apply", &fields);
    Ok(())
}

/// An update (strategic merge or merge patch) of the spec by `manager`: `null` deletes a
/// field (and everyone's ownership of it); a value is set and `manager` alone owns it.
fn update(lease: &mut Value, patch: &Value, manager: &str) {
    let changes = patch["spec"].as_object().cloned().unwrap_or_default();
    let spec = spec_mut(lease);
    for (field, value) in &changes {
        if value.is_null() {
            spec.remove(field);
        } else {
            spec.insert(field.clone(), value.clone());
        }
    }
    let all: Vec<String> = changes.keys().cloned().collect();
    release_ownership(lease, &all, manager);
    for field in changes.keys().filter(|f| changes[*f].is_null()) {
        release_ownership(lease, std::slice::from_ref(field), "");
    }
    take_ownership(
        lease,
        manager,
        "Update",
        &spec_fields(&Value::Object(changes)),
    );
}

fn spec_mut(lease: &mut Value) -> &mut Map<String, Value> {
    if !lease["spec"].is_object() {
        lease["spec"] = json!({});
    }
    lease["spec"].as_object_mut().unwrap()
}

/// The managers owning `.spec.FIELD`.
fn owners(lease: &Value, field: &str) -> Vec<String> {
    let key = format!("f:{field}");
    lease["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| !entry["fieldsV1"]["f:spec"][&key].is_null())
        .filter_map(|entry| entry["manager"].as_str().map(str::to_string))
        .collect()
}

/// Adds `fields` to the entry of (`manager`, `operation`), creating it.
fn take_ownership(lease: &mut Value, manager: &str, operation: &str, fields: &[String]) {
    if fields.is_empty() {
        return;
    }
    if !lease["metadata"]["managedFields"].is_array() {
        lease["metadata"]["managedFields"] = json!([]);
    }
    let entries = lease["metadata"]["managedFields"].as_array_mut().unwrap();
    let index = match entries
        .iter()
        .position(|e| e["manager"] == manager && e["operation"] == operation)
    {
        Some(index) => index,
        None => {
            entries.push(json!({
                "manager": manager, "operation": operation,
                "apiVersion": "coordination.k8s.io/v1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {}}
            }));
            entries.len() - 1
        }
    };
    let owned = entries[index]["fieldsV1"]["f:spec"]
        .as_object_mut()
        .unwrap();
    for field in fields {
        owned.insert(format!("f:{field}"), json!({}));
    }
}

/// Removes `fields` from every manager other than `keep` (`""`: from everyone); drops
/// entries left empty.
fn release_ownership(lease: &mut Value, fields: &[String], keep: &str) {
    let Some(entries) = lease["metadata"]["managedFields"].as_array_mut() else {
        return;
    };
    for entry in entries.iter_mut() {
        if entry["manager"] == keep {
            continue;
        }
        if let Some(owned) = entry["fieldsV1"]["f:spec"].as_object_mut() {
            for field in fields {
                owned.remove(&format!("f:{field}"));
            }
        }
    }
    entries.retain(|entry| {
        entry["fieldsV1"]["f:spec"]
            .as_object()
            .is_some_and(|owned| !owned.is_empty())
    });
}

fn not_found(name: &str) -> Response {
    status(
        404,
        "NotFound",
        &format!("leases.coordination.k8s.io \"{name}\" not found"),
    )
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(value.to_string().into())
        .unwrap()
}

//! The HTTP surface: REST paths of the resources the adapter and kubectl use, dispatched by
//! hand so that every request (including unexpected ones) is logged and any verb can be
//! forbidden. Responses follow the API conventions: objects and lists as JSON,
//! `metav1.Status` bodies for errors, watches as newline-delimited JSON events.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    controller, discovery, patch,
    selectors::{fields_match, labels_match},
    world::{Change, World},
};

/// What every handler sees.
#[derive(Clone)]
pub struct Shared {
    pub world: Arc<Mutex<World>>,
    pub address: String,
}

/// One parsed resource request.
struct Request {
    group: &'static str,
    namespace: String,
    resource: String,
    name: Option<String>,
    query: BTreeMap<String, String>,
}

pub async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let logged_body = if method == Method::PATCH {
        format!(" {}", String::from_utf8_lossy(&body))
    } else {
        String::new()
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let unauthorized = {
        let mut world = shared.world.lock().unwrap();
        world.requests.push(format!(
            "{method} {} {content_type}{logged_body}",
            uri.path_and_query().map(|p| p.as_str()).unwrap_or_default()
        ));
        world.user_agents.push(user_agent);
        world.unauthorized
    };
    if unauthorized {
        return status(401, "Unauthorized", "Unauthorized");
    }
    let path = uri.path().trim_end_matches('/');
    if method == Method::GET
        && let Some(document) = discovery::document(path, &shared.address)
    {
        return json_response(StatusCode::OK, &document);
    }
    if let Some(response) = super::leases::handle(
        &shared,
        &method,
        path,
        uri.query().unwrap_or_default(),
        &content_type,
        &body,
    ) {
        return response;
    }
    let Some(request) = parse(path, uri.query().unwrap_or_default()) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    };
    let verb = match (&method, &request.name) {
        (&Method::GET, None)
            if matches!(
                request.query.get("watch").map(String::as_str),
                Some("true" | "1")
            ) =>
        {
            "watch"
        }
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::PATCH, Some(_)) => "patch",
        _ => {
            return status(
                405,
                "MethodNotAllowed",
                &format!("{method} is not supported by this fake"),
            );
        }
    };
    {
        let world = shared.world.lock().unwrap();
        if world.is_forbidden(verb, &request.resource) {
            let (plain, _) = request
                .resource
                .split_once('/')
                .unwrap_or((&request.resource, ""));
            let group_label = if request.group.is_empty() {
                String::new()
            } else {
                format!(".{}", request.group)
            };
            let object = match &request.name {
                Some(name) => format!("{plain}{group_label} \"{name}\""),
                None => format!("{plain}{group_label}"),
            };
            return status(
                403,
                "Forbidden",
                &format!(
                    "{object} is forbidden: User \"system:serviceaccount:ops:opsbot\" cannot {verb} resource \"{}\" in API group \"{}\" in the namespace \"{}\"",
                    request.resource, request.group, request.namespace
                ),
            );
        }
    }
    match verb {
        "watch" => watch(&shared, &request),
        "list" => list(&shared, &request),
        "get" => get(&shared, &request),
        _ => patch_object(&shared, &request, &content_type, &body),
    }
}

fn parse(path: &str, query: &str) -> Option<Request> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest): (&'static str, &[&str]) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", "apps", "v1", rest @ ..] => ("apps", rest),
        _ => return None,
    };
    let ["namespaces", namespace, resource, rest @ ..] = rest else {
        return None;
    };
    let (name, sub) = match rest {
        [] => (None, None),
        [name] => (Some(name.to_string()), None),
        [name, sub] => (Some(name.to_string()), Some(*sub)),
        _ => return None,
    };
    let resource = match sub {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    let known = matches!(
        (group, resource.as_str()),
        ("apps", "deployments" | "deployments/scale" | "replicasets")
            | ("", "pods" | "pods/log" | "events")
    );
    known.then(|| Request {
        group,
        namespace: namespace.to_string(),
        resource,
        name,
        query: parse_query(query),
    })
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn kind_of(resource: &str) -> (&'static str, &'static str) {
    match resource {
        "deployments" => ("Deployment", "apps/v1"),
        "replicasets" => ("ReplicaSet", "apps/v1"),
        "pods" => ("Pod", "v1"),
        _ => ("Event", "v1"),
    }
}

fn get(shared: &Shared, request: &Request) -> Response {
    let name = request.name.as_deref().unwrap_or_default();
    let world = shared.world.lock().unwrap();
    match request.resource.as_str() {
        "deployments/scale" => match world.get("deployments", &request.namespace, name) {
            Some(deployment) => json_response(StatusCode::OK, &scale_of(deployment)),
            None => not_found("deployments", "apps", name),
        },
        "pods/log" => logs(&world, request, name),
        resource => match world.get(resource, &request.namespace, name) {
            Some(object) => json_response(StatusCode::OK, object),
            None => not_found(resource, request.group, name),
        },
    }
}

fn list(shared: &Shared, request: &Request) -> Response {
    let world = shared.world.lock().unwrap();
    let items: Vec<Value> = world
        .list(&request.resource, &request.namespace)
        .into_iter()
        .filter(|object| selected(object, request))
        .collect();
    let (kind, api_version) = kind_of(&request.resource);
    json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{kind}List"), "apiVersion": api_version,
            "metadata": {"resourceVersion": world.resource_version().to_string()},
            "items": items
        }),
    )
}

fn selected(object: &Value, request: &Request) -> bool {
    let labels = request
        .query
        .get("labelSelector")
        .map(String::as_str)
        .unwrap_or_default();
    let fields = request
        .query
        .get("fieldSelector")
        .map(String::as_str)
        .unwrap_or_default();
    labels_match(labels, &object["metadata"]["labels"]) && fields_match(fields, object)
}

/// A watch, with the documented semantics of `resourceVersion` on a watch
/// (<https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch>):
///
/// * `sendInitialEvents=true`: synthetic `ADDED` events of the current state, then the
///   `BOOKMARK` annotated `k8s.io/initial-events-end` that ends them;
/// * unset or `0` ("get state and start at most recent"): synthetic `ADDED` events of the
///   current state, then changes;
/// * any other value ("start at exact"): the changes after it; one older than the kept
///   history (see [`World::compact`]) gets an `ERROR` event with a `410 Expired` status
///   and the end of the stream, as from the watch cache;
///
/// then live changes as newline-delimited JSON events until `timeoutSeconds` passes (with
/// `allowWatchBookmarks=true` a `BOOKMARK` of the current resourceVersion comes right before
/// that end, as the API server sends one) or the client leaves.
fn watch(shared: &Shared, request: &Request) -> Response {
    if request.resource != "deployments" {
        return status(
            405,
            "MethodNotAllowed",
            "this fake watches deployments only",
        );
    }
    let bookmarks = request.query.get("allowWatchBookmarks").map(String::as_str) == Some("true");
    let timeout = request
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(std::time::Duration::from_secs);
    let (backlog, receiver, subscribed_at) = {
        let mut world = shared.world.lock().unwrap();
        let mut backlog = Vec::new();
        let since = request.query.get("resourceVersion").map(String::as_str);
        let exact = since.filter(|rv| !rv.is_empty() && *rv != "0");
        let expired = match exact {
            _ if world.expire_watches > 0 => {
                world.expire_watches -= 1;
                Some(exact.unwrap_or("0").to_string())
            }
            Some(rv) => match rv.parse::<u64>() {
                Ok(rv) if rv < world.compacted_through => Some(rv.to_string()),
                Ok(_) => None,
                Err(_) => {
                    return status(
                        400,
                        "BadRequest",
                        &format!("invalid resource version: {rv:?}"),
                    );
                }
            },
            None => None,
        };
        if let Some(rv) = expired {
            let gone = json!({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("too old resource version: {rv} ({})", world.compacted_through),
                "reason": "Expired", "code": 410
            }});
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(format!("{gone}\n")))
                .unwrap();
        }
        let initial_events =
            request.query.get("sendInitialEvents").map(String::as_str) == Some("true");
        if initial_events || exact.is_none() {
            for object in world.list("deployments", &request.namespace) {
                if selected(&object, request) {
                    backlog.push(json!({"type": "ADDED", "object": object}));
                }
            }
        }
        if initial_events {
            backlog.push(json!({"type": "BOOKMARK", "object": {
                "kind": "Deployment", "apiVersion": "apps/v1",
                "metadata": {"resourceVersion": world.resource_version().to_string(),
                             "annotations": {"k8s.io/initial-events-end": "true"}}
            }}));
        } else if let Some(since) = exact.and_then(|rv| rv.parse::<u64>().ok()) {
            for change in world.changes.iter().filter(|c| c.resource_version > since) {
                if selected(&change.object, request) {
                    backlog.push(json!({"type": change.kind, "object": change.object}));
                }
            }
        }
        (
            backlog,
            world.watchers.subscribe(),
            world.resource_version(),
        )
    };
    // The resourceVersion up to which this watch has told everything: a bookmark carries it.
    let told = Arc::new(std::sync::atomic::AtomicU64::new(subscribed_at));
    let told_live = told.clone();
    let filter_namespace = request.namespace.clone();
    let labels = request
        .query
        .get("labelSelector")
        .cloned()
        .unwrap_or_default();
    let fields = request
        .query
        .get("fieldSelector")
        .cloned()
        .unwrap_or_default();
    let live = futures_util::stream::unfold(receiver, move |mut receiver| {
        let (namespace, labels, fields) =
            (filter_namespace.clone(), labels.clone(), fields.clone());
        let told = told_live.clone();
        async move {
            loop {
                let change: Change = match receiver.recv().await {
                    Ok(change) => change,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                };
                told.fetch_max(change.resource_version, std::sync::atomic::Ordering::SeqCst);
                let object = &change.object;
                if object["metadata"]["namespace"] == json!(namespace)
                    && labels_match(&labels, &object["metadata"]["labels"])
                    && fields_match(&fields, object)
                {
                    let line = format!("{}\n", json!({"type": change.kind, "object": object}));
                    return Some((Ok::<_, Infallible>(Bytes::from(line)), receiver));
                }
            }
        }
    });
    let first = futures_util::stream::iter(
        backlog
            .into_iter()
            .map(|event| Ok::<_, Infallible>(Bytes::from(format!("{event}\n")))),
    );
    use futures_util::StreamExt as _;
    let events = first.chain(live);
    let body = match timeout {
        Some(timeout) => {
            let until = tokio::time::sleep(timeout);
            let ending = futures_util::stream::once(async move {
                let rv = told.load(std::sync::atomic::Ordering::SeqCst);
                let bookmark = json!({"type": "BOOKMARK", "object": {
                    "kind": "Deployment", "apiVersion": "apps/v1",
                    "metadata": {"resourceVersion": rv.to_string()}
                }});
                Ok::<_, Infallible>(Bytes::from(format!("{bookmark}\n")))
            })
            .filter(move |_| std::future::ready(bookmarks));
            Body::from_stream(events.take_until(until).chain(ending))
        }
        None => Body::from_stream(events),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap()
}

fn patch_object(shared: &Shared, request: &Request, content_type: &str, body: &[u8]) -> Response {
    let name = request.name.clone().unwrap_or_default();
    let scale = match request.resource.as_str() {
        "deployments/scale" => true,
        "deployments" => false,
        _ => {
            return status(
                405,
                "MethodNotAllowed",
                "this fake patches deployments only",
            );
        }
    };
    let mut world = shared.world.lock().unwrap();
    match patch_deployment(
        &shared.world,
        &mut world,
        &request.namespace,
        &name,
        scale,
        content_type,
        body,
    ) {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err((code, reason, message)) => status(code, reason, &message),
    }
}

/// PATCH of a deployment (or its scale): apply, bump `generation` when the spec changed,
/// store, let the controller react. Returns what the API server answers.
pub fn patch_deployment(
    shared: &Arc<Mutex<World>>,
    world: &mut World,
    namespace: &str,
    name: &str,
    scale: bool,
    content_type: &str,
    body: &[u8],
) -> Result<Value, (u16, &'static str, String)> {
    let Some(current) = world.get("deployments", namespace, name).cloned() else {
        return Err((
            404,
            "NotFound",
            format!("deployments.apps \"{name}\" not found"),
        ));
    };
    let mut patched = if scale {
        scale_of(&current)
    } else {
        current.clone()
    };
    if let Err((code, message)) = patch::apply(content_type, &mut patched, body) {
        let reason = if code == 415 {
            "UnsupportedMediaType"
        } else {
            "Invalid"
        };
        return Err((code, reason, message));
    }
    let mut updated = if scale {
        let mut deployment = current.clone();
        deployment["spec"]["replicas"] = patched["spec"]["replicas"].clone();
        deployment
    } else {
        patched
    };
    // Fields a client cannot change.
    updated["metadata"]["uid"] = current["metadata"]["uid"].clone();
    updated["metadata"]["name"] = current["metadata"]["name"].clone();
    updated["metadata"]["namespace"] = current["metadata"]["namespace"].clone();
    updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    updated["metadata"]["generation"] = current["metadata"]["generation"].clone();
    updated["status"] = current["status"].clone();
    if updated == current {
        return Ok(if scale { scale_of(&current) } else { current });
    }
    let spec_changed = updated["spec"] != current["spec"];
    if spec_changed {
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
        updated["metadata"]["generation"] = json!(generation + 1);
    }
    let stored = world.put("deployments", updated);
    if spec_changed {
        controller::reconcile(shared, world, namespace, name);
    }
    Ok(if scale { scale_of(&stored) } else { stored })
}

/// The `autoscaling/v1` Scale of a deployment.
fn scale_of(deployment: &Value) -> Value {
    let selector = deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": deployment["metadata"]["name"], "namespace": deployment["metadata"]["namespace"],
            "uid": deployment["metadata"]["uid"], "resourceVersion": deployment["metadata"]["resourceVersion"],
            "creationTimestamp": deployment["metadata"]["creationTimestamp"]
        },
        "spec": {"replicas": deployment["spec"]["replicas"]},
        "status": {"replicas": deployment["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector}
    })
}

fn logs(world: &World, request: &Request, pod_name: &str) -> Response {
    let Some(pod) = world.get("pods", &request.namespace, pod_name) else {
        return not_found("pods", "", pod_name);
    };
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match request.query.get("container") {
        Some(container) if containers.contains(container) => container.clone(),
        Some(container) => {
            return status(
                400,
                "BadRequest",
                &format!("container {container} is not valid for pod {pod_name}"),
            );
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return status(
                400,
                "BadRequest",
                &format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    containers.join(" ")
                ),
            );
        }
    };
    let since = request
        .query
        .get("sinceSeconds")
        .and_then(|s| s.parse::<i64>().ok())
        .map(|secs| jiff::Timestamp::now() - jiff::SignedDuration::from_secs(secs));
    let lines: Vec<&String> = world
        .logs
        .get(&(request.namespace.clone(), pod_name.to_string(), container))
        .into_iter()
        .flatten()
        .filter(|(at, _)| since.is_none_or(|since| *at >= since))
        .map(|(_, line)| line)
        .collect();
    let tail = request
        .query
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let skip = lines.len().saturating_sub(tail);
    let text: String = lines[skip..]
        .iter()
        .map(|line| format!("{line}\n"))
        .collect();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text))
        .unwrap()
}

fn not_found(resource: &str, group: &str, name: &str) -> Response {
    let qualified = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    status(
        404,
        "NotFound",
        &format!("{qualified} \"{name}\" not found"),
    )
}

/// A `metav1.Status` failure, as the API server sends it.
pub fn status(code: u16, reason: &str, message: &str) -> Response {
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

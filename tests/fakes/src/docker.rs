//! A fake Docker Engine API on a unix socket in a temp dir, written from the Engine API
//! reference (v1.43): container list with label filters, inspect with `State.Health`,
//! restart/start/stop/remove, create and network connect, and logs in the multiplexed
//! stream format. Health moves `starting` → `healthy` (or `unhealthy` for a container
//! told to fail) a short delay after each start.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//!
//! use opsbot_fakes::docker::FakeEngine;
//!
//! let engine = FakeEngine::start(Duration::from_millis(50)).await; // socket in a temp dir
//! let id = engine.add("wrkhrs", "wrkhrs-gateway", 1, true); // running, healthy
//! // … point a client at `engine.docker_host()` (`unix:///…/docker.sock`), then look:
//! let gateway = engine.containers().into_iter().find(|c| c.id == id).unwrap();
//! assert_eq!(gateway.health.as_deref(), Some("healthy"));
//! engine.shutdown();
//! # }
//! ```

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde_json::{Map, Value, json};

/// One container of the fake engine.
#[derive(Clone, Debug)]
pub struct FakeContainer {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub config: Value,
    pub host_config: Value,
    pub networks: Map<String, Value>,
    /// created, running, exited, restarting …
    pub status: String,
    /// `None` when the container has no healthcheck.
    pub health: Option<String>,
    pub health_log: Vec<(i64, String)>,
    /// After the next start, health turns `unhealthy` instead of `healthy`.
    pub fails_health: bool,
    /// After the next start, health stays `starting`.
    pub never_healthy: bool,
    pub restart_count: u64,
    pub tty: bool,
    /// (stream, text) writes, in order: stream 1 = stdout, 2 = stderr.
    pub logs: Vec<(u8, String)>,
}

#[derive(Default)]
struct World {
    containers: Vec<FakeContainer>,
    next_id: u64,
    requests: Vec<String>,
    /// Every request is answered this much later (to provoke client timeouts).
    stall: Duration,
}

/// The running fake; dropping it leaves the socket dead (the temp dir goes away).
pub struct FakeEngine {
    world: Arc<Mutex<World>>,
    health_delay: Duration,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone)]
struct App {
    world: Arc<Mutex<World>>,
    health_delay: Duration,
}

impl FakeEngine {
    /// Starts the fake; health checks settle `health_delay` after a start.
    pub async fn start(health_delay: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let world = Arc::new(Mutex::new(World::default()));
        let app = App {
            world: world.clone(),
            health_delay,
        };
        let api = Router::new()
            .route("/containers/json", get(list))
            .route("/containers/create", post(create))
            .route("/containers/{id}/json", get(inspect))
            .route("/containers/{id}/restart", post(restart))
            .route("/containers/{id}/start", post(start))
            .route("/containers/{id}/stop", post(stop))
            .route("/containers/{id}/logs", get(logs))
            .route("/containers/{id}", delete(remove))
            .route("/networks/{id}/connect", post(connect));
        let router = Router::new()
            .nest("/v1.43", api)
            .layer(middleware::from_fn_with_state(app.clone(), record))
            .with_state(app);
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            world,
            health_delay,
            socket,
            _dir: dir,
            server,
        }
    }

    /// Stops serving (as dropping does); the socket's directory goes away.
    pub fn shutdown(self) {
        drop(self);
    }

    /// The `DOCKER_HOST` of this engine: `unix:///PATH`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Adds a running replica of `project`/`service` numbered `number`, healthy when
    /// `healthcheck` (else without one); returns its id.
    pub fn add(&self, project: &str, service: &str, number: u32, healthcheck: bool) -> String {
        let mut world = self.world.lock().unwrap();
        world.next_id += 1;
        let id = format!("{:064x}", 0xc0ffee_u64 * 1000 + world.next_id);
        let name = format!("{project}-{service}-{number}");
        let labels: BTreeMap<String, String> = [
            ("com.docker.compose.project", project.to_string()),
            ("com.docker.compose.service", service.to_string()),
            ("com.docker.compose.container-number", number.to_string()),
            ("com.docker.compose.oneoff", "False".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut config = json!({
            "Hostname": &id[..12],
            "Image": format!("{project}/{service}:1.0"),
            "Env": ["MODE=prod"],
            "Tty": false,
            "Labels": labels,
        });
        if healthcheck {
            config["Healthcheck"] =
                json!({"Test": ["CMD", "curl", "-f", "http://localhost/health"]});
        }
        let network = format!("{project}_default");
        let mut networks = Map::new();
        networks.insert(
            network.clone(),
            json!({"Aliases": [name.clone(), service, &id[..12]], "NetworkID": format!("net-{network}")}),
        );
        world.containers.push(FakeContainer {
            id: id.clone(),
            name,
            labels,
            config,
            host_config: json!({"NetworkMode": network, "RestartPolicy": {"Name": "unless-stopped"}}),
            networks,
            status: "running".into(),
            health: healthcheck.then(|| "healthy".to_string()),
            health_log: Vec::new(),
            fails_health: false,
            never_healthy: false,
            restart_count: 0,
            tty: false,
            logs: Vec::new(),
        });
        id
    }

    /// Changes a container in place.
    pub fn edit(&self, id: &str, change: impl FnOnce(&mut FakeContainer)) {
        let mut world = self.world.lock().unwrap();
        let container = world
            .containers
            .iter_mut()
            .find(|c| c.id == id)
            .expect("no such fake container");
        change(container);
    }

    /// Every container, in creation order.
    pub fn containers(&self) -> Vec<FakeContainer> {
        self.world.lock().unwrap().containers.clone()
    }

    /// `METHOD /path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.world.lock().unwrap().requests.clone()
    }

    /// Answers every request `delay` late from now on (to provoke client timeouts).
    pub fn stall(&self, delay: Duration) {
        self.world.lock().unwrap().stall = delay;
    }

    /// How long after a start a container's health settles.
    pub fn health_delay(&self) -> Duration {
        self.health_delay
    }
}

async fn record(State(app): State<App>, request: Request, next: Next) -> Response {
    let line = format!("{} {}", request.method(), request.uri());
    let stall = {
        let mut world = app.world.lock().unwrap();
        world.requests.push(line);
        world.stall
    };
    if !stall.is_zero() {
        tokio::time::sleep(stall).await;
    }
    next.run(request).await
}

fn no_such(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": format!("No such container: {id}")})),
    )
        .into_response()
}

fn find<'a>(world: &'a mut World, id: &str) -> Option<&'a mut FakeContainer> {
    world
        .containers
        .iter_mut()
        .find(|c| c.id == id || c.name == id || (id.len() >= 12 && c.id.starts_with(id)))
}

async fn list(State(app): State<App>, Query(query): Query<HashMap<String, String>>) -> Response {
    let world = app.world.lock().unwrap();
    let all = query.get("all").is_some_and(|v| v == "1" || v == "true");
    let wanted: Vec<(String, String)> = query
        .get("filters")
        .map(|f| serde_json::from_str::<Value>(f).expect("filters must be JSON"))
        .and_then(|f| f.get("label").cloned())
        .and_then(|l| serde_json::from_value::<Vec<String>>(l).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("label filter key=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    let listed: Vec<Value> = world
        .containers
        .iter()
        .filter(|c| all || c.status == "running")
        .filter(|c| wanted.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
        .map(|c| {
            json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": c.config["Image"],
                "Labels": c.labels,
                "State": c.status,
                "Status": if c.status == "running" { "Up 5 minutes" } else { "Exited (0) 1 minute ago" },
            })
        })
        .collect();
    Json(listed).into_response()
}

async fn inspect(State(app): State<App>, Path(id): Path<String>) -> Response {
    let mut world = app.world.lock().unwrap();
    let Some(c) = find(&mut world, &id) else {
        return no_such(&id);
    };
    let mut config = c.config.clone();
    config["Tty"] = json!(c.tty);
    let mut state = json!({
        "Status": c.status,
        "Running": c.status == "running",
        "Restarting": c.status == "restarting",
        "ExitCode": if c.status == "exited" { 1 } else { 0 },
        "Error": "",
    });
    if let Some(health) = &c.health {
        let log: Vec<Value> = c
            .health_log
            .iter()
            .map(|(code, out)| json!({"ExitCode": code, "Output": out}))
            .collect();
        let streak = c
            .health_log
            .iter()
            .rev()
            .take_while(|(code, _)| *code != 0)
            .count();
        state["Health"] = json!({"Status": health, "FailingStreak": streak, "Log": log});
    }
    Json(json!({
        "Id": c.id,
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "State": state,
        "Config": config,
        "HostConfig": c.host_config,
        "NetworkSettings": {"Networks": c.networks},
    }))
    .into_response()
}

/// Starts a container: running, health `starting`, settling after the health delay.
fn boot(app: &App, c: &mut FakeContainer) {
    c.status = "running".into();
    if c.health.is_none() {
        return;
    }
    c.health = Some("starting".into());
    let (id, fails, never) = (c.id.clone(), c.fails_health, c.never_healthy);
    let world = app.world.clone();
    let delay = app.health_delay;
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut world = world.lock().unwrap();
        if let Some(c) = world.containers.iter_mut().find(|c| c.id == id) {
            if c.status != "running" || never {
                return;
            }
            if fails {
                c.health = Some("unhealthy".into());
                c.health_log.push((
                    1,
                    "curl: (7) Failed to connect to localhost port 8082\n".into(),
                ));
            } else {
                c.health = Some("healthy".into());
                c.health_log.push((0, "ok".into()));
            }
        }
    });
}

async fn restart(State(app): State<App>, Path(id): Path<String>) -> Response {
    let mut world = app.world.lock().unwrap();
    let Some(c) = find(&mut world, &id) else {
        return no_such(&id);
    };
    c.restart_count += 1;
    boot(&app, c);
    StatusCode::NO_CONTENT.into_response()
}

async fn start(State(app): State<App>, Path(id): Path<String>) -> Response {
    let mut world = app.world.lock().unwrap();
    let Some(c) = find(&mut world, &id) else {
        return no_such(&id);
    };
    if c.status == "running" {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    boot(&app, c);
    StatusCode::NO_CONTENT.into_response()
}

async fn stop(State(app): State<App>, Path(id): Path<String>) -> Response {
    let mut world = app.world.lock().unwrap();
    let Some(c) = find(&mut world, &id) else {
        return no_such(&id);
    };
    if c.status != "running" {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    c.status = "exited".into();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove(State(app): State<App>, Path(id): Path<String>) -> Response {
    let mut world = app.world.lock().unwrap();
    let Some(c) = find(&mut world, &id) else {
        return no_such(&id);
    };
    if c.status == "running" {
        let message = format!(
            "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
            c.name
        );
        return (StatusCode::CONFLICT, Json(json!({ "message": message }))).into_response();
    }
    let id = c.id.clone();
    world.containers.retain(|c| c.id != id);
    StatusCode::NO_CONTENT.into_response()
}

async fn create(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
    Json(mut body): Json<Value>,
) -> Response {
    let mut world = app.world.lock().unwrap();
    let name = query.get("name").cloned().unwrap_or_default();
    if world.containers.iter().any(|c| c.name == name) {
        let message = format!("Conflict. The container name \"/{name}\" is already in use");
        return (StatusCode::CONFLICT, Json(json!({ "message": message }))).into_response();
    }
    if body.get("Image").and_then(Value::as_str).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "no image"})),
        )
            .into_response();
    }
    let object = body.as_object_mut().unwrap();
    let host_config = object.remove("HostConfig").unwrap_or(json!({}));
    let networking = object.remove("NetworkingConfig").unwrap_or(json!({}));
    let labels: BTreeMap<String, String> =
        serde_json::from_value(object.get("Labels").cloned().unwrap_or(json!({}))).unwrap();
    let networks = networking
        .get("EndpointsConfig")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    world.next_id += 1;
    let id = format!("{:064x}", 0xbeef_u64 * 1000 + world.next_id);
    let healthcheck = object.contains_key("Healthcheck");
    world.containers.push(FakeContainer {
        id: id.clone(),
        name,
        labels,
        config: body,
        host_config,
        networks,
        status: "created".into(),
        health: healthcheck.then(|| "starting".to_string()),
        health_log: Vec::new(),
        fails_health: false,
        never_healthy: false,
        restart_count: 0,
        tty: false,
        logs: Vec::new(),
    });
    (StatusCode::CREATED, Json(json!({"Id": id, "Warnings": []}))).into_response()
}

async fn connect(
    State(app): State<App>,
    Path(network): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut world = app.world.lock().unwrap();
    let container = body["Container"].as_str().unwrap_or_default().to_string();
    let Some(c) = find(&mut world, &container) else {
        return no_such(&container);
    };
    let name = network.strip_prefix("net-").unwrap_or(&network).to_string();
    c.networks.insert(name, body["EndpointConfig"].clone());
    StatusCode::OK.into_response()
}

async fn logs(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut world = app.world.lock().unwrap();
    let Some(c) = find(&mut world, &id) else {
        return no_such(&id);
    };
    let tail: usize = match query.get("tail").map(String::as_str) {
        None | Some("all") => usize::MAX,
        Some(n) => n.parse().unwrap(),
    };
    // Lines are what `tail` counts; each write here is one line.
    let skip = c.logs.len().saturating_sub(tail);
    let mut body = Vec::new();
    for (stream, text) in &c.logs[skip..] {
        let line = format!("{text}\n");
        if c.tty {
            body.extend_from_slice(line.as_bytes());
        } else {
            // Split some lines over two frames, as the engine may.
            let (a, b) = line.split_at(line.len() / 2);
            for part in [a, b] {
                body.push(*stream);
                body.extend_from_slice(&[0, 0, 0]);
                body.extend_from_slice(&(part.len() as u32).to_be_bytes());
                body.extend_from_slice(part.as_bytes());
            }
        }
    }
    let content_type = if c.tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    ([(header::CONTENT_TYPE, content_type)], Bytes::from(body)).into_response()
}

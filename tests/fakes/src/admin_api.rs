//! [`FakeAdminApi`]: the admin HTTP API of alice-hybrid's backend as its runbook uses it
//! (`POST /api/admin/set-mode {"mode":"offline","message":…}`, `POST /api/admin/broadcast
//! {"type":"info","message":…}`), and any other `POST /api/admin/ACTION` a configuration
//! assumes (`routing`, `cost-saver`): each answers `200 {"ok":true}`. Every request is
//! counted and kept (path, `Authorization` header, JSON body), so a test can tell that a
//! dry run sent nothing and what a run sent.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::HeaderMap,
    routing::post,
};
use serde_json::{Value, json};

/// A request the fake took: its path, `Authorization` header and JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminRequest {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    count: AtomicUsize,
    seen: Mutex<Vec<AdminRequest>>,
}

/// The fake admin API on `127.0.0.1:0`; it stops with the test's runtime.
#[derive(Clone, Default)]
pub struct FakeAdminApi {
    shared: Arc<Shared>,
}

async fn record(
    State(api): State<FakeAdminApi>,
    Path(action): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    api.shared.count.fetch_add(1, Ordering::SeqCst);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    api.shared
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(AdminRequest {
            path: format!("/api/admin/{action}"),
            authorization,
            body,
        });
    Json(json!({"ok": true}))
}

impl FakeAdminApi {
    /// Starts serving; its base URL (`http://127.0.0.1:PORT`).
    pub async fn start(&self) -> String {
        let app = Router::new()
            .route("/api/admin/{action}", post(record))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// Every request, oldest first.
    pub fn requests(&self) -> Vec<AdminRequest> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

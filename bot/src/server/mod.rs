//! The HTTP server: liveness, readiness, metrics and the alert endpoints. The chat
//! adapters' endpoints and the web console come in as routers ([`ServerState::chat`],
//! [`ServerState::web`], built by `app.rs`), so this module imports no adapter. [`listener`] serves it (timeouts, the
//! connection cap); the chat endpoints read at most `[server] chat_body_limit` bytes
//! (413 beyond), the alert endpoints stream theirs up to `alert_body_limit` ([`body`]).

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};

use crate::{metrics::Metrics, store::Store};

pub mod alerts;
pub mod body;
pub mod listener;

/// What the operational endpoints need.
#[derive(Clone)]
pub struct ServerState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// The alert endpoints (`/alerts/alertmanager`, `/alerts/grafana`, `/alerts`), when
    /// served.
    pub alerts: Option<alerts::AlertsState>,
    /// The chat adapters' endpoints (Slack's `/slack/*`, Discord's `/discord/interactions`,
    /// each when configured in `http` mode), merged under `chat_body_limit`. `app.rs`
    /// builds it; empty when no adapter serves HTTP.
    pub chat: Router,
    /// Largest body of the Slack and Discord endpoints (`[server] chat_body_limit`).
    pub chat_body_limit: usize,
    /// The web console's `/ui/` routes (`crate::web::routes`, built by `app.rs`); empty
    /// when `[web]` is off.
    pub web: Router,
}

/// `/healthz`, `/readyz`, `/metrics`, the alert endpoints and the chat endpoints.
pub fn router(state: ServerState) -> Router {
    let alerts = state.alerts.clone();
    let chat = state.chat.clone();
    let web = state.web.clone();
    let chat_limit = DefaultBodyLimit::max(state.chat_body_limit);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    let router = match alerts {
        Some(alerts) => router.merge(alerts::routes(alerts)),
        None => router,
    };
    router.merge(chat.layer(chat_limit)).merge(web)
}

/// The process is up and serving.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The store answers and takes writes: this replica can take work. While writes fail
/// this is a write probe ([`Store::check_writable`]), so it turns ready by itself as soon
/// as the store can write again.
async fn readyz(State(state): State<ServerState>) -> impl IntoResponse {
    match state.store.check_writable().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed: the store cannot write");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("store unavailable: {error}\n"),
            )
        }
    }
}

async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

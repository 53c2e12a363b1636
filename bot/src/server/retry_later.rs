//! The answer to a request opsbot cannot take right now because the store is
//! unavailable: `503 Service Unavailable` with `Retry-After` and a JSON error, so the
//! sender retries (Alertmanager, Slack's Events API) or shows the user an error (a
//! Slack slash command) instead of being told "accepted" for something that could be
//! lost. (A minimal local helper; the store-heal branch brings a shared one.)

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// Seconds the sender is asked to wait.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// 503 with `Retry-After` and `{"error": message}`.
pub fn retry_later(message: impl Into<String>) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": message.into() })),
    )
        .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

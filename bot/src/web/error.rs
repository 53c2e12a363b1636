//! [`WebError`]: every way a console request can fail, and the page each one answers
//! with (400 with the reason, 401 signed out, 403 not allowed or no CSRF token, 404, and
//! 503 with `Retry-After` while the store is unavailable).

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::html;

use crate::{audit::AuditError, store::StoreError, unavailable::RETRY_AFTER_SECS};

/// Why a console request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Bad input: the reason is shown.
    #[error("{0}")]
    Bad(String),
    /// No (unexpired) session.
    #[error("you are not signed in: type `web` in chat for a sign-in link")]
    SignedOut,
    /// Signed in, but not allowed (roles, a CSRF token missing or wrong, a used link).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Failed(String),
}

impl From<AuditError> for WebError {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::Store(store) => WebError::Store(store),
            other => WebError::Failed(other.to_string()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::Bad(_) => StatusCode::BAD_REQUEST,
            WebError::SignedOut => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Store(_) | WebError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "web console request failed");
        }
        let message = match (&self, status) {
            (_, StatusCode::SERVICE_UNAVAILABLE) => {
                format!("The store is unavailable, retry in a few seconds: {self}")
            }
            _ => self.to_string(),
        };
        let body = super::layout::bare(
            status.canonical_reason().unwrap_or("Error"),
            html! { p.error { (message) } p { a href="/ui/" { "Back to the console" } } },
        );
        let mut response = (status, body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

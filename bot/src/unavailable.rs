//! The one answer for "the store cannot take this right now": `503 Service Unavailable`
//! with `Retry-After` and the reason in a JSON body (`{"error": …, "retry_after": 5}`).
//!
//! Every write endpoint (alerts, chat) answers this when the store cannot write or does
//! not answer within `[store] write_timeout`, so senders that retry (Alertmanager, Grafana,
//! Slack) come back later instead of dropping the request as they would on a 4xx, and
//! nothing is half-done: the request was either committed or it was not. It sits beside
//! the HTTP server, not in it, so the chat adapters need not import the server.

use std::{fmt::Display, future::Future, time::Duration};

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::store::{Store, StoreError};

/// Seconds a client is asked to wait before retrying (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// `503` with `Retry-After` and `reason`.
pub fn response(reason: impl Display) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "error": format!("the store is unavailable, retry later: {reason}"),
            "retry_after": RETRY_AFTER_SECS,
        })),
    )
        .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(RETRY_AFTER_SECS),
    );
    response
}

/// The 503 for `error` if it means the store is unavailable ([`StoreError::is_unavailable`]);
/// `None` for other errors (a bug or bad data: the caller answers those itself).
pub fn for_store_error(error: &StoreError) -> Option<Response> {
    error.is_unavailable().then(|| response(error))
}

/// Runs the store work `work` for at most `limit` (`[store] write_timeout`). Past that the
/// store counts as unavailable: the outcome is `Err(TimedOut)`, reported to `store`'s
/// health like any failed write, and the caller answers [`response`].
pub async fn within<T>(
    store: &Store,
    limit: Duration,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, WriteRefused> {
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(WriteRefused::Store(error)),
        Err(_) => {
            let refused = WriteRefused::TimedOut(limit);
            store.health().mark_failing(refused.to_string());
            Err(refused)
        }
    }
}

/// Why [`within`] did not get its work done.
#[derive(Debug, thiserror::Error)]
pub enum WriteRefused {
    /// The store answered with an error.
    #[error(transparent)]
    Store(StoreError),
    /// The store did not answer in time.
    #[error("the store did not answer within {}", humantime::format_duration(*.0))]
    TimedOut(Duration),
}

impl WriteRefused {
    /// Whether to answer 503 (the store is unavailable or too slow) rather than 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            WriteRefused::Store(error) => error.is_unavailable(),
            WriteRefused::TimedOut(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    #[tokio::test]
    async fn answers_503_with_retry_after_and_the_reason() {
        let response = for_store_error(&StoreError::Query(sqlx::Error::PoolTimedOut)).unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            json["error"].as_str().unwrap().contains("pool timed out"),
            "{json}"
        );
        assert_eq!(json["retry_after"], 5);
        assert!(for_store_error(&StoreError::corrupt("t", "bad")).is_none());
    }

    #[tokio::test]
    async fn a_store_slower_than_the_limit_is_unavailable() {
        let store = Store::connect("sqlite::memory:", 1).await.unwrap();
        let slow = std::future::pending::<Result<(), StoreError>>();
        let refused = within(&store, Duration::from_millis(1), slow)
            .await
            .unwrap_err();
        assert!(refused.is_unavailable());
        assert!(
            refused.to_string().contains("did not answer within 1ms"),
            "{refused}"
        );
        assert!(store.health().is_failing());
    }
}

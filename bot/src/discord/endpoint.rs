//! `POST /discord/interactions`: Discord's HTTP interactions. The Ed25519 signature over
//! timestamp + body is checked first (401 otherwise — Discord probes the endpoint with
//! deliberately bad signatures and expects exactly that), then the body is parsed (400
//! with the reason), a command or button press stored in the command inbox (committed;
//! 503 with `Retry-After` when the store is unavailable, never a "deferred" that could be
//! lost), answered at once (PONG, deferred, a prompt, choices), and the command started
//! only after: nothing here waits for a command to finish, so every answer is well within
//! Discord's 3 seconds and any replica can take any request. An interaction id the inbox
//! already holds (the same signed request sent again, to this or another replica, before
//! or after a restart) is answered the same way but not run again.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use opsbot_discord::{
    RequestVerifier,
    verify::{SIGNATURE_HEADER, TIMESTAMP_HEADER},
};
use serde_json::json;

use super::{DiscordMetrics, responder::Responder};
use crate::inbox::Accepted;

/// What the endpoint needs.
#[derive(Clone)]
pub struct DiscordHttpState {
    pub verifier: RequestVerifier,
    pub responder: Arc<Responder>,
    pub metrics: DiscordMetrics,
}

/// The interactions endpoint.
pub fn routes(state: DiscordHttpState) -> Router {
    Router::new()
        .route("/discord/interactions", post(receive))
        .with_state(state)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn receive(
    State(state): State<DiscordHttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = jiff::Timestamp::now().as_second();
    if let Err(reason) = state.verifier.verify(
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        &body,
        now,
    ) {
        state.metrics.request("unverified");
        tracing::debug!(%reason, "Discord interaction refused");
        return error(StatusCode::UNAUTHORIZED, reason.to_string());
    }
    let registry = state.responder.engine().registry();
    let incoming = match opsbot_discord::interaction::parse(&body, registry) {
        Ok(incoming) => incoming,
        Err(reason) => {
            state.metrics.request("malformed");
            return error(StatusCode::BAD_REQUEST, reason.to_string());
        }
    };
    state.metrics.request(super::kind(&incoming));
    let answer = state.responder.receive(incoming);
    if let Some(work) = answer.work {
        match state.responder.accept(&work).await {
            Ok(Accepted::New) => {
                let response = Json(answer.response).into_response();
                tokio::spawn(work.run());
                return response;
            }
            Ok(Accepted::Replay) => state.metrics.request("replayed"),
            Err(error) => {
                state.metrics.request("unavailable");
                return crate::unavailable::response(format!(
                    "opsbot cannot take commands right now: {error}"
                ));
            }
        }
    }
    Json(answer.response).into_response()
}

//! The Slack HTTP endpoints: `POST /slack/commands` (slash commands),
//! `/slack/interactions` (button presses) and `/slack/events` (Events API).
//!
//! Every request must carry a valid v0 signature made within five minutes (401
//! otherwise, counted in `opsbot_slack_signature_failures_total{reason}` and logged with
//! the reason only: never the secret, the signature or the body). A request that parses
//! is stored in the command inbox (committed), then acknowledged — well within Slack's
//! three seconds — and run in the background; its reply comes through the outbox. A
//! request the inbox already holds (Slack's retry of an event, a replayed signed request)
//! is acknowledged and not run again. When the inbox cannot be written the answer is a
//! 503 with `Retry-After` (Slack shows the user an error; events are retried), never an
//! acknowledgement of something that could be lost. A body that does not parse is a 400
//! with the reason.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use opsbot_slack::{
    Event, SigningSecret, SlashCommands, inbound,
    signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, unix_now},
};
use serde_json::json;

use super::{SlackMetrics, responder::Responder};
use crate::inbox::Accepted;

/// What the endpoints need.
#[derive(Clone)]
pub struct SlackHttpState {
    pub(crate) responder: Arc<Responder>,
    pub(crate) secret: SigningSecret,
    pub(crate) slash: Arc<SlashCommands>,
    pub(crate) metrics: SlackMetrics,
}

/// The three endpoints.
pub fn routes(state: SlackHttpState) -> Router {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

impl SlackHttpState {
    /// The signature check; the 401 to answer when it fails.
    fn verify(
        &self,
        endpoint: &'static str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Box<Response>> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match self.secret.verify(
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            body,
            unix_now(),
        ) {
            Ok(()) => Ok(()),
            Err(reason) => {
                self.metrics.request(endpoint, "unauthorized");
                self.metrics.signature_failure(reason.kind());
                tracing::warn!(endpoint, %reason, "refused a Slack request: bad signature");
                Err(Box::new(error(
                    StatusCode::UNAUTHORIZED,
                    format!("invalid Slack request signature: {reason}"),
                )))
            }
        }
    }

    /// Stores `inbound` in the inbox and starts it; the answer when that failed.
    async fn accept(
        &self,
        endpoint: &'static str,
        inbound: opsbot_slack::Inbound,
    ) -> Result<Accepted, Box<Response>> {
        match self.responder.accept(inbound).await {
            Ok(accepted) => {
                let outcome = match accepted {
                    Accepted::New => "accepted",
                    Accepted::Replay => "replayed",
                };
                self.metrics.request(endpoint, outcome);
                Ok(accepted)
            }
            Err(error) => {
                self.metrics.request(endpoint, "unavailable");
                Err(Box::new(crate::unavailable::response(format!(
                    "opsbot cannot take commands right now: {error}"
                ))))
            }
        }
    }

    fn malformed(&self, endpoint: &'static str, reason: inbound::InboundError) -> Response {
        self.metrics.request(endpoint, "malformed");
        tracing::warn!(endpoint, %reason, "refused a malformed Slack request");
        error(StatusCode::BAD_REQUEST, reason.0)
    }
}

async fn commands(
    State(state): State<SlackHttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = state.verify("commands", &headers, &body) {
        return *response;
    }
    match inbound::parse_slash_command(&body, &state.slash) {
        Ok(inbound) => {
            let ack = format!("⏳ `{}`", opsbot_slack::blocks::escape(&inbound.text));
            match state.accept("commands", inbound).await {
                Ok(Accepted::New) => {
                    Json(json!({ "response_type": "ephemeral", "text": ack })).into_response()
                }
                Ok(Accepted::Replay) => StatusCode::OK.into_response(),
                Err(response) => *response,
            }
        }
        Err(reason) => state.malformed("commands", reason),
    }
}

async fn interactions(
    State(state): State<SlackHttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = state.verify("interactions", &headers, &body) {
        return *response;
    }
    match inbound::parse_interaction(&body) {
        Ok(Some(inbound)) => match state.accept("interactions", inbound).await {
            Ok(_) => StatusCode::OK.into_response(),
            Err(response) => *response,
        },
        Ok(None) => {
            state.metrics.request("interactions", "ignored");
            StatusCode::OK.into_response()
        }
        Err(reason) => state.malformed("interactions", reason),
    }
}

async fn events(State(state): State<SlackHttpState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = state.verify("events", &headers, &body) {
        return *response;
    }
    match inbound::parse_event(&body) {
        Ok(Event::UrlVerification { challenge }) => {
            state.metrics.request("events", "accepted");
            Json(json!({ "challenge": challenge })).into_response()
        }
        Ok(Event::Mention(inbound)) => match state.accept("events", inbound).await {
            Ok(_) => StatusCode::OK.into_response(),
            Err(response) => *response,
        },
        Ok(Event::Ignored) => {
            state.metrics.request("events", "ignored");
            StatusCode::OK.into_response()
        }
        Err(reason) => state.malformed("events", reason),
    }
}

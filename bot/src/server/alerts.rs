//! The alert endpoints: `POST /alerts/alertmanager` (Alertmanager webhook v4),
//! `POST /alerts/grafana` (Grafana unified alerting, HMAC-signed when configured) and
//! `POST /alerts` (opsbot's generic JSON).
//!
//! Each request must satisfy one configured `[[alerts.sources]]` of its kind (401 with the
//! reason otherwise, never echoing what was sent); a malformed body is a 400 with the
//! parser's reason; the batch is committed to the store (incidents, timeline, outbox)
//! before the 200. A store that is unavailable answers 503, which Alertmanager retries
//! (it gives up on 4xx), so nothing is lost.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use opsbot_alerts::{AlertBatch, PayloadError, SourceAuth};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use serde_json::json;

use super::unavailable;
use crate::{
    config::{Config, alerts::SourceKindConfig},
    incidents::Incidents,
};

/// `X-Grafana-Alerting-Signature`
pub const GRAFANA_SIGNATURE_HEADER: &str = "x-grafana-alerting-signature";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    source: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

/// `opsbot_alert_requests_total{source,outcome}` and `opsbot_alerts_received_total{source}`.
#[derive(Clone, Debug, Default)]
pub struct AlertMetrics {
    requests: Family<AlertLabels, Counter>,
    alerts: Family<SourceLabels, Counter>,
}

impl AlertMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "alert_requests",
            "Alert webhook requests by source kind and outcome (accepted, unauthorized, \
             malformed, unavailable, failed)",
            self.requests.clone(),
        );
        registry.register(
            "alerts_received",
            "Alerts committed to the store, by source kind",
            self.alerts.clone(),
        );
    }

    fn request(&self, source: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&AlertLabels { source, outcome })
            .inc();
    }

    fn accepted(&self, source: &'static str, alerts: usize) {
        self.alerts
            .get_or_create(&SourceLabels { source })
            .inc_by(alerts as u64);
    }
}

/// One configured source, ready to check requests.
#[derive(Clone, Debug)]
struct Source {
    name: String,
    kind: SourceKindConfig,
    auth: SourceAuth,
    grafana_secret: Option<Vec<u8>>,
    grafana_timestamp_header: Option<String>,
}

/// What the alert endpoints need.
#[derive(Clone)]
pub struct AlertsState {
    incidents: Incidents,
    sources: Arc<Vec<Source>>,
    metrics: AlertMetrics,
    /// `[store] write_timeout`: past it a batch is answered 503.
    write_timeout: std::time::Duration,
}

impl AlertsState {
    pub fn new(config: &Config, incidents: Incidents, metrics: AlertMetrics) -> Self {
        let sources = config
            .alerts
            .sources
            .iter()
            .map(|s| Source {
                name: s.name.clone(),
                kind: s.kind,
                auth: s.auth.to_source_auth(),
                grafana_secret: s
                    .grafana_secret
                    .as_ref()
                    .map(|x| x.expose().as_bytes().to_vec()),
                grafana_timestamp_header: s.grafana_timestamp_header.clone(),
            })
            .collect();
        Self {
            incidents,
            sources: Arc::new(sources),
            metrics,
            write_timeout: config.store.write_timeout.as_duration(),
        }
    }
}

/// The three alert endpoints.
pub fn routes(state: AlertsState) -> Router {
    Router::new()
        .route("/alerts/alertmanager", post(alertmanager))
        .route("/alerts/grafana", post(grafana))
        .route("/alerts", post(generic))
        .with_state(state)
}

async fn alertmanager(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(
        &state,
        SourceKindConfig::Alertmanager,
        &headers,
        &body,
        opsbot_alerts::parse_alertmanager,
    )
    .await
}

async fn grafana(State(state): State<AlertsState>, headers: HeaderMap, body: Bytes) -> Response {
    receive(
        &state,
        SourceKindConfig::Grafana,
        &headers,
        &body,
        opsbot_alerts::parse_grafana,
    )
    .await
}

async fn generic(State(state): State<AlertsState>, headers: HeaderMap, body: Bytes) -> Response {
    receive(
        &state,
        SourceKindConfig::Generic,
        &headers,
        &body,
        opsbot_alerts::parse_generic,
    )
    .await
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The source of `kind` whose credentials the request carries, or the reason for a 401
/// (that of the first source of the kind; never the credentials themselves).
fn authenticate<'s>(
    sources: &'s [Source],
    kind: SourceKindConfig,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'s Source, Box<Response>> {
    let candidates: Vec<&Source> = sources.iter().filter(|s| s.kind == kind).collect();
    if candidates.is_empty() {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            format!(
                "no `{}` alert source is configured ([[alerts.sources]] with kind = \"{}\")",
                kind.as_str(),
                kind.as_str()
            ),
        )));
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut first_reason: Option<String> = None;
    for source in candidates {
        let checked = source
            .auth
            .check(authorization)
            .map_err(|e| e.to_string())
            .and_then(|()| match &source.grafana_secret {
                None => Ok(()),
                Some(secret) => {
                    let signature = headers
                        .get(GRAFANA_SIGNATURE_HEADER)
                        .and_then(|v| v.to_str().ok());
                    let timestamp = source
                        .grafana_timestamp_header
                        .as_deref()
                        .and_then(|h| headers.get(h))
                        .and_then(|v| v.to_str().ok());
                    if source.grafana_timestamp_header.is_some() && timestamp.is_none() {
                        return Err("missing signature timestamp header".to_string());
                    }
                    opsbot_alerts::verify_grafana_signature(secret, body, signature, timestamp)
                        .map_err(|e| format!("Grafana signature: {e}"))
                }
            });
        match checked {
            Ok(()) => return Ok(source),
            Err(reason) => {
                first_reason.get_or_insert(reason);
            }
        }
    }
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        first_reason.unwrap_or_else(|| "unauthorized".into()),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"opsbot alerts\""),
    );
    Err(Box::new(response))
}

async fn receive(
    state: &AlertsState,
    kind: SourceKindConfig,
    headers: &HeaderMap,
    body: &[u8],
    parse: fn(&[u8]) -> Result<AlertBatch, PayloadError>,
) -> Response {
    let label = kind.as_str();
    let source = match authenticate(&state.sources, kind, headers, body) {
        Ok(source) => source,
        Err(response) => {
            state.metrics.request(label, "unauthorized");
            return *response;
        }
    };
    let batch = match parse(body) {
        Ok(batch) => batch,
        Err(reason) => {
            state.metrics.request(label, "malformed");
            return error(StatusCode::BAD_REQUEST, reason.to_string());
        }
    };
    let ingest = state.incidents.ingest(&batch, jiff::Timestamp::now());
    match unavailable::within(state.incidents.store(), state.write_timeout, ingest).await {
        Ok(outcome) => {
            state.metrics.request(label, "accepted");
            state.metrics.accepted(label, outcome.accepted);
            tracing::debug!(source = %source.name, alerts = outcome.accepted, incidents = ?outcome.incidents, "alerts accepted");
            (
                StatusCode::OK,
                Json(json!({ "accepted": outcome.accepted, "incidents": outcome.incidents })),
            )
                .into_response()
        }
        Err(e) if e.is_unavailable() => {
            state.metrics.request(label, "unavailable");
            tracing::warn!(source = %source.name, error = %e, "alerts refused: store unavailable");
            unavailable::response(e)
        }
        Err(e) => {
            state.metrics.request(label, "failed");
            tracing::error!(source = %source.name, error = %e, "alerts could not be stored");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the alerts could not be stored: {e}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;
    use crate::{incidents::IncidentSettings, store::scratch::backend_tests};

    const CONFIG: &str = r##"
[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = { bearer = "${AM_TOKEN}" }

[[alerts.sources]]
name = "grafana"
kind = "grafana"
auth = { basic = { username = "grafana", password = "${GRAFANA_PASSWORD}" } }
grafana_secret = "${GRAFANA_HMAC}"

[[services]]
name = "wrkhrs-gateway"
environment = "prod"
alert_labels = { job = "wrkhrs-gateway" }
"##;

    const BODY: &str = r#"{"version":"4","groupKey":"{}:{alertname=\"Down\"}","status":"firing",
        "alerts":[{"status":"firing","labels":{"alertname":"Down","job":"wrkhrs-gateway"},"fingerprint":"f1"}]}"#;

    fn env(name: &str) -> Option<String> {
        match name {
            "AM_TOKEN" => Some("am-s3cret-token".into()),
            "GRAFANA_PASSWORD" => Some("gr-pass".into()),
            "GRAFANA_HMAC" => Some("hmac-key".into()),
            _ => None,
        }
    }

    fn router(store: &crate::store::Store) -> Router {
        let config = crate::config::parse(CONFIG, "t.toml", &env).unwrap();
        let catalog = opsbot_commands::Catalog::new(config.services.clone()).unwrap();
        let incidents = Incidents::new(
            store.clone(),
            IncidentSettings::from_config(&config),
            catalog,
        );
        routes(AlertsState::new(
            &config,
            incidents,
            AlertMetrics::default(),
        ))
    }

    async fn post(
        router: &Router,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, String) {
        let mut request = Request::post(path).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    const BEARER: (&str, &str) = ("authorization", "Bearer am-s3cret-token");

    backend_tests! {
        async fn accepts_authenticated_batches_and_answers_401_400_404_503(db) {
            let router = router(&db.store);
            let (status, body) = post(&router, "/alerts/alertmanager", &[BEARER], BODY).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["accepted"], 1);
            assert_eq!(json["incidents"].as_array().unwrap().len(), 1);

            let (status, body) = post(&router, "/alerts/alertmanager", &[], BODY).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(body.contains("missing Authorization header"), "{body}");
            let (status, body) = post(&router, "/alerts/alertmanager", &[("authorization", "Bearer guessed-token")], BODY).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(body.contains("wrong credentials") && !body.contains("guessed") && !body.contains("s3cret"), "{body}");

            let (status, body) = post(&router, "/alerts/alertmanager", &[BEARER], r#"{"status":"firing"}"#).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(body.contains("missing field `alerts`"), "{body}");

            let (status, body) = post(&router, "/alerts", &[], r#"{"alerts":[{"name":"x"}]}"#).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "no generic source configured: {body}");

            // Grafana: basic auth and a signature.
            let basic = format!("Basic {}", base64_of("grafana:gr-pass"));
            let (status, body) = post(&router, "/alerts/grafana", &[("authorization", &basic)], BODY).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(body.contains("signature"), "{body}");

            db.store.close().await;
            let (status, body) = post(&router, "/alerts/alertmanager", &[BEARER], BODY).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        }
    }

    fn base64_of(text: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

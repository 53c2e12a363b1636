//! The alert endpoints: `POST /alerts/alertmanager` (Alertmanager webhook v4),
//! `POST /alerts/grafana` (Grafana unified alerting, HMAC-signed when configured) and
//! `POST /alerts` (opsbot's generic JSON).
//!
//! Each request must satisfy one configured `[[alerts.sources]]` of its kind (401 with the
//! reason otherwise, never echoing what was sent); a malformed body is a 400 with the
//! parser's reason; the batch is committed to the store (incidents, timeline, outbox)
//! before the 200. A store that is unavailable answers 503, which Alertmanager retries
//! (it gives up on 4xx), so nothing is lost.
//!
//! Bodies: the `Authorization` header is checked before the body is read, and the body
//! is streamed into one buffer up to `[server] alert_body_limit` (32 MiB by default;
//! Alertmanager's `max_alerts` is unlimited by default and 7,000 alerts are 2.3 MB). A
//! larger body is answered 413: final for Alertmanager (it drops the notification), but a
//! 5xx would only make it resend the same body until it gives up, hiding the cause. The
//! refusal is logged and counted (`outcome="too_large"`); the fix is a larger limit or
//! `max_alerts` on the receiver (see README).
//!
//! Grafana signatures with a timestamp header must be within five minutes of now (401
//! otherwise), and each is accepted once: the signature is recorded in the store's
//! `seen_requests` in the ingest's transaction, and a replay within the window is answered
//! 200 with `"replay": true` and ingests nothing (a 200, because the likely sender of a
//! copy is the sender itself retrying after a lost answer). Grafana's own repeats carry a
//! new timestamp, hence a new signature, and are ingested as usual. Without a timestamp
//! header the signature covers only the body and cannot be told from a replay; such
//! sources are accepted as before and `check-config` warns about them.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Body,
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

use super::body::{BodyError, read_limited};
use crate::{
    config::{Config, alerts::SourceKindConfig},
    incidents::Incidents,
    store::seen_requests::SeenRequest,
    unavailable,
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
    /// Creates this part's series and registers them in `registry` (the one registry
    /// `app.rs` serves at `/metrics`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "alert_requests",
            "Alert webhook requests by source kind and outcome (accepted, replay, \
             unauthorized, too_large, malformed, unavailable, failed)",
            metrics.requests.clone(),
        );
        registry.register(
            "alerts_received",
            "Alerts committed to the store, by source kind",
            metrics.alerts.clone(),
        );
        metrics
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
    /// `[server] alert_body_limit`
    body_limit: usize,
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
            body_limit: config.server.alert_body_limit,
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
    body: Body,
) -> Response {
    receive(
        &state,
        SourceKindConfig::Alertmanager,
        &headers,
        body,
        opsbot_alerts::parse_alertmanager,
    )
    .await
}

async fn grafana(State(state): State<AlertsState>, headers: HeaderMap, body: Body) -> Response {
    receive(
        &state,
        SourceKindConfig::Grafana,
        &headers,
        body,
        opsbot_alerts::parse_grafana,
    )
    .await
}

async fn generic(State(state): State<AlertsState>, headers: HeaderMap, body: Body) -> Response {
    receive(
        &state,
        SourceKindConfig::Generic,
        &headers,
        body,
        opsbot_alerts::parse_generic,
    )
    .await
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn unauthorized(reason: Option<String>) -> Box<Response> {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        reason.unwrap_or_else(|| "unauthorized".into()),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"opsbot alerts\""),
    );
    Box::new(response)
}

/// The sources of `kind` whose `Authorization` the request satisfies (checked before the
/// body is read), or the 404 / 401 to answer (the reason of the first source of the
/// kind; never the credentials themselves).
fn authorize<'s>(
    sources: &'s [Source],
    kind: SourceKindConfig,
    headers: &HeaderMap,
) -> Result<Vec<&'s Source>, Box<Response>> {
    let of_kind: Vec<&Source> = sources.iter().filter(|s| s.kind == kind).collect();
    if of_kind.is_empty() {
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
    let mut passed = Vec::new();
    for source in of_kind {
        match source.auth.check(authorization) {
            Ok(()) => passed.push(source),
            Err(reason) => {
                first_reason.get_or_insert(reason.to_string());
            }
        }
    }
    if passed.is_empty() {
        return Err(unauthorized(first_reason));
    }
    Ok(passed)
}

/// Of the sources whose `Authorization` passed, the first whose Grafana signature (if it
/// has a secret) matches the body within the time window, with the record that makes a
/// replay of it recognisable (`None`: the signature carries no timestamp, or none is
/// configured); or the 401 with the first source's reason.
fn verify<'s>(
    candidates: &[&'s Source],
    headers: &HeaderMap,
    body: &[u8],
    now: jiff::Timestamp,
) -> Result<(&'s Source, Option<SeenRequest>), Box<Response>> {
    let mut first_reason: Option<String> = None;
    for &source in candidates {
        let Some(secret) = &source.grafana_secret else {
            return Ok((source, None));
        };
        let signature = headers
            .get(GRAFANA_SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        let timestamp = source
            .grafana_timestamp_header
            .as_deref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok());
        let checked = match (&source.grafana_timestamp_header, timestamp) {
            (Some(_), None) => Err("missing signature timestamp header".to_string()),
            (Some(_), Some(timestamp)) => {
                opsbot_alerts::check_grafana_timestamp(timestamp, now.as_second())
                    .map_err(|e| format!("Grafana signature: {e}"))
            }
            (None, _) => Ok(()),
        }
        .and_then(|()| {
            opsbot_alerts::verify_grafana_signature(secret, body, signature, timestamp)
                .map_err(|e| format!("Grafana signature: {e}"))
        });
        match checked {
            Ok(()) => {
                let seen = timestamp.zip(signature).map(|(_, signature)| SeenRequest {
                    source: SourceKindConfig::Grafana.as_str(),
                    digest: signature.trim().to_ascii_lowercase(),
                    // Accepted while |now - timestamp| <= window, and the timestamp is
                    // at most now + window: no copy is accepted after now + 2 windows.
                    expires_at: now
                        + jiff::SignedDuration::from_secs(
                            opsbot_alerts::GRAFANA_MAX_SKEW_SECONDS * 2,
                        ),
                });
                return Ok((source, seen));
            }
            Err(reason) => {
                first_reason.get_or_insert(reason);
            }
        }
    }
    Err(unauthorized(first_reason))
}

async fn receive(
    state: &AlertsState,
    kind: SourceKindConfig,
    headers: &HeaderMap,
    body: Body,
    parse: fn(&[u8]) -> Result<AlertBatch, PayloadError>,
) -> Response {
    let label = kind.as_str();
    let candidates = match authorize(&state.sources, kind, headers) {
        Ok(candidates) => candidates,
        Err(response) => {
            state.metrics.request(label, "unauthorized");
            return *response;
        }
    };
    let body = match read_limited(headers, body, state.body_limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge { limit }) => {
            state.metrics.request(label, "too_large");
            tracing::error!(
                source = label,
                limit,
                "alert batch refused: larger than [server] alert_body_limit; raise it, or \
                 set max_alerts on the sender's webhook receiver"
            );
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than {limit} bytes ([server] alert_body_limit); \
                     raise the limit or send fewer alerts per notification \
                     (Alertmanager: max_alerts on the webhook receiver)"
                ),
            );
        }
        Err(BodyError::Read(e)) => {
            state.metrics.request(label, "malformed");
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let now = jiff::Timestamp::now();
    let (source, seen) = match verify(&candidates, headers, &body, now) {
        Ok(verified) => verified,
        Err(response) => {
            state.metrics.request(label, "unauthorized");
            return *response;
        }
    };
    let batch = match parse(&body) {
        Ok(batch) => batch,
        Err(reason) => {
            state.metrics.request(label, "malformed");
            return error(StatusCode::BAD_REQUEST, reason.to_string());
        }
    };
    // The batch holds everything it needs; the body's memory goes back now.
    drop(body);
    let ingest = async {
        match &seen {
            None => state.incidents.ingest_owned(batch, now).await.map(Some),
            Some(seen) => state.incidents.ingest_once(&batch, now, seen).await,
        }
    };
    match unavailable::within(state.incidents.store(), state.write_timeout, ingest).await {
        Ok(Some(outcome)) => {
            state.metrics.request(label, "accepted");
            state.metrics.accepted(label, outcome.accepted);
            tracing::debug!(source = %source.name, alerts = outcome.accepted, incidents = ?outcome.incidents, "alerts accepted");
            (
                StatusCode::OK,
                Json(json!({ "accepted": outcome.accepted, "incidents": outcome.incidents })),
            )
                .into_response()
        }
        Ok(None) => {
            state.metrics.request(label, "replay");
            tracing::warn!(source = %source.name, "signed alert request replayed within its window; ignored");
            (
                StatusCode::OK,
                Json(json!({ "accepted": 0, "incidents": [], "replay": true })),
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

    const SIGNED: &str = r##"
[server]
alert_body_limit = 4096

[[alerts.sources]]
name = "grafana"
kind = "grafana"
auth = "none"
grafana_secret = "${GRAFANA_HMAC}"
grafana_timestamp_header = "X-Grafana-Alerting-Timestamp"

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = { bearer = "${AM_TOKEN}" }

[[services]]
name = "wrkhrs-gateway"
environment = "prod"
alert_labels = { job = "wrkhrs-gateway" }
"##;

    fn router_with(store: &crate::store::Store, text: &str) -> Router {
        let config = crate::config::parse(text, "t.toml", &env).unwrap();
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

    /// Grafana's signature of `body` at `timestamp`: hex HMAC-SHA256 of `timestamp:body`.
    fn grafana_signature(timestamp: &str, body: &str) -> String {
        use hmac::Mac as _;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(b"hmac-key").unwrap();
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    async fn post_grafana(router: &Router, timestamp: &str, body: &str) -> (StatusCode, String) {
        let signature = grafana_signature(timestamp, body);
        post(
            router,
            "/alerts/grafana",
            &[
                ("x-grafana-alerting-timestamp", timestamp),
                (GRAFANA_SIGNATURE_HEADER, &signature),
            ],
            body,
        )
        .await
    }

    async fn count(store: &crate::store::Store, table: &str) -> i64 {
        use sqlx::Row as _;
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(store.read_pool())
            .await
            .unwrap()
            .get(0)
    }

    /// An Alertmanager notification of `alerts` firing alerts, as Alertmanager writes it.
    fn big_batch(alerts: usize) -> String {
        let alerts: Vec<String> = (0..alerts)
            .map(|i| {
                format!(
                    r#"{{"status":"firing","labels":{{"alertname":"KubePodNotReady","job":"wrkhrs-gateway","namespace":"wrkhrs","pod":"wrkhrs-gateway-7f9c6d5b8-{i:05}","severity":"warning"}},"annotations":{{"summary":"Pod wrkhrs/wrkhrs-gateway-7f9c6d5b8-{i:05} has been in a non-ready state for longer than 15 minutes."}},"startsAt":"2026-11-21T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=kube_pod_status_ready","fingerprint":"{i:016x}"}}"#
                )
            })
            .collect();
        format!(
            r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"KubePodNotReady\"}}","truncatedAlerts":0,"status":"firing","receiver":"opsbot","groupLabels":{{"alertname":"KubePodNotReady"}},"commonLabels":{{"alertname":"KubePodNotReady"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","alerts":[{}]}}"#,
            alerts.join(",")
        )
    }

    backend_tests! {
        async fn a_7000_alert_batch_over_2_mib_is_accepted_whole(db) {
            let router = router(&db.store);
            let body = big_batch(7000);
            assert!(body.len() > 2 * 1024 * 1024, "{} bytes", body.len());
            let (status, answer) = post(&router, "/alerts/alertmanager", &[BEARER], &body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(json["accepted"], 7000);
            assert_eq!(count(&db.store, "incident_alerts").await, 7000, "every alert stored");
        }

        async fn a_body_over_the_limit_is_413_with_the_limit_and_the_remedy(db) {
            let router = router_with(&db.store, SIGNED);
            let body = big_batch(20);
            assert!(body.len() > 4096);
            let (status, answer) = post(&router, "/alerts/alertmanager", &[BEARER], &body).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
            assert!(answer.contains("4096 bytes") && answer.contains("max_alerts"), "{answer}");
            // Credentials are checked before a body is read: no token, no 413.
            let (status, _) = post(&router, "/alerts/alertmanager", &[], &body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            let (status, answer) = post(&router, "/alerts/alertmanager", &[BEARER], BODY).await;
            assert_eq!(status, StatusCode::OK, "under the limit: {answer}");
            assert_eq!(count(&db.store, "incident_alerts").await, 1);
        }

        async fn grafana_timestamps_outside_the_window_are_refused_with_the_reason(db) {
            let router = router_with(&db.store, SIGNED);
            let now = jiff::Timestamp::now().as_second();
            for (timestamp, reason) in [
                ((now - 86_400).to_string(), "86400 s away from now"),
                ((now - 365 * 86_400).to_string(), "s away from now"),
                ((now + 3_600).to_string(), "-3600 s away from now"),
                ("garbage".to_string(), "not a Unix time"),
            ] {
                let (status, answer) = post_grafana(&router, &timestamp, BODY).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{timestamp}: {answer}");
                assert!(answer.contains(reason), "{timestamp}: {answer}");
            }
            let (status, answer) =
                post(&router, "/alerts/grafana", &[(GRAFANA_SIGNATURE_HEADER, "00")], BODY).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(answer.contains("missing signature timestamp header"), "{answer}");
            assert_eq!(count(&db.store, "incident_alerts").await, 0);

            let (status, answer) = post_grafana(&router, &now.to_string(), BODY).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }

        async fn a_signed_grafana_request_is_ingested_once_across_restarts(db) {
            let router = router_with(&db.store, SIGNED);
            let now = jiff::Timestamp::now().as_second().to_string();
            let (status, answer) = post_grafana(&router, &now, BODY).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert!(!answer.contains("replay"), "{answer}");
            let events = count(&db.store, "incident_events").await;
            let messages = count(&db.store, "outbox").await;

            let (status, answer) = post_grafana(&router, &now, BODY).await;
            assert_eq!(status, StatusCode::OK, "a replay is answered 200: {answer}");
            let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
            assert_eq!((json["replay"].as_bool(), json["accepted"].as_u64()), (Some(true), Some(0)));

            // A new process (or another replica) on the same store.
            let restarted = crate::store::Store::connect(&db.url, 2).await.unwrap();
            let (status, answer) = post_grafana(&router_with(&restarted, SIGNED), &now, BODY).await;
            assert_eq!(status, StatusCode::OK);
            assert!(answer.contains(r#""replay":true"#), "{answer}");
            assert_eq!(count(&db.store, "incident_events").await, events, "nothing ingested again");
            assert_eq!(count(&db.store, "outbox").await, messages, "nothing posted again");

            // Grafana's own repeat: same body, a new timestamp, a new signature.
            let later = (jiff::Timestamp::now().as_second() + 1).to_string();
            let (status, answer) = post_grafana(&router, &later, BODY).await;
            assert_eq!(status, StatusCode::OK);
            assert!(!answer.contains("replay"), "{answer}");
            assert_eq!(count(&db.store, "seen_requests").await, 2);
            restarted.close().await;
        }

        async fn a_failed_ingest_leaves_no_record_so_the_retry_is_ingested(db) {
            let router = router_with(&db.store, SIGNED);
            let now = jiff::Timestamp::now().as_second().to_string();
            // A broken store: the ingest fails, the record rolls back with it.
            sqlx::query("DROP TABLE incident_alerts").execute(db.store.pool()).await.unwrap();
            let (status, answer) = post_grafana(&router, &now, BODY).await;
            assert!(status.is_server_error(), "{status}: {answer}");
            assert_eq!(count(&db.store, "seen_requests").await, 0);
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

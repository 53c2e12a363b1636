//! # opsbot-alerts
//!
//! Translates what monitoring systems send into opsbot's neutral [`AlertBatch`]:
//! the Alertmanager webhook (v4, tolerant of newer fields and of older payloads without
//! per-alert fingerprints), the Grafana unified alerting webhook (with its optional HMAC
//! signature), and a small generic JSON format for everything else. Also checks the
//! credentials each source sends (bearer token or basic auth, as Alertmanager's
//! `http_config` sends them).
//!
//! This crate parses and verifies; it stores nothing and decides nothing. Errors say what
//! is wrong with the request (and where in the JSON), so the HTTP layer can answer 400 or
//! 401 with a reason.

mod alert;
mod alertmanager;
mod auth;
mod error;
mod fingerprint;
mod generic;
mod grafana;

pub use alert::{Alert, AlertBatch, AlertStatus, NUL_REPLACEMENT, Severity, SourceKind};
pub use alertmanager::parse_alertmanager;
pub use auth::{AuthError, SourceAuth};
pub use error::PayloadError;
pub use fingerprint::label_fingerprint;
pub use generic::parse_generic;
pub use grafana::{
    GRAFANA_MAX_SKEW_SECONDS, SignatureError, check_grafana_timestamp, parse_grafana,
    verify_grafana_signature,
};

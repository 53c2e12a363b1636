//! The Grafana unified alerting webhook: Alertmanager's shape plus Grafana's fields
//! (`orgId`, `title`, `state`, `message`, per-alert `values`, `dashboardURL`, …), and an
//! optional HMAC-SHA256 signature of the body in `X-Grafana-Alerting-Signature` (lowercase
//! hex; over `timestamp:body` when a timestamp header is configured). A signed timestamp
//! (Unix seconds; milliseconds are recognised too) must be within
//! [`GRAFANA_MAX_SKEW_SECONDS`] of now, as for Slack and Discord.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{AlertBatch, PayloadError, SourceKind, alertmanager::WireBatch, error::from_json};

const FORMAT: &str = "Grafana webhook";

/// Parses a Grafana alerting webhook body.
pub fn parse_grafana(body: &[u8]) -> Result<AlertBatch, PayloadError> {
    let wire: WireBatch = from_json(FORMAT, body)?;
    crate::alertmanager::translate(FORMAT, SourceKind::Grafana, wire)
}

/// How far a signed timestamp may be from now, either way (five minutes, as Slack's and
/// Discord's windows).
pub const GRAFANA_MAX_SKEW_SECONDS: i64 = 5 * 60;

/// Timestamps at or above this are read as Unix milliseconds (in seconds it is a date in
/// the year 5138).
const MILLISECONDS_FROM: i64 = 100_000_000_000;

/// The signature header was missing or did not match, or its timestamp was unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature header")]
    Missing,
    #[error("signature does not match the body")]
    Mismatch,
    #[error("the signature timestamp is not a Unix time in seconds")]
    MalformedTimestamp,
    #[error(
        "the signature timestamp is {skew} s away from now (at most {GRAFANA_MAX_SKEW_SECONDS} s is accepted)"
    )]
    Stale { skew: i64 },
}

/// Checks the value of the timestamp header against `now` (Unix seconds): a number within
/// [`GRAFANA_MAX_SKEW_SECONDS`] of now, in the past or the future.
pub fn check_grafana_timestamp(timestamp: &str, now: i64) -> Result<(), SignatureError> {
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    let at = if at >= MILLISECONDS_FROM {
        at / 1000
    } else {
        at
    };
    let skew = now.saturating_sub(at);
    if skew.saturating_abs() > GRAFANA_MAX_SKEW_SECONDS {
        return Err(SignatureError::Stale { skew });
    }
    Ok(())
}

/// Checks Grafana's HMAC signature in constant time. `timestamp` is the value of the
/// configured timestamp header, when one is configured.
pub fn verify_grafana_signature(
    secret: &[u8],
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
) -> Result<(), SignatureError> {
    let signature = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Missing)?;
    let expected = hex::decode(signature).map_err(|_| SignatureError::Mismatch)?;
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    if let Some(timestamp) = timestamp {
        mac.update(timestamp.as_bytes());
        mac.update(b":");
    }
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{
      "receiver": "opsbot",
      "status": "firing",
      "orgId": 1,
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "OllamaDown", "service": "ollama", "severity": "critical"},
        "annotations": {"summary": "Ollama is not answering on :11434"},
        "startsAt": "2026-11-21T06:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://grafana/alerting/grafana/abc/view",
        "fingerprint": "57c6d9296de2ad39",
        "silenceURL": "http://grafana/alerting/silence/new",
        "dashboardURL": "",
        "panelURL": "",
        "values": {"B": 0, "C": 1},
        "valueString": "[ var='B' value=0 ]"
      }],
      "groupLabels": {"alertname": "OllamaDown"},
      "commonLabels": {"alertname": "OllamaDown"},
      "commonAnnotations": {},
      "externalURL": "http://grafana/",
      "version": "1",
      "groupKey": "{}:{alertname=\"OllamaDown\"}",
      "truncatedAlerts": 0,
      "title": "[FIRING:1] OllamaDown",
      "state": "alerting",
      "message": "**Firing**"
    }"#;

    fn sign(secret: &[u8], message: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn parses_grafana_payloads() {
        let batch = parse_grafana(BODY.as_bytes()).unwrap();
        assert_eq!(batch.source, SourceKind::Grafana);
        assert_eq!(batch.alerts[0].fingerprint, "57c6d9296de2ad39");
        assert_eq!(batch.alerts[0].labels["service"], "ollama");
    }

    #[test]
    fn timestamps_outside_five_minutes_or_not_numbers_are_refused() {
        let now = 1_763_708_400;
        for ok in ["1763708400", " 1763708100 ", "1763708700", "1763708400123"] {
            assert_eq!(check_grafana_timestamp(ok, now), Ok(()), "{ok}");
        }
        for (stale, skew) in [
            ("1763708099", 301),
            ("1763622000", 86_400),
            ("1732172400", 31_536_000),
            ("1763708701", -301),
            ("0", now),
            ("1763622000000", 86_400),
        ] {
            assert_eq!(
                check_grafana_timestamp(stale, now),
                Err(SignatureError::Stale { skew }),
                "{stale}"
            );
        }
        for garbage in [
            "garbage",
            "",
            "17637084.5",
            "2026-11-21T06:00:00Z",
            "99999999999999999999",
        ] {
            assert_eq!(
                check_grafana_timestamp(garbage, now),
                Err(SignatureError::MalformedTimestamp),
                "{garbage}"
            );
        }
        assert!(
            SignatureError::Stale { skew: -301 }
                .to_string()
                .contains("-301 s away from now (at most 300 s")
        );
    }

    #[test]
    fn signatures_over_the_body_or_timestamp_and_body() {
        let secret = b"grafana-secret";
        let good = sign(secret, BODY.as_bytes());
        assert_eq!(
            verify_grafana_signature(secret, BODY.as_bytes(), Some(&good), None),
            Ok(())
        );
        assert_eq!(
            verify_grafana_signature(secret, b"{}", Some(&good), None),
            Err(SignatureError::Mismatch),
            "a changed body is refused"
        );
        assert_eq!(
            verify_grafana_signature(b"other", BODY.as_bytes(), Some(&good), None),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_grafana_signature(secret, BODY.as_bytes(), None, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_grafana_signature(secret, BODY.as_bytes(), Some("zz-not-hex"), None),
            Err(SignatureError::Mismatch)
        );
        let stamped = sign(secret, format!("1763708400:{BODY}").as_bytes());
        assert_eq!(
            verify_grafana_signature(secret, BODY.as_bytes(), Some(&stamped), Some("1763708400")),
            Ok(())
        );
        assert_eq!(
            verify_grafana_signature(secret, BODY.as_bytes(), Some(&stamped), Some("1763708401")),
            Err(SignatureError::Mismatch)
        );
    }
}

//! Slack's v0 request signatures: `X-Slack-Signature: v0=HEX(HMAC-SHA256(secret,
//! "v0:" + X-Slack-Request-Timestamp + ":" + body))`, compared in constant time, with the
//! timestamp at most five minutes away from now (replays of old requests are refused).
//!
//! Why not slack-morphism's `SlackEventSignatureVerifier`: it always reads the system
//! clock, so Slack's own documented example (signed in 2018) cannot be checked against
//! its expected signature; here the clock is a parameter. The comparison is the `hmac`
//! crate's `verify_slice` (constant time, through `subtle`).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// `X-Slack-Signature`
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// `X-Slack-Request-Timestamp`
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far a request's timestamp may be from now, in seconds (Slack: five minutes).
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// The app's signing secret. `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }

    /// The `X-Slack-Signature` value Slack sends for `body` at `timestamp` (tests and
    /// fakes sign requests with it the way Slack does).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        format!(
            "v0={}",
            hex::encode(self.mac(timestamp, body).finalize().into_bytes())
        )
    }

    /// Checks a request's headers against its raw body, `now` being the current Unix time
    /// in seconds.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let timestamp = timestamp.ok_or(SignatureError::Missing(TIMESTAMP_HEADER))?;
        let signature = signature.ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
        let at: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::Malformed(TIMESTAMP_HEADER))?;
        let skew = now.saturating_sub(at);
        if skew.abs() > MAX_SKEW_SECONDS {
            return Err(SignatureError::Stale { skew });
        }
        let expected = signature
            .strip_prefix("v0=")
            .and_then(|hex_text| hex::decode(hex_text).ok())
            .ok_or(SignatureError::Malformed(SIGNATURE_HEADER))?;
        self.mac(timestamp.trim(), body)
            .verify_slice(&expected)
            .map_err(|_| SignatureError::Mismatch)
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a request was refused. Messages name headers, never their values or the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the request timestamp is {skew} s away from now (at most 300 s is accepted)")]
    Stale { skew: i64 },
    #[error("the signature does not match the body")]
    Mismatch,
}

impl SignatureError {
    /// A short label for metrics: `missing`, `malformed`, `stale`, `mismatch`.
    pub fn kind(&self) -> &'static str {
        match self {
            SignatureError::Missing(_) => "missing",
            SignatureError::Malformed(_) => "malformed",
            SignatureError::Stale { .. } => "stale",
            SignatureError::Mismatch => "mismatch",
        }
    }
}

/// The current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// https://api.slack.com/authentication/verifying-requests-from-slack
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TIMESTAMP: &str = "1531420618";
    const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn doc_secret() -> SigningSecret {
        SigningSecret::new(DOC_SECRET)
    }

    #[test]
    fn slacks_documented_example_verifies_at_its_time() {
        assert_eq!(
            doc_secret().sign(DOC_TIMESTAMP, DOC_BODY.as_bytes()),
            DOC_SIGNATURE
        );
        let at: i64 = DOC_TIMESTAMP.parse().unwrap();
        assert_eq!(
            doc_secret().verify(
                Some(DOC_TIMESTAMP),
                Some(DOC_SIGNATURE),
                DOC_BODY.as_bytes(),
                at + 10
            ),
            Ok(())
        );
    }

    #[test]
    fn slacks_documented_example_is_stale_today() {
        let error = doc_secret()
            .verify(
                Some(DOC_TIMESTAMP),
                Some(DOC_SIGNATURE),
                DOC_BODY.as_bytes(),
                unix_now(),
            )
            .unwrap_err();
        assert!(matches!(error, SignatureError::Stale { skew } if skew > 300));
        assert_eq!(error.kind(), "stale");
    }

    #[test]
    fn the_window_is_five_minutes_both_ways() {
        let secret = doc_secret();
        let signature = secret.sign("1000", b"x");
        for now in [700, 1000, 1300] {
            assert_eq!(
                secret.verify(Some("1000"), Some(&signature), b"x", now),
                Ok(())
            );
        }
        for now in [699, 1301] {
            assert!(matches!(
                secret.verify(Some("1000"), Some(&signature), b"x", now),
                Err(SignatureError::Stale { .. })
            ));
        }
    }

    #[test]
    fn a_changed_body_secret_or_signature_is_refused() {
        let at: i64 = DOC_TIMESTAMP.parse().unwrap();
        let verify = |secret: &SigningSecret, signature: &str, body: &str| {
            secret.verify(Some(DOC_TIMESTAMP), Some(signature), body.as_bytes(), at)
        };
        let tampered = DOC_BODY.replace("roadrunner", "coyote");
        assert_eq!(
            verify(&doc_secret(), DOC_SIGNATURE, &tampered),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &SigningSecret::new("another-secret"),
                DOC_SIGNATURE,
                DOC_BODY
            ),
            Err(SignatureError::Mismatch)
        );
        let flipped = DOC_SIGNATURE.replace("a2114d", "a2114e");
        assert_eq!(
            verify(&doc_secret(), &flipped, DOC_BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&doc_secret(), "v1=abc", DOC_BODY),
            Err(SignatureError::Malformed(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&doc_secret(), "v0=zz", DOC_BODY),
            Err(SignatureError::Malformed(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_named() {
        let secret = doc_secret();
        assert_eq!(
            secret.verify(None, Some("v0=00"), b"", 0),
            Err(SignatureError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            secret.verify(Some("1"), None, b"", 0),
            Err(SignatureError::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            secret.verify(Some("yesterday"), Some("v0=00"), b"", 0),
            Err(SignatureError::Malformed(TIMESTAMP_HEADER))
        );
        let message = SignatureError::Mismatch.to_string();
        assert!(!message.contains(DOC_SECRET));
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }
}

//! Checking that an HTTP interaction comes from Discord: the `X-Signature-Ed25519` header
//! is an Ed25519 signature, by the application's public key, over the
//! `X-Signature-Timestamp` header followed by the raw body (serenity's
//! [`Verifier`](serenity::interactions_endpoint::Verifier) checks it).
//!
//! Discord's signature carries no expiry, so a captured request could be replayed at will.
//! opsbot therefore also refuses a timestamp further than [`DEFAULT_MAX_SKEW`] from its
//! own clock (either way): a replay is only possible within that window, and interaction
//! tokens are single-use for the initial response anyway. Every refusal is a 401, which
//! is what Discord's endpoint check expects for its deliberately bad signatures.

use std::time::Duration;

use serenity::interactions_endpoint::Verifier;

/// `X-Signature-Ed25519`
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// `X-Signature-Timestamp`
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// How far a request's timestamp may be from now.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);

/// Why a request was refused. Never contains the signature or the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("invalid request signature")]
    BadSignature,
    #[error("the signature timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("the signature timestamp is {skew_secs}s away from now (at most {max_secs}s allowed)")]
    StaleTimestamp { skew_secs: u64, max_secs: u64 },
}

/// The application's public key is not 64 hex digits of a valid Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the Discord public key must be the 64 hex digits shown in the developer portal ({0})")]
pub struct KeyError(String);

/// Verifies interaction requests for one application.
#[derive(Clone)]
pub struct RequestVerifier {
    verifier: Verifier,
    max_skew: Duration,
}

impl std::fmt::Debug for RequestVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestVerifier")
            .field("max_skew", &self.max_skew)
            .finish_non_exhaustive()
    }
}

impl RequestVerifier {
    /// From the application's public key as the developer portal shows it (hex).
    pub fn from_hex(public_key: &str) -> Result<Self, KeyError> {
        let key = public_key.trim();
        let mut bytes = [0u8; 32];
        if key.len() != 64 {
            return Err(KeyError(format!("got {} characters", key.len())));
        }
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&key[2 * index..2 * index + 2], 16)
                .map_err(|_| KeyError("not hexadecimal".into()))?;
        }
        let verifier = Verifier::try_new(bytes).map_err(|e| KeyError(e.to_string()))?;
        Ok(Self {
            verifier,
            max_skew: DEFAULT_MAX_SKEW,
        })
    }

    /// Allows timestamps up to `max_skew` away from now.
    pub fn with_max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// Checks the two headers against `body`, with `now_unix` the current Unix time.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), VerifyError> {
        let signature = signature.ok_or(VerifyError::MissingHeader("X-Signature-Ed25519"))?;
        let timestamp = timestamp.ok_or(VerifyError::MissingHeader("X-Signature-Timestamp"))?;
        self.verifier
            .verify(signature, timestamp, body)
            .map_err(|()| VerifyError::BadSignature)?;
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        let skew = now_unix.abs_diff(sent);
        if skew > self.max_skew.as_secs() {
            return Err(VerifyError::StaleTimestamp {
                skew_secs: skew,
                max_secs: self.max_skew.as_secs(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;

    const NOW: i64 = 1_763_708_400;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        let message = [timestamp.as_bytes(), body].concat();
        hex::encode(key.sign(&message).to_bytes())
    }

    fn verifier(key: &SigningKey) -> RequestVerifier {
        RequestVerifier::from_hex(&hex::encode(key.verifying_key().to_bytes())).unwrap()
    }

    #[test]
    fn accepts_the_signed_request_and_refuses_every_change() {
        let signer = key(7);
        let verifier = verifier(&signer);
        let body = br#"{"type":1}"#;
        let ts = NOW.to_string();
        let signature = sign(&signer, &ts, body);
        assert_eq!(
            verifier.verify(Some(&signature), Some(&ts), body, NOW),
            Ok(())
        );
        // Changed body, changed timestamp, another key, garbage, missing headers.
        assert_eq!(
            verifier.verify(Some(&signature), Some(&ts), br#"{"type":2}"#, NOW),
            Err(VerifyError::BadSignature)
        );
        let later = (NOW + 1).to_string();
        assert_eq!(
            verifier.verify(Some(&signature), Some(&later), body, NOW),
            Err(VerifyError::BadSignature)
        );
        let forged = sign(&key(8), &ts, body);
        assert_eq!(
            verifier.verify(Some(&forged), Some(&ts), body, NOW),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verifier.verify(Some("zz"), Some(&ts), body, NOW),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verifier.verify(None, Some(&ts), body, NOW),
            Err(VerifyError::MissingHeader("X-Signature-Ed25519"))
        );
        assert_eq!(
            verifier.verify(Some(&signature), None, body, NOW),
            Err(VerifyError::MissingHeader("X-Signature-Timestamp"))
        );
    }

    #[test]
    fn refuses_replays_outside_the_window() {
        let signer = key(9);
        let verifier = verifier(&signer).with_max_skew(Duration::from_secs(60));
        let body = b"{}";
        let old = (NOW - 61).to_string();
        let signature = sign(&signer, &old, body);
        assert_eq!(
            verifier.verify(Some(&signature), Some(&old), body, NOW),
            Err(VerifyError::StaleTimestamp {
                skew_secs: 61,
                max_secs: 60
            })
        );
        assert_eq!(
            verifier.verify(Some(&signature), Some(&old), body, NOW - 30),
            Ok(())
        );
        let words = "yesterday";
        let signature = sign(&signer, words, body);
        assert_eq!(
            verifier.verify(Some(&signature), Some(words), body, NOW),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn bad_public_keys_are_explained() {
        assert!(
            RequestVerifier::from_hex("abc")
                .unwrap_err()
                .to_string()
                .contains("64 hex")
        );
        assert!(RequestVerifier::from_hex(&"zz".repeat(32)).is_err());
    }
}

//! Why a Discord REST call failed, classified the way the outbox needs it: worth
//! retrying (429 with Discord's `retry_after`, 5xx, network) or not (404 unknown
//! channel/message/webhook, other 4xx).
//!
//! An interaction token sits in the URL path (`/webhooks/APP/TOKEN/…`,
//! `/interactions/ID/TOKEN/callback`) and HTTP client errors quote the URL, so every
//! transport error is built through [`RestError::transport`], which replaces the token with
//! `[redacted]`: the outbox's error column, logs and replies never see it.

use std::time::Duration;

use serde::Deserialize;

/// A failed REST call. Never contains the token.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RestError {
    /// 429: `retry_after` from the JSON body (seconds) or the `Retry-After` header.
    #[error("rate limited by Discord (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Discord answered {status}: {message}")]
    Server { status: u16, message: String },
    /// 404: unknown channel, message, interaction or webhook (`code` is Discord's).
    #[error("not found on Discord (code {code:?}): {message}")]
    NotFound { code: Option<i64>, message: String },
    /// Another 4xx: the request itself is wrong (or the bot lacks a permission).
    #[error("Discord refused the request ({status}, code {code:?}): {message}")]
    Rejected {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    #[error("cannot reach Discord: {0}")]
    Transport(String),
    #[error("unexpected answer from Discord: {0}")]
    Decode(String),
    #[error("`{0}` is not a Discord id")]
    BadId(String),
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    retry_after: Option<f64>,
}

/// Path segments that are followed by an id and then a token.
const TOKEN_PATHS: &[&str] = &["/webhooks/", "/interactions/"];

/// `text` with the token after `/webhooks/ID/` and `/interactions/ID/` replaced by
/// `[redacted]` (the id stays: it identifies the application or interaction, not a secret).
pub fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, prefix)) = TOKEN_PATHS
        .iter()
        .filter_map(|p| rest.find(p).map(|at| (at, *p)))
        .min_by_key(|(at, _)| *at)
    {
        let after_prefix = at + prefix.len();
        out.push_str(&rest[..after_prefix]);
        rest = &rest[after_prefix..];
        let id_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if id_len == 0 || rest.as_bytes().get(id_len) != Some(&b'/') {
            continue;
        }
        out.push_str(&rest[..=id_len]);
        rest = &rest[id_len + 1..];
        let token_len = rest
            .find(['/', '?', '#', ')', '"', '\'', ' ', '>'])
            .unwrap_or(rest.len());
        if token_len > 0 {
            out.push_str("[redacted]");
        }
        rest = &rest[token_len..];
    }
    out.push_str(rest);
    out
}

impl RestError {
    /// A network or client error, with any interaction token in its text redacted.
    pub fn transport(error: &dyn std::fmt::Display) -> Self {
        RestError::Transport(redact_tokens(&error.to_string()))
    }

    /// Whether trying again later can succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            RestError::RateLimited { .. } | RestError::Server { .. } | RestError::Transport(_)
        )
    }

    /// How long Discord asked to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RestError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Classifies a non-2xx answer.
    pub fn from_response(status: u16, retry_after_header: Option<&str>, body: &[u8]) -> Self {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let seconds = |s: f64| (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
        let message = parsed
            .message
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        match status {
            429 => RestError::RateLimited {
                retry_after: parsed.retry_after.and_then(seconds).or_else(|| {
                    retry_after_header
                        .and_then(|h| h.trim().parse::<f64>().ok())
                        .and_then(seconds)
                }),
            },
            500..=599 => RestError::Server { status, message },
            404 => RestError::NotFound {
                code: parsed.code,
                message,
            },
            _ => RestError::Rejected {
                status,
                code: parsed.code,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_discord_errors() {
        let limited = RestError::from_response(
            429,
            Some("3"),
            br#"{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}"#,
        );
        assert_eq!(limited.retry_after(), Some(Duration::from_millis(250)));
        assert!(limited.is_temporary());
        let header_only = RestError::from_response(429, Some("2"), b"");
        assert_eq!(header_only.retry_after(), Some(Duration::from_secs(2)));
        assert!(RestError::from_response(502, None, b"bad gateway").is_temporary());
        let missing = RestError::from_response(
            404,
            None,
            br#"{"message": "Unknown Channel", "code": 10003}"#,
        );
        assert_eq!(
            missing,
            RestError::NotFound {
                code: Some(10003),
                message: "Unknown Channel".into()
            }
        );
        assert!(!missing.is_temporary());
        assert!(!RestError::from_response(403, None, b"{}").is_temporary());
    }

    #[test]
    fn interaction_tokens_are_redacted_from_transport_errors() {
        let error = RestError::transport(
            &"error sending request for url (https://discord.com/api/v10/webhooks/1234/aW50ZXJhY3Rpb24.tok-en_x/messages/@original)",
        );
        assert_eq!(
            error.to_string(),
            "cannot reach Discord: error sending request for url (https://discord.com/api/v10/webhooks/1234/[redacted]/messages/@original)"
        );
        assert_eq!(
            redact_tokens("POST /api/v10/interactions/99/s3cret/callback and /webhooks/7/t0k"),
            "POST /api/v10/interactions/99/[redacted]/callback and /webhooks/7/[redacted]"
        );
        // Paths without a token stay as they are.
        assert_eq!(
            redact_tokens("/api/v10/channels/5/messages /webhooks/abc"),
            "/api/v10/channels/5/messages /webhooks/abc"
        );
    }
}

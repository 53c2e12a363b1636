//! [`LlmError`]: why a chat completion gave no usable answer.

use std::time::Duration;

/// Why a chat completion failed. Each says what happened in a sentence fit for a chat
/// thread (no secret: the API key is never part of one).
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The endpoint could not be reached (connection refused, DNS, TLS).
    #[error("the model endpoint {endpoint} is unreachable: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// The endpoint answered with an error status.
    #[error("the model endpoint answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// No complete answer within the configured timeout.
    #[error("the model did not answer within {}s", .0.as_secs_f64())]
    Timeout(Duration),
    /// A streamed chunk was not the documented JSON, or the stream broke off.
    #[error("the model sent a malformed answer: {0}")]
    Malformed(String),
    /// The answer grew beyond the configured limit without ending.
    #[error("the model's answer did not end (over {0} bytes)")]
    Endless(usize),
    /// The client could not be built (its TLS backend).
    #[error("cannot build the model client: {0}")]
    Setup(String),
}

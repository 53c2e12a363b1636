//! Plain words for why a probe got no answer: `connection refused`, `timed out after 5s`,
//! `cannot resolve host`, instead of a client library's error chain.

use std::{error::Error as _, time::Duration};

/// `timed out after 5s`.
pub(crate) fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}

/// Describes a failed request in operator words.
pub(crate) fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return timed_out(timeout);
    }
    let mut innermost = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::TimedOut => return timed_out(timeout),
                _ => {}
            }
        }
        innermost = cause.to_string();
        source = cause.source();
    }
    let lowered = innermost.to_ascii_lowercase();
    if lowered.contains("connection refused") {
        "connection refused".into()
    } else if lowered.contains("dns error")
        || lowered.contains("failed to lookup address")
        || lowered.contains("name or service not known")
    {
        match error.url().and_then(|url| url.host_str()) {
            Some(host) => format!("cannot resolve host {host}"),
            None => format!("cannot resolve host: {innermost}"),
        }
    } else if error.is_connect() {
        format!("cannot connect: {innermost}")
    } else if error.is_builder() {
        format!("bad URL: {innermost}")
    } else {
        format!("request failed: {innermost}")
    }
}

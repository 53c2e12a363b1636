//! A unit's journal through systemd-journal-gatewayd's HTTP API: what `journalctl -u UNIT
//! -n N` prints on the unit's host, read from `GET /entries?_SYSTEMD_UNIT=UNIT` with
//! `Accept: application/json` (one entry per line, the Journal JSON Format) and
//! `Range: entries=cursor[[:num_skip]:num_entries]`
//! (systemd-journal-gatewayd.service(8)).
//!
//! The last N entries: without a cursor a negative `num_skip` counts back from the tail.
//! gatewayd (systemd 252) lands one entry before the N-th from the end, so the range asks
//! for N+1 entries from N back and drops the first when N+1 come; a gatewayd that lands
//! on the N-th sends only N, all kept. `--since` drops the older entries of those (the
//! API of systemd 252 has no time filter) and `--grep` keeps lines containing the text,
//! as `kubectl logs --tail N | grep` does for Kubernetes targets.
//!
//! Over `https://` the gateway's certificate is checked against the configured CA (its
//! `--cert`), and a client certificate is presented when configured (its `--trust`).

use std::{path::Path, time::Duration};

use opsbot_commands::context::{LogChunk, LogQuery, RuntimeError};
use serde_json::Value;

use crate::settings::JournalTls;

/// The HTTP client for gateways, with the configured TLS material.
pub fn client(tls: &JournalTls, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("opsbot/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &tls.ca_file {
        let pem = read(ca, "journal_ca")?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("journal_ca {}: not a PEM certificate: {e}", ca.display()))?
        {
            builder = builder.add_root_certificate(certificate);
        }
    }
    match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert, "journal_client_cert")?;
            pem.push(b'\n');
            pem.extend(read(key, "journal_client_key")?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                format!(
                    "journal_client_cert {} / journal_client_key {}: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => {
            return Err(
                "journal_client_cert and journal_client_key go together: set both or neither"
                    .into(),
            );
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the journal client: {e}"))
}

fn read(path: &Path, key: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{key} {}: {e}", path.display()))
}

/// The last `query.tail` entries of `unit` from the gateway at `base`, as one chunk.
pub async fn read_unit(
    client: &reqwest::Client,
    base: &str,
    unit: &str,
    query: &LogQuery,
) -> Result<Vec<LogChunk>, RuntimeError> {
    let base = base.trim_end_matches('/');
    let what = format!("systemd-journal-gatewayd at {base}");
    let tail = u64::from(query.tail.max(1));
    let response = client
        .get(format!("{base}/entries"))
        .query(&[("_SYSTEMD_UNIT", unit)])
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            reqwest::header::RANGE,
            format!("entries=:-{tail}:{}", tail + 1),
        )
        .send()
        .await
        .map_err(|e| unreachable(&what, unit, &e))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| unreachable(&what, unit, &e))?;
    if !status.is_success() {
        return Err(RuntimeError::Failed(format!(
            "{what} answered {status} to the journal of {unit}: {}",
            body.trim().chars().take(300).collect::<String>()
        )));
    }
    let mut entries = body
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str::<Value>(line).map_err(|e| {
                RuntimeError::Failed(format!(
                    "{what} sent a journal entry that is not JSON ({e}); is it a systemd-journal-gatewayd?"
                ))
            })
        })
        .collect::<Result<Vec<Value>, _>>()?;
    if entries.len() as u64 > tail {
        entries.remove(0);
    }
    let since = query
        .since
        .and_then(|since| jiff::SignedDuration::try_from(since).ok())
        .map(|since| jiff::Timestamp::now() - since);
    let lines = entries
        .iter()
        .filter(|entry| since.is_none_or(|since| realtime(entry).is_none_or(|at| at >= since)))
        .map(line)
        .filter(|line| query.grep.as_deref().is_none_or(|grep| line.contains(grep)))
        .collect();
    Ok(vec![LogChunk {
        source: format!("journal/{unit}"),
        lines,
    }])
}

fn unreachable(what: &str, unit: &str, error: &reqwest::Error) -> RuntimeError {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason = cause.to_string();
        source = cause.source();
    }
    let reason = if error.is_timeout() {
        "no answer in time".to_string()
    } else {
        reason
    };
    RuntimeError::Unreachable {
        what: what.to_string(),
        reason: format!("{reason}; read `journalctl -u {unit}` on its host meanwhile"),
    }
}

/// When the entry was written (`__REALTIME_TIMESTAMP`, microseconds since the epoch).
fn realtime(entry: &Value) -> Option<jiff::Timestamp> {
    let micros: i64 = field(entry, "__REALTIME_TIMESTAMP")?.parse().ok()?;
    jiff::Timestamp::from_microsecond(micros).ok()
}

/// `2026-12-07T06:06:06Z ollama[1234]: message`, like `journalctl -o short-iso` without
/// the host name.
fn line(entry: &Value) -> String {
    let at = realtime(entry)
        .map(|at| at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".to_string());
    let identifier = field(entry, "SYSLOG_IDENTIFIER")
        .or_else(|| field(entry, "_COMM"))
        .unwrap_or_else(|| "?".to_string());
    let pid = field(entry, "SYSLOG_PID")
        .or_else(|| field(entry, "_PID"))
        .map(|pid| format!("[{pid}]"))
        .unwrap_or_default();
    let message = match entry.get("MESSAGE") {
        Some(Value::Null) => "[message too large for the gateway to send]".to_string(),
        None => String::new(),
        Some(_) => field(entry, "MESSAGE").unwrap_or_default(),
    };
    format!("{at} {identifier}{pid}: {message}")
}

/// A field as text. The Journal JSON Format writes a value as a string, as an array of
/// byte values when it is not valid UTF-8 (shown lossily), and a field present more than
/// once as an array of those (joined by spaces).
fn field(entry: &Value, name: &str) -> Option<String> {
    fn text(value: &Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Array(items) if items.iter().all(Value::is_u64) => {
                let bytes: Vec<u8> = items
                    .iter()
                    .filter_map(Value::as_u64)
                    .map(|b| u8::try_from(b).unwrap_or(b'?'))
                    .collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => None,
        }
    }
    match entry.get(name)? {
        Value::Array(items) if !items.iter().all(Value::is_u64) => {
            let parts: Vec<String> = items.iter().filter_map(text).collect();
            Some(parts.join(" "))
        }
        value => text(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_render_like_short_iso() {
        let entry = json!({"__REALTIME_TIMESTAMP": "1765087566000000",
            "SYSLOG_IDENTIFIER": "ollama", "_PID": "42", "MESSAGE": "listening on 11434"});
        assert_eq!(
            line(&entry),
            "2025-12-07T06:06:06Z ollama[42]: listening on 11434"
        );
        let binary = json!({"_COMM": "ollama", "MESSAGE": [104, 105, 255]});
        assert_eq!(line(&binary), "- ollama: hi\u{fffd}");
        let twice = json!({"SYSLOG_IDENTIFIER": ["a", "b"], "MESSAGE": null});
        assert_eq!(
            line(&twice),
            "- a b: [message too large for the gateway to send]"
        );
    }
}

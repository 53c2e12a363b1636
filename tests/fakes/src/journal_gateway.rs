//! A fake systemd-journal-gatewayd, written from systemd-journal-gatewayd.service(8):
//!
//! * `GET /entries[?KEY=match&…]`: the journal's entries, oldest first. `Accept:
//!   application/json` gives one Journal JSON Format object per line; anything else the
//!   `text/plain` default (`Mon DD HH:MM:SS host ident[pid]: message`). Matches on
//!   different fields must all hold, several on one field are alternatives (sd-journal's
//!   rule); `boot` keeps the current boot's entries;
//! * `Range: entries=cursor[[:num_skip]:num_entries]`: from the entry with that
//!   `__CURSOR` (the first when empty) skip `num_skip` (negative: back), then at most
//!   `num_entries`. Without a cursor a negative skip counts from the tail the way
//!   systemd 252's gatewayd does it (checked against the real one): `:-N` lands on the
//!   entry N before the last. A malformed header is `400 Bad Request`;
//! * `GET /machine`: the machine's JSON description.
//!
//! Every request is logged (`path?query`, `Accept`, `Range`) for assertions.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

/// The boot every seeded entry belongs to unless told otherwise.
pub const BOOT_ID: &str = "3d3c9efaf556496a9b04259ee35df7f7";

/// One request as the gateway saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRequest {
    /// `/entries?_SYSTEMD_UNIT=ollama.service`
    pub target: String,
    pub accept: Option<String>,
    pub range: Option<String>,
}

#[derive(Default)]
struct Journal {
    /// Entries as JSON objects of string fields, oldest first.
    entries: Vec<Map<String, Value>>,
    requests: Vec<GatewayRequest>,
}

/// A running fake gateway on 127.0.0.1.
pub struct FakeJournalGateway {
    pub url: String,
    journal: Arc<Mutex<Journal>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeJournalGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeJournalGateway {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let journal = Arc::new(Mutex::new(Journal::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(journal.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{address}"),
            journal,
            task,
        }
    }

    /// Appends an entry of `unit` written by `identifier` (pid 4242) `seconds_ago`.
    pub fn log(&self, unit: &str, identifier: &str, seconds_ago: i64, message: &str) {
        let at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds_ago);
        let mut fields = Map::new();
        for (key, value) in [
            ("_SYSTEMD_UNIT", unit),
            ("SYSLOG_IDENTIFIER", identifier),
            ("_PID", "4242"),
            ("_HOSTNAME", "aiops"),
            ("_BOOT_ID", BOOT_ID),
            ("PRIORITY", "6"),
            ("MESSAGE", message),
        ] {
            fields.insert(key.into(), json!(value));
        }
        fields.insert(
            "__REALTIME_TIMESTAMP".into(),
            json!(at.as_microsecond().to_string()),
        );
        self.push(fields);
    }

    /// Appends an entry with exactly these fields (cursor and timestamps added when absent).
    pub fn push(&self, mut fields: Map<String, Value>) {
        let mut journal = self.journal.lock().unwrap();
        let seq = journal.entries.len() + 1;
        fields
            .entry("__CURSOR")
            .or_insert_with(|| json!(format!("s=fake;i={seq:x};b={BOOT_ID}")));
        fields
            .entry("__MONOTONIC_TIMESTAMP")
            .or_insert_with(|| json!((seq * 1_000).to_string()));
        fields
            .entry("__REALTIME_TIMESTAMP")
            .or_insert_with(|| json!(jiff::Timestamp::now().as_microsecond().to_string()));
        journal.entries.push(fields);
    }

    pub fn requests(&self) -> Vec<GatewayRequest> {
        self.journal.lock().unwrap().requests.clone()
    }
}

async fn handle(
    State(journal): State<Arc<Mutex<Journal>>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let accept = header_text(header::ACCEPT);
    let range = header_text(header::RANGE);
    let mut journal = journal.lock().unwrap();
    journal.requests.push(GatewayRequest {
        target: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        accept: accept.clone(),
        range: range.clone(),
    });
    match uri.path() {
        "/machine" => (
            [(header::CONTENT_TYPE, "application/json")],
            json!({"machine_id": "8cf7ed9d451ea194b77a9f118f3dc446", "boot_id": BOOT_ID,
                   "hostname": "aiops", "os_pretty_name": "Debian GNU/Linux 12 (bookworm)",
                   "virtualization": "kvm"})
            .to_string(),
        )
            .into_response(),
        "/entries" => entries(&journal, uri.query().unwrap_or_default(), accept, range),
        _ => (StatusCode::NOT_FOUND, "Not found.\n").into_response(),
    }
}

/// `entries=cursor[[:num_skip]:num_entries]`
struct Range {
    cursor: String,
    skip: i64,
    count: Option<u64>,
}

fn parse_range(header: &str) -> Option<Range> {
    let spec = header.strip_prefix("entries=")?;
    let mut parts = spec.split(':');
    let cursor = parts.next()?.to_string();
    let rest: Vec<&str> = parts.collect();
    let (skip, count) = match rest.as_slice() {
        [] => (0, None),
        [count] => (0, Some(count.parse().ok()?)),
        [skip, count] => (skip.parse().ok()?, Some(count.parse().ok()?)),
        _ => return None,
    };
    Some(Range {
        cursor,
        skip,
        count,
    })
}

fn entries(
    journal: &Journal,
    query: &str,
    accept: Option<String>,
    range: Option<String>,
) -> Response {
    let range = match range.as_deref().map(parse_range) {
        None => Range {
            cursor: String::new(),
            skip: 0,
            count: None,
        },
        Some(Some(range)) => range,
        Some(None) => {
            return (StatusCode::BAD_REQUEST, "Failed to parse Range header.\n").into_response();
        }
    };
    // KEY=match pairs; `boot` is the current boot; `follow` and `discrete` are not served.
    let mut matches: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((key, value)) => matches.push((decode(key), decode(value))),
            None if pair == "boot" => matches.push(("_BOOT_ID".into(), BOOT_ID.into())),
            None => {}
        }
    }
    let selected: Vec<&Map<String, Value>> = journal
        .entries
        .iter()
        .filter(|entry| {
            let mut keys: Vec<&String> = matches.iter().map(|(k, _)| k).collect();
            keys.dedup();
            keys.iter().all(|key| {
                matches
                    .iter()
                    .filter(|(k, _)| k == *key)
                    .any(|(_, value)| entry.get(key.as_str()) == Some(&json!(value)))
            })
        })
        .collect();
    let start = if range.cursor.is_empty() {
        if range.skip < 0 {
            (selected.len() as i64 - 1 + range.skip).max(0)
        } else {
            range.skip
        }
    } else {
        match selected
            .iter()
            .position(|e| e.get("__CURSOR") == Some(&json!(range.cursor)))
        {
            Some(at) => (at as i64 + range.skip).max(0),
            None => {
                return (StatusCode::BAD_REQUEST, "Failed to seek to cursor.\n").into_response();
            }
        }
    };
    let count = range.count.map_or(usize::MAX, |c| c as usize);
    let chosen = selected
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(count);
    let json = accept
        .as_deref()
        .is_some_and(|a| a.contains("application/json"));
    let body: String = chosen
        .map(|entry| {
            if json {
                format!("{}\n", Value::Object((*entry).clone()))
            } else {
                format!("{}\n", short(entry))
            }
        })
        .collect();
    let content_type = if json {
        "application/json"
    } else {
        "text/plain"
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

/// `journalctl --output short`.
fn short(entry: &Map<String, Value>) -> String {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
    let at = text("__REALTIME_TIMESTAMP")
        .parse::<i64>()
        .ok()
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .map(|at| at.strftime("%b %d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{at} {} {}[{}]: {}",
        text("_HOSTNAME"),
        text("SYSLOG_IDENTIFIER"),
        text("_PID"),
        text("MESSAGE")
    )
}

/// `%XX` and `+` in a query, as a URL decoder reads them.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

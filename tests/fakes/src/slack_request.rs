//! Requests as Slack sends them to an app, for driving opsbot's Slack endpoints in tests:
//! signed with the app's signing secret the way Slack's documentation describes
//! (https://api.slack.com/authentication/verifying-requests-from-slack, computed here
//! with `hmac`/`sha2`, not with opsbot's verifier), slash-command forms and block-action
//! payloads. Every test crate that posts to `/slack/*` builds its requests here.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::{body::Body, http::Request};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::slack::PostedMessage;

/// Seconds since the Unix epoch: the `X-Slack-Request-Timestamp` of a fresh request.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Slack's `v0=` signature of `body` sent at `timestamp`.
pub fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// A POST to `path` with `headers`; JSON for the Events API and alert endpoints, a form
/// for slash commands and interactions, as Slack and Alertmanager send them.
pub fn request(path: &str, body: &str, headers: &[(&str, String)]) -> Request<Body> {
    let content_type = if path == "/slack/events" || path.starts_with("/alerts") {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let mut builder = Request::post(path).header("content-type", content_type);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("a valid request")
}

/// `body` to `path`, signed with `secret` at `timestamp`.
pub fn signed_at(secret: &str, path: &str, body: &str, timestamp: i64) -> Request<Body> {
    request(
        path,
        body,
        &[
            ("x-slack-request-timestamp", timestamp.to_string()),
            (
                "x-slack-signature",
                slack_signature(secret, timestamp, body),
            ),
        ],
    )
}

/// `body` to `path`, signed with `secret` now.
pub fn signed(secret: &str, path: &str, body: &str) -> Request<Body> {
    signed_at(secret, path, body, now())
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// A number not used before in this process: trigger ids and action timestamps differ
/// per request, so opsbot's replay guard never mistakes two presses for one.
pub fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The form Slack posts for a slash command
/// (https://api.slack.com/interactivity/slash-commands#app_command_handling).
pub fn slash_body(
    user: &str,
    channel: &str,
    command: &str,
    text: &str,
    response_url: &str,
) -> String {
    let trigger = format!("{}.47445629121.803a0bc887a14d10d2c447fce8b6703c", next_id());
    form(&[
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", "T0001"),
        ("team_domain", "example"),
        ("channel_id", channel),
        ("channel_name", "ops"),
        ("user_id", user),
        ("user_name", &user.to_lowercase()),
        ("command", command),
        ("text", text),
        ("api_app_id", "A0OPSBOT"),
        ("response_url", response_url),
        ("trigger_id", &trigger),
    ])
}

/// The form Slack posts when `user` presses the button whose value is `value` on
/// `message` (https://api.slack.com/reference/interaction-payloads/block-actions).
pub fn button_body(user: &str, message: &PostedMessage, value: &str, response_url: &str) -> String {
    let mut posted =
        json!({"type": "message", "ts": message.ts, "text": message.text(), "bot_id": "B0FAKE"});
    if let Some(thread) = &message.thread_ts {
        posted["thread_ts"] = json!(thread);
    }
    let id = next_id();
    let payload = json!({
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0001"},
        "api_app_id": "A0OPSBOT",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
        "trigger_id": format!("{id}.47445629121.e1b9"),
        "channel": {"id": message.channel, "name": "ops"},
        "message": posted,
        "response_url": response_url,
        "actions": [{
            "type": "button", "action_id": "opsbot:0", "block_id": "b0",
            "text": {"type": "plain_text", "text": "press"},
            "value": value, "action_ts": format!("1700000100.{id:06}")
        }]
    });
    form(&[("payload", &payload.to_string())])
}

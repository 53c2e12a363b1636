//! A fake Slack Web API on `127.0.0.1:0` (plain HTTP), written from Slack's method
//! documentation (https://api.slack.com/methods): `chat.postMessage`,
//! `chat.postEphemeral`, `chat.update`, `usergroups.users.list`,
//! `conversations.history`/`.replies`, `apps.connections.open`, and the file upload flow
//! (https://api.slack.com/messaging/files#uploading_files: `files.getUploadURLExternal`
//! hands out an upload URL on the fake, `/upload/FILE` takes the bytes,
//! `files.completeUploadExternal` shares the files in a channel or thread), each method
//! under `/api/METHOD`.
//!
//! Response URLs (https://api.slack.com/interactivity/handling#message_responses):
//! [`FakeSlack::response_url`] hands out `/response/ID` for a channel and user, to put in
//! the slash commands and button payloads a test signs. A JSON post there (no token)
//! becomes a message in that channel (`response_type: in_channel`) or one only that user
//! sees (`ephemeral`, Slack's default), in the thread of `thread_ts` when given; each URL
//! takes five posts, then answers 404 `used_url`, and one made to expire answers 404
//! `expired_url`. Those posts are not chat calls: the rate mode and [`FakeSlack::fail_next`]
//! leave them alone; [`FakeSlack::fail_next_responses`] makes them fail.
//!
//! Rate mode ([`FakeSlack::limit_channel_rate`]): `chat.postMessage` and `chat.update`
//! are taken at most once per second per channel, the rest answered HTTP 429 with
//! `Retry-After: 1`, as Slack limits posting; [`FakeSlack::hold_channel`] answers a
//! channel's next call 429 with a longer `Retry-After` and refuses every call on it
//! until that has passed. [`FakeSlack::duplicate_posts`] counts posts identical to an
//! earlier one in the same thread (what a bot posting one message twice leaves).
//!
//! Like Slack it checks the bearer token (`invalid_auth`, or `not_allowed_token_type`
//! for a bot token on `apps.connections.open`), answers HTTP 200 with `{"ok": false,
//! "error": …}` for refused calls (`channel_not_found` for a channel made missing), and
//! can be told to answer the next N chat calls with HTTP 429 and `Retry-After`, or with
//! HTTP 500. Messages are kept per channel with their `ts` (`1700000000.000001`, …),
//! thread and every edit. `apps.connections.open` hands out the URL of the Socket Mode
//! websocket of [`crate::slack_socket::FakeSocketMode`] when one is attached.

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A message as the fake holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
    /// The root's `ts` when posted in a thread.
    pub thread_ts: Option<String>,
    /// For `chat.postEphemeral`: the only user who sees it.
    pub only_user: Option<String>,
    /// The request body as posted (text, attachments, blocks, …), the newest edit's
    /// after `chat.update`.
    pub body: Value,
    /// Every earlier version, oldest first.
    pub edits: Vec<Value>,
    /// The response URL it was posted through (`None`: a Web API method).
    pub response_url: Option<String>,
    /// When the fake took it.
    pub posted_at: Instant,
}

impl PostedMessage {
    /// The fallback `text`.
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }

    /// The whole body as a string (to look for a word anywhere in it).
    pub fn content(&self) -> String {
        self.body.to_string()
    }

    /// The `value`s of every button in the message (the command text each press runs).
    /// The value of the first button whose value starts with `prefix`; panics naming
    /// the message when there is none.
    pub fn button_value(&self, prefix: &str) -> String {
        self.button_values()
            .into_iter()
            .find(|v| v.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}…` button on {}", self.content()))
    }

    pub fn button_values(&self) -> Vec<String> {
        let mut values = Vec::new();
        collect_values(&self.body, &mut values);
        values
    }
}

fn collect_values(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("button")
                && let Some(v) = map.get("value").and_then(Value::as_str)
            {
                out.push(v.to_string());
            }
            map.values().for_each(|v| collect_values(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_values(v, out)),
        _ => {}
    }
}

/// How the next chat calls fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 429 with `Retry-After: SECONDS` and `{"ok": false, "error": "ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500.
    ServerError,
}

/// A response URL handed out.
#[derive(Clone, Debug)]
struct ResponseTarget {
    /// `http://127.0.0.1:PORT`
    base: String,
    channel: String,
    user: String,
    uses: usize,
    expired: bool,
}

/// How many posts a response URL takes.
pub const RESPONSE_URL_USES: usize = 5;

/// A file as `files.getUploadURLExternal` announced it and the upload URL received it.
#[derive(Clone, Debug, PartialEq)]
pub struct UploadedFile {
    pub id: String,
    pub filename: String,
    /// The length announced to `files.getUploadURLExternal`.
    pub length: usize,
    /// The bytes posted to the upload URL (`None`: not yet).
    pub bytes: Option<Vec<u8>>,
    /// Set by `files.completeUploadExternal`.
    pub title: Option<String>,
    /// Where `files.completeUploadExternal` shared it.
    pub channel: Option<String>,
    pub thread_ts: Option<String>,
}

/// One chat call taken in rate mode: when, on which channel, what it did.
#[derive(Clone, Debug)]
pub struct TakenCall {
    pub at: Instant,
    pub channel: String,
    pub method: String,
    /// `thread_ts` of a reply, `ts` of an edit.
    pub thread: Option<String>,
    /// The start of the text.
    pub text: String,
}

/// Calls of one channel in rate mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelCalls {
    pub taken: usize,
    pub refused: usize,
    last: Option<Instant>,
    /// A 429 asked the caller to stay away until then ([`FakeSlack::hold_channel`]).
    held_until: Option<Instant>,
    /// The next call is answered 429 with `Retry-After` of this many seconds.
    hold_next_secs: Option<u64>,
}

#[derive(Default)]
struct Inner {
    messages: Vec<PostedMessage>,
    next_ts: u64,
    failures: Vec<Failure>,
    /// Every call by method, refused ones included.
    calls: HashMap<String, usize>,
    /// Chat calls taken in rate mode, in order.
    call_log: Vec<TakenCall>,
    missing_channels: BTreeSet<String>,
    /// `#name` → channel id.
    channel_names: HashMap<String, String>,
    usergroups: HashMap<String, Vec<String>>,
    socket_url: Option<String>,
    /// How long a chat call waits after it was taken before it answers.
    answer_delay: std::time::Duration,
    responses: HashMap<String, ResponseTarget>,
    next_id: u64,
    files: Vec<UploadedFile>,
    /// Rate mode: one `chat.postMessage`/`chat.update` per second per channel.
    channel_rate: bool,
    channel_calls: HashMap<String, ChannelCalls>,
    response_failures: Vec<Failure>,
}

#[derive(Clone)]
struct Shared {
    bot_token: String,
    app_token: String,
    inner: Arc<Mutex<Inner>>,
}

/// The running fake.
pub struct FakeSlack {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl FakeSlack {
    /// Starts the fake; calls must carry `Authorization: Bearer BOT_TOKEN`
    /// (`apps.connections.open`: `APP_TOKEN`).
    pub async fn start(bot_token: &str, app_token: &str) -> FakeSlack {
        let shared = Shared {
            bot_token: bot_token.to_string(),
            app_token: app_token.to_string(),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let router = Router::new()
            .route("/api/usergroups.users.list", get(usergroups_users_list))
            .route("/api/conversations.history", get(conversations_history))
            .route("/api/conversations.list", get(conversations_list))
            .route("/api/conversations.replies", get(conversations_replies))
            .route(
                "/api/files.getUploadURLExternal",
                get(files_get_upload_url_external),
            )
            .route("/api/{method}", post(method))
            .route("/response/{id}", post(response_url))
            .route("/upload/{id}", post(upload))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Slack");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeSlack { addr, shared, task }
    }

    /// The Web API base URL (`http://127.0.0.1:PORT/api`).
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The prefix of this fake's response URLs, for `[slack] response_url_prefix`.
    pub fn response_url_prefix(&self) -> String {
        format!("http://{}/response/", self.addr)
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every message posted so far (ephemeral ones included), in order.
    pub fn messages(&self) -> Vec<PostedMessage> {
        self.inner().messages.clone()
    }

    /// The messages of `channel`, in order.
    pub fn messages_in(&self, channel: &str) -> Vec<PostedMessage> {
        self.messages()
            .into_iter()
            .filter(|m| m.channel == channel)
            .collect()
    }

    /// The replies in the thread of `root_ts`.
    pub fn thread(&self, root_ts: &str) -> Vec<PostedMessage> {
        self.messages()
            .into_iter()
            .filter(|m| m.thread_ts.as_deref() == Some(root_ts))
            .collect()
    }

    /// How often `method` was called (refused and failed calls included).
    pub fn calls(&self, method: &str) -> usize {
        self.inner().calls.get(method).copied().unwrap_or(0)
    }

    /// The next `count` chat calls (`chat.postMessage`, `chat.postEphemeral`,
    /// `chat.update`) fail with `failure`.
    pub fn fail_next(&self, count: usize, failure: Failure) {
        let mut inner = self.inner();
        inner.failures.extend(std::iter::repeat_n(failure, count));
    }

    /// Calls naming `channel` get `channel_not_found` from now on.
    pub fn remove_channel(&self, channel: &str) {
        self.inner().missing_channels.insert(channel.to_string());
    }

    /// `#name` is channel `id`: `chat.postMessage` accepts the name (and answers the id);
    /// `chat.update`, which Slack documents as taking an id, does not.
    pub fn name_channel(&self, name: &str, id: &str) {
        self.inner()
            .channel_names
            .insert(name.to_string(), id.to_string());
    }

    /// `usergroups.users.list?usergroup=GROUP` answers `users`.
    pub fn set_usergroup(&self, group: &str, users: &[&str]) {
        self.inner().usergroups.insert(
            group.to_string(),
            users.iter().map(|u| u.to_string()).collect(),
        );
    }

    /// Every chat call (and post to a response URL) is recorded at once but answered
    /// `delay` later (posts are in flight for that long).
    pub fn set_answer_delay(&self, delay: std::time::Duration) {
        self.inner().answer_delay = delay;
    }

    /// A handle on the recorded calls and messages that can move to another thread.
    pub fn clone_handle(&self) -> FakeSlackHandle {
        FakeSlackHandle {
            addr: self.addr,
            shared: self.shared.clone(),
        }
    }

    /// The websocket URL `apps.connections.open` hands out.
    pub fn set_socket_url(&self, url: &str) {
        self.inner().socket_url = Some(url.to_string());
    }

    /// A new response URL for a request by `user` in `channel`
    /// (`http://127.0.0.1:PORT/response/ID`).
    pub fn response_url(&self, channel: &str, user: &str) -> String {
        self.shared.new_response_url(self.addr, channel, user)
    }

    /// `url` (from [`FakeSlack::response_url`]) answers 404 `expired_url` from now on.
    pub fn expire_response_url(&self, url: &str) {
        let id = url.rsplit('/').next().unwrap_or_default();
        if let Some(target) = self.inner().responses.get_mut(id) {
            target.expired = true;
        }
    }

    /// The next `count` posts to response URLs fail with `failure` (not using them up).
    pub fn fail_next_responses(&self, count: usize, failure: Failure) {
        let mut inner = self.inner();
        inner
            .response_failures
            .extend(std::iter::repeat_n(failure, count));
    }

    /// Files announced, uploaded and shared, in order.
    pub fn files(&self) -> Vec<UploadedFile> {
        self.inner().files.clone()
    }

    /// Rate mode: at most one `chat.postMessage`/`chat.update` per second per channel,
    /// the rest answered 429 with `Retry-After: 1`.
    pub fn limit_channel_rate(&self) {
        self.inner().channel_rate = true;
    }

    /// Chat calls taken and refused per channel (rate mode).
    pub fn channel_calls(&self) -> HashMap<String, ChannelCalls> {
        self.inner().channel_calls.clone()
    }

    /// The chat calls taken in rate mode, in order.
    pub fn call_log(&self) -> Vec<TakenCall> {
        self.inner().call_log.clone()
    }

    /// Posts identical to an earlier one in the same thread (see
    /// [`FakeSlackHandle::duplicate_posts`]).
    pub fn duplicate_posts(&self) -> usize {
        self.clone_handle().duplicate_posts()
    }

    /// Rate mode: the next chat call on `channel` is answered 429 with `Retry-After:
    /// SECS`, and, as Slack does, every call on the channel in those seconds is refused
    /// too (counted in [`ChannelCalls::refused`]).
    pub fn hold_channel(&self, channel: &str, secs: u64) {
        self.inner()
            .channel_calls
            .entry(channel.to_string())
            .or_default()
            .hold_next_secs = Some(secs);
    }

    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads what a [`FakeSlack`] recorded, from any thread.
#[derive(Clone)]
pub struct FakeSlackHandle {
    addr: SocketAddr,
    shared: Shared,
}

impl FakeSlackHandle {
    /// How often `method` was called.
    pub fn calls(&self, method: &str) -> usize {
        self.shared.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// Every message posted so far.
    pub fn messages(&self) -> Vec<PostedMessage> {
        self.shared.lock().messages.clone()
    }

    /// Chat calls taken and refused per channel (rate mode).
    pub fn channel_calls(&self) -> HashMap<String, ChannelCalls> {
        self.shared.lock().channel_calls.clone()
    }

    /// The chat calls taken in rate mode, in order.
    pub fn call_log(&self) -> Vec<TakenCall> {
        self.shared.lock().call_log.clone()
    }

    /// See [`FakeSlack::response_url`].
    pub fn response_url(&self, channel: &str, user: &str) -> String {
        self.shared.new_response_url(self.addr, channel, user)
    }

    /// Posts identical to an earlier one in the same thread: the same channel, thread,
    /// audience and response URL, and the same body as first posted (text, blocks and
    /// metadata; opsbot tags every post, so a repeat of one outbox delivery is identical
    /// and two different messages are not). Edits are not posts.
    pub fn duplicate_posts(&self) -> usize {
        let inner = self.shared.lock();
        let mut seen = std::collections::HashSet::new();
        inner
            .messages
            .iter()
            .filter(|m| {
                let first_body = m.edits.first().unwrap_or(&m.body).to_string();
                !seen.insert((
                    m.channel.as_str(),
                    m.thread_ts.as_deref(),
                    m.only_user.as_deref(),
                    m.response_url.as_deref(),
                    first_body,
                ))
            })
            .count()
    }
}

fn slack_error(code: &str) -> Response {
    Json(json!({ "ok": false, "error": code })).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_response_url(&self, addr: SocketAddr, channel: &str, user: &str) -> String {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = format!("R{:06}", inner.next_id);
        inner.responses.insert(
            id.clone(),
            ResponseTarget {
                base: format!("http://{addr}"),
                channel: channel.to_string(),
                user: user.to_string(),
                uses: 0,
                expired: false,
            },
        );
        format!("http://{addr}/response/{id}")
    }

    fn count(&self, method: &str) {
        *self.lock().calls.entry(method.to_string()).or_default() += 1;
    }
}

async fn usergroups_users_list(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared.count("usergroups.users.list");
    if bearer(&headers) != Some(shared.bot_token.as_str()) {
        return slack_error("invalid_auth");
    }
    let Some(group) = query.get("usergroup") else {
        return slack_error("invalid_arguments");
    };
    match shared.lock().usergroups.get(group) {
        Some(users) => Json(json!({ "ok": true, "users": users })).into_response(),
        None => slack_error("no_such_subteam"),
    }
}

/// A message as `conversations.history` and `conversations.replies` return it, with
/// its `metadata` (Slack returns the metadata an app posted to that app) and top-level
/// `blocks`.
fn history_entry(message: &PostedMessage) -> Value {
    let mut entry = json!({
        "type": "message",
        "ts": message.ts,
        "text": message.body["text"],
        "bot_id": "B0FAKE",
    });
    if let Some(thread_ts) = &message.thread_ts {
        entry["thread_ts"] = json!(thread_ts);
    }
    if !message.body["metadata"].is_null() {
        entry["metadata"] = message.body["metadata"].clone();
    }
    if !message.body["blocks"].is_null() {
        entry["blocks"] = message.body["blocks"].clone();
    }
    entry
}

fn limit(query: &HashMap<String, String>) -> usize {
    query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100)
        .min(1000)
}

/// `conversations.history`: the channel's messages outside threads, newest first.
async fn conversations_history(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared.count("conversations.history");
    if bearer(&headers) != Some(shared.bot_token.as_str()) {
        return slack_error("invalid_auth");
    }
    let Some(channel) = query.get("channel") else {
        return slack_error("channel_not_found");
    };
    let inner = shared.lock();
    let messages: Vec<Value> = inner
        .messages
        .iter()
        .rev()
        .filter(|m| &m.channel == channel && m.thread_ts.is_none() && m.only_user.is_none())
        .take(limit(&query))
        .map(history_entry)
        .collect();
    Json(json!({ "ok": true, "messages": messages, "has_more": false })).into_response()
}

/// `conversations.list`: the channels named with [`FakeSlack::name_channel`] (`name`
/// without its `#`, `id`, `created`, `is_channel`), one page.
async fn conversations_list(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    shared.count("conversations.list");
    if bearer(&headers) != Some(shared.bot_token.as_str()) {
        return slack_error("invalid_auth");
    }
    let inner = shared.lock();
    let mut channels: Vec<Value> = inner
        .channel_names
        .iter()
        .map(|(name, id)| {
            json!({
                "id": id,
                "name": name.trim_start_matches('#'),
                "created": 1_700_000_000,
                "is_channel": true,
            })
        })
        .collect();
    channels.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Json(json!({ "ok": true, "channels": channels, "response_metadata": { "next_cursor": "" } }))
        .into_response()
}

/// `conversations.replies`: the thread's parent, then its replies, oldest first.
async fn conversations_replies(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared.count("conversations.replies");
    if bearer(&headers) != Some(shared.bot_token.as_str()) {
        return slack_error("invalid_auth");
    }
    let (Some(channel), Some(ts)) = (query.get("channel"), query.get("ts")) else {
        return slack_error("invalid_arguments");
    };
    let inner = shared.lock();
    let messages: Vec<Value> = inner
        .messages
        .iter()
        .filter(|m| {
            &m.channel == channel
                && m.only_user.is_none()
                && (&m.ts == ts || m.thread_ts.as_ref() == Some(ts))
        })
        .take(limit(&query))
        .map(history_entry)
        .collect();
    if messages.is_empty() {
        return slack_error("thread_not_found");
    }
    Json(json!({ "ok": true, "messages": messages, "has_more": false })).into_response()
}

/// A Web API method: taken (recorded) at once, answered after the answer delay.
async fn method(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let delay = shared.lock().answer_delay;
    let response = take(&shared, name, &headers, &body);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

fn take(shared: &Shared, method: String, headers: &HeaderMap, body: &[u8]) -> Response {
    shared.count(&method);
    let token = bearer(headers);
    if method == "apps.connections.open" {
        if token == Some(shared.bot_token.as_str()) {
            return slack_error("not_allowed_token_type");
        }
        if token != Some(shared.app_token.as_str()) {
            return slack_error("invalid_auth");
        }
        return match shared.lock().socket_url.clone() {
            Some(url) => Json(json!({ "ok": true, "url": url })).into_response(),
            None => slack_error("internal_error"),
        };
    }
    if token != Some(shared.bot_token.as_str()) {
        return slack_error("invalid_auth");
    }
    if method == "files.completeUploadExternal" {
        return files_complete_upload_external(shared, body);
    }
    if !matches!(
        method.as_str(),
        "chat.postMessage" | "chat.postEphemeral" | "chat.update"
    ) {
        return slack_error("unknown_method");
    }
    let failure = {
        let mut inner = shared.lock();
        if inner.failures.is_empty() {
            None
        } else {
            Some(inner.failures.remove(0))
        }
    };
    match failure {
        Some(Failure::RateLimited { retry_after_secs }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response();
        }
        Some(Failure::ServerError) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response();
        }
        None => {}
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return slack_error("invalid_json");
    };
    let Some(mut channel) = body["channel"].as_str().map(str::to_string) else {
        return slack_error("channel_not_found");
    };
    let mut inner = shared.lock();
    if channel.starts_with('#') {
        match inner.channel_names.get(&channel) {
            Some(id) if method != "chat.update" => channel = id.clone(),
            _ => return slack_error("channel_not_found"),
        }
    }
    if inner.missing_channels.contains(&channel) {
        return slack_error("channel_not_found");
    }
    if inner.channel_rate && method != "chat.postEphemeral" {
        let now = Instant::now();
        let calls = inner.channel_calls.entry(channel.clone()).or_default();
        if let Some(secs) = calls.hold_next_secs.take() {
            calls.refused += 1;
            calls.held_until = Some(now + Duration::from_secs(secs));
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response();
        }
        if calls.held_until.is_some_and(|until| now < until)
            || calls
                .last
                .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            calls.refused += 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response();
        }
        calls.last = Some(now);
        calls.taken += 1;
        let thread = match method.as_str() {
            "chat.update" => body["ts"].as_str(),
            _ => body["thread_ts"].as_str(),
        };
        let call = TakenCall {
            at: now,
            channel: channel.clone(),
            method: method.clone(),
            thread: thread.map(str::to_string),
            text: body["text"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect(),
        };
        inner.call_log.push(call);
    }
    if body["text"].as_str().is_none() && body["blocks"].is_null() && body["attachments"].is_null()
    {
        return slack_error("no_text");
    }
    match method.as_str() {
        "chat.postMessage" | "chat.postEphemeral" => {
            inner.next_ts += 1;
            let ts = format!("1700000000.{:06}", inner.next_ts);
            let thread_ts = body["thread_ts"].as_str().map(str::to_string);
            let ephemeral = method == "chat.postEphemeral";
            let only_user = if ephemeral {
                match body["user"].as_str() {
                    Some(user) => Some(user.to_string()),
                    None => return slack_error("user_not_in_channel"),
                }
            } else {
                None
            };
            inner.messages.push(PostedMessage {
                channel: channel.clone(),
                ts: ts.clone(),
                thread_ts,
                only_user,
                body: body.clone(),
                edits: Vec::new(),
                response_url: None,
                posted_at: Instant::now(),
            });
            if ephemeral {
                Json(json!({ "ok": true, "message_ts": ts })).into_response()
            } else {
                Json(json!({
                    "ok": true,
                    "channel": channel,
                    "ts": ts,
                    "message": { "type": "message", "ts": ts, "text": body["text"], "bot_id": "B0FAKE" }
                }))
                .into_response()
            }
        }
        _ => {
            let Some(ts) = body["ts"].as_str() else {
                return slack_error("message_not_found");
            };
            let Some(message) = inner
                .messages
                .iter_mut()
                .find(|m| m.channel == channel && m.ts == ts && m.only_user.is_none())
            else {
                return slack_error("message_not_found");
            };
            // As Slack does, an update without `metadata` keeps the message's metadata.
            let mut body = body.clone();
            if body["metadata"].is_null() && !message.body["metadata"].is_null() {
                body["metadata"] = message.body["metadata"].clone();
            }
            let previous = std::mem::replace(&mut message.body, body.clone());
            message.edits.push(previous);
            Json(json!({
                "ok": true,
                "channel": channel,
                "ts": ts,
                "text": body["text"],
                "message": { "text": body["text"], "bot_id": "B0FAKE" }
            }))
            .into_response()
        }
    }
}

/// `files.getUploadURLExternal?filename=…&length=…`: a file id and where to post the
/// bytes.
async fn files_get_upload_url_external(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared.count("files.getUploadURLExternal");
    if bearer(&headers) != Some(shared.bot_token.as_str()) {
        return slack_error("invalid_auth");
    }
    let filename = query.get("filename").cloned().unwrap_or_default();
    let length = query.get("length").and_then(|l| l.parse::<usize>().ok());
    let (false, Some(length @ 1..)) = (filename.is_empty(), length) else {
        return slack_error("invalid_arguments");
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return slack_error("invalid_arguments");
    };
    let mut inner = shared.lock();
    inner.next_id += 1;
    let id = format!("F{:06}", inner.next_id);
    inner.files.push(UploadedFile {
        id: id.clone(),
        filename,
        length,
        bytes: None,
        title: None,
        channel: None,
        thread_ts: None,
    });
    Json(json!({ "ok": true, "upload_url": format!("http://{host}/upload/{id}"), "file_id": id }))
        .into_response()
}

/// The upload URL: takes the file's bytes (as many as announced).
async fn upload(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    shared.count("upload");
    let mut inner = shared.lock();
    let Some(file) = inner.files.iter_mut().find(|f| f.id == id) else {
        return (StatusCode::NOT_FOUND, "no such upload").into_response();
    };
    if body.len() != file.length {
        return (StatusCode::BAD_REQUEST, "length mismatch").into_response();
    }
    file.bytes = Some(body.to_vec());
    (StatusCode::OK, format!("OK - {}", body.len())).into_response()
}

/// `files.completeUploadExternal`: shares uploaded files in `channel_id` (in the thread
/// of `thread_ts`), as one message with `initial_comment` or `blocks`.
fn files_complete_upload_external(shared: &Shared, body: &[u8]) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return slack_error("invalid_json");
    };
    let Some(files) = body["files"].as_array().filter(|f| !f.is_empty()) else {
        return slack_error("invalid_arguments");
    };
    let channel = body["channel_id"].as_str().map(str::to_string);
    let thread_ts = body["thread_ts"].as_str().map(str::to_string);
    let mut inner = shared.lock();
    if let Some(channel) = &channel
        && (channel.starts_with('#') || inner.missing_channels.contains(channel))
    {
        return slack_error("channel_not_found");
    }
    let mut answered = Vec::new();
    for file in files {
        let id = file["id"].as_str().unwrap_or_default();
        let Some(known) = inner
            .files
            .iter_mut()
            .find(|f| f.id == id && f.bytes.is_some())
        else {
            return slack_error("file_not_found");
        };
        known.title = file["title"].as_str().map(str::to_string);
        known.channel = channel.clone();
        known.thread_ts = thread_ts.clone();
        answered.push(json!({ "id": id, "name": known.filename, "title": known.title }));
    }
    if let Some(channel) = channel {
        inner.next_ts += 1;
        let ts = format!("1700000000.{:06}", inner.next_ts);
        inner.messages.push(PostedMessage {
            channel,
            ts,
            thread_ts,
            only_user: None,
            body: json!({
                "text": body["initial_comment"].as_str().unwrap_or_default(),
                "blocks": body["blocks"],
                "files": answered,
            }),
            edits: Vec::new(),
            response_url: None,
            posted_at: Instant::now(),
        });
    }
    Json(json!({ "ok": true, "files": answered })).into_response()
}

fn response_error(code: &str) -> Response {
    (StatusCode::NOT_FOUND, code.to_string()).into_response()
}

/// A post to a response URL: a message in its channel, or for its user alone.
async fn response_url(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    shared.count("response_url");
    let delay = shared.lock().answer_delay;
    let response = take_response(&shared, &id, &body);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

fn take_response(shared: &Shared, id: &str, body: &[u8]) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    let mut inner = shared.lock();
    if !inner.response_failures.is_empty() {
        return match inner.response_failures.remove(0) {
            Failure::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                "rate_limited",
            )
                .into_response(),
            Failure::ServerError => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
            }
        };
    }
    let Some(target) = inner.responses.get_mut(id) else {
        return response_error("invalid_url");
    };
    if target.expired {
        return response_error("expired_url");
    }
    if target.uses >= RESPONSE_URL_USES {
        return response_error("used_url");
    }
    if body["text"].as_str().is_none() && body["blocks"].is_null() && body["attachments"].is_null()
    {
        return (StatusCode::BAD_REQUEST, "no_text").into_response();
    }
    target.uses += 1;
    let target = target.clone();
    let url = format!("{}/response/{id}", target.base);
    let only_user = match body["response_type"].as_str() {
        Some("in_channel") => None,
        _ => Some(target.user.clone()),
    };
    inner.next_ts += 1;
    let ts = format!("1700000000.{:06}", inner.next_ts);
    inner.messages.push(PostedMessage {
        channel: target.channel,
        ts,
        thread_ts: body["thread_ts"].as_str().map(str::to_string),
        only_user,
        body,
        edits: Vec::new(),
        response_url: Some(url),
        posted_at: Instant::now(),
    });
    Json(json!({ "ok": true })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(channel: &str, thread_ts: Option<&str>, body: Value) -> PostedMessage {
        PostedMessage {
            channel: channel.into(),
            ts: String::new(),
            thread_ts: thread_ts.map(str::to_string),
            only_user: None,
            body,
            edits: Vec::new(),
            response_url: None,
            posted_at: Instant::now(),
        }
    }

    #[test]
    fn duplicate_posts_are_identical_posts_in_one_thread() {
        let tagged = |tag: &str| json!({"text": "Incident #1", "metadata": {"event_type": "opsbot_outbox", "event_payload": {"tag": tag}}});
        let mut edited = posted("C1", None, json!({"text": "edited later"}));
        edited.edits.push(tagged("opsbot-outbox:1-1"));
        let mut answer = posted("C1", None, tagged("opsbot-outbox:1-1"));
        answer.response_url = Some("http://fake/response/R1".into());
        let shared = Shared {
            bot_token: String::new(),
            app_token: String::new(),
            inner: Arc::new(Mutex::new(Inner {
                messages: vec![
                    posted("C1", None, tagged("opsbot-outbox:1-1")),
                    // Another thread, another channel, another tag, a response URL:
                    // not repeats.
                    posted("C1", Some("1.1"), tagged("opsbot-outbox:1-1")),
                    posted("C2", None, tagged("opsbot-outbox:1-1")),
                    posted("C1", None, tagged("opsbot-outbox:2-2")),
                    answer,
                    // The same post again, and again edited since: repeats.
                    posted("C1", None, tagged("opsbot-outbox:1-1")),
                    edited,
                ],
                ..Inner::default()
            })),
        };
        let handle = FakeSlackHandle {
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            shared,
        };
        assert_eq!(handle.duplicate_posts(), 2);
    }
}

//! A fake Discord REST API (v10) on `127.0.0.1:0` (plain HTTP), written from Discord's
//! documentation (https://discord.com/developers/docs): messages (create, edit), threads
//! started from a message, interaction callbacks, the interaction webhook (edit or delete
//! the original response, follow-ups), the bulk overwrite of application commands, and
//! `GET /gateway` / `GET /gateway/bot` (the gateway's websocket URL: a
//! [`crate::discord_gateway::FakeGateway`]'s once [`FakeDiscord::set_gateway_url`] was
//! called, else Discord's), each under `/api/v10/...`.
//!
//! Like Discord it checks `Authorization: Bot TOKEN` on bot routes (interaction
//! callbacks and webhooks need none), answers unknown channels with 404 `{"code": 10003}`,
//! a second thread on one message with 400 `{"code": 160004}`, an edit of an original
//! response before the interaction was answered with 404 `{"code": 10015}` ("Unknown
//! Webhook"), validates command registrations (names, descriptions, option order), and
//! can be told to answer the next N calls with 429 (`retry_after` in the JSON body and a
//! `Retry-After` header) or 500. A thread started from a message has that message's id.
//! Multipart bodies (attachments) are read through their `payload_json` part. A message
//! created with `nonce` and `enforce_nonce` is created once: the same nonce again in the
//! channel answers the first message.
//!
//! In HTTP interaction mode Discord receives the interaction's answer as the HTTP
//! response of the bot's endpoint, which the fake cannot see: a test hands that answer
//! over with [`FakeDiscord::acknowledge`], after which the original response exists.

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Where a message was posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `POST /channels/{id}/messages` (a thread is a channel).
    Channel,
    /// The original response of an interaction (by token).
    Original(String),
    /// A follow-up of an interaction (by token).
    Followup(String),
}

/// A message as the fake holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeMessage {
    pub id: String,
    /// The channel (or thread) id; empty for interaction messages.
    pub channel_id: String,
    pub origin: Origin,
    /// The body (JSON, or a multipart request's `payload_json`), the newest edit's.
    pub body: Value,
    /// Every earlier version, oldest first.
    pub edits: Vec<Value>,
    /// Attached files of the newest version.
    pub files: usize,
    pub deleted: bool,
}

impl FakeMessage {
    /// The first embed's title.
    pub fn title(&self) -> &str {
        self.body["embeds"][0]["title"].as_str().unwrap_or_default()
    }

    /// The whole body as a string (to look for a word anywhere in it).
    pub fn content(&self) -> String {
        self.body.to_string()
    }

    /// Whether only the requester sees it (flag 64).
    pub fn ephemeral(&self) -> bool {
        self.body["flags"].as_u64().is_some_and(|f| f & 64 != 0)
    }

    /// The `custom_id` of every button.
    pub fn custom_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for row in self.body["components"].as_array().into_iter().flatten() {
            for button in row["components"].as_array().into_iter().flatten() {
                if let Some(id) = button["custom_id"].as_str() {
                    ids.push(id.to_string());
                }
            }
        }
        ids
    }
}

/// A thread started from a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeThread {
    pub id: String,
    pub parent_id: String,
    pub name: String,
}

/// How the next calls fail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Failure {
    /// 429 with `{"retry_after": SECONDS, "global": false}` and `Retry-After`.
    RateLimited { retry_after: f64 },
    /// 500.
    ServerError,
}

#[derive(Default)]
struct Inner {
    channels: BTreeSet<String>,
    messages: Vec<FakeMessage>,
    threads: Vec<FakeThread>,
    next_id: u64,
    failures: Vec<Failure>,
    /// Interaction answers by token: `(interaction id, response)`.
    answers: HashMap<String, (String, Value)>,
    /// Index in `messages` of each interaction's original response, by token.
    originals: HashMap<String, usize>,
    registrations: Vec<(Option<String>, Value)>,
    /// Calls by `METHOD route`, refused ones included.
    calls: Vec<String>,
    /// What `GET /gateway` hands out.
    gateway_url: Option<String>,
    /// How long `POST /channels/{id}/messages` waits after taking a message before it
    /// answers.
    answer_delay: std::time::Duration,
}

impl Inner {
    fn next_id(&mut self) -> String {
        self.next_id += 1;
        (1_400_000_000_000_000_000u64 + self.next_id).to_string()
    }
}

#[derive(Clone)]
struct Shared {
    token: String,
    application_id: String,
    inner: Arc<Mutex<Inner>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running fake.
pub struct FakeDiscord {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl FakeDiscord {
    /// Starts the fake for the application `application_id`; bot routes must carry
    /// `Authorization: Bot TOKEN`.
    pub async fn start(token: &str, application_id: &str) -> FakeDiscord {
        let shared = Shared {
            token: token.to_string(),
            application_id: application_id.to_string(),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new()
            .route("/api/v10/channels/{channel}/messages", post(create_message))
            .route(
                "/api/v10/channels/{channel}/messages/{message}",
                patch(edit_message),
            )
            .route(
                "/api/v10/channels/{channel}/messages/{message}/threads",
                post(start_thread),
            )
            .route(
                "/api/v10/interactions/{interaction}/{token}/callback",
                post(callback),
            )
            .route(
                "/api/v10/webhooks/{application}/{token}/messages/@original",
                patch(edit_original).delete(delete_original),
            )
            .route("/api/v10/webhooks/{application}/{token}", post(followup))
            .route(
                "/api/v10/applications/{application}/commands",
                put(global_commands),
            )
            .route(
                "/api/v10/applications/{application}/guilds/{guild}/commands",
                put(guild_commands),
            )
            .route("/api/v10/gateway", get(gateway))
            .route("/api/v10/gateway/bot", get(gateway_bot))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Discord");
        let addr = listener.local_addr().expect("fake Discord address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeDiscord { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`, the base URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes a text channel exist.
    pub fn add_channel(&self, id: &str) {
        self.shared.lock().channels.insert(id.to_string());
    }

    /// `GET /gateway` hands out `url` (a fake gateway's) from now on.
    pub fn set_gateway_url(&self, url: &str) {
        self.shared.lock().gateway_url = Some(url.to_string());
    }

    /// Every channel message is recorded at once but answered `delay` later (posts are
    /// in flight for that long).
    pub fn set_answer_delay(&self, delay: std::time::Duration) {
        self.shared.lock().answer_delay = delay;
    }

    /// The next calls fail like this, in order.
    pub fn fail_next(&self, failures: &[Failure]) {
        self.shared.lock().failures.extend_from_slice(failures);
    }

    /// Hands the fake the answer the bot's endpoint gave to interaction `id` (HTTP
    /// mode): as Discord does, a deferred or message answer creates the original
    /// response.
    pub fn acknowledge(&self, id: &str, token: &str, response: &Value) {
        let mut inner = self.shared.lock();
        record_answer(&mut inner, id, token, response);
    }

    /// Every message, in the order posted.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.shared.lock().messages.clone()
    }

    /// Messages posted in `channel` (or thread) itself.
    pub fn messages_in(&self, channel: &str) -> Vec<FakeMessage> {
        self.messages()
            .into_iter()
            .filter(|m| m.channel_id == channel)
            .collect()
    }

    /// The original response of the interaction with `token`, and its follow-ups.
    pub fn interaction_messages(&self, token: &str) -> Vec<FakeMessage> {
        self.messages()
            .into_iter()
            .filter(
                |m| matches!(&m.origin, Origin::Original(t) | Origin::Followup(t) if t == token),
            )
            .collect()
    }

    /// How many interactions got their result: original responses edited at least
    /// once, plus follow-ups (counted without copying the messages).
    pub fn delivered_answers(&self) -> usize {
        self.shared
            .lock()
            .messages
            .iter()
            .filter(|m| match m.origin {
                Origin::Original(_) => !m.edits.is_empty(),
                Origin::Followup(_) => true,
                Origin::Channel => false,
            })
            .count()
    }

    pub fn threads(&self) -> Vec<FakeThread> {
        self.shared.lock().threads.clone()
    }

    /// The answer recorded for the interaction with `token` (callback or acknowledge).
    pub fn answer(&self, token: &str) -> Option<Value> {
        self.shared
            .lock()
            .answers
            .get(token)
            .map(|(_, v)| v.clone())
    }

    /// Command registrations: `(guild, commands)`, in order.
    pub fn registrations(&self) -> Vec<(Option<String>, Value)> {
        self.shared.lock().registrations.clone()
    }

    /// Every call as `METHOD route-name`, refused ones included.
    pub fn calls(&self) -> Vec<String> {
        self.shared.lock().calls.clone()
    }

    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn discord_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// Records the call, then applies a queued failure or the bot-token check.
fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    call: &str,
    bot_auth: bool,
) -> Result<(), Box<Response>> {
    let mut inner = shared.lock();
    inner.calls.push(call.to_string());
    if !inner.failures.is_empty() {
        return Err(Box::new(match inner.failures.remove(0) {
            Failure::RateLimited { retry_after } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({
                        "message": "You are being rate limited.",
                        "retry_after": retry_after,
                        "global": false,
                    })),
                )
                    .into_response();
                let seconds = retry_after.ceil().max(0.0) as u64;
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
                response
            }
            Failure::ServerError => discord_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                0,
                "500: Internal Server Error",
            ),
        }));
    }
    if bot_auth {
        let expected = format!("Bot {}", shared.token);
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return Err(Box::new(discord_error(
                StatusCode::UNAUTHORIZED,
                0,
                "401: Unauthorized",
            )));
        }
    }
    Ok(())
}

/// A JSON body, or a multipart body's `payload_json` and its number of files.
fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<(Value, usize), Box<Response>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let bad = |why: String| Box::new(discord_error(StatusCode::BAD_REQUEST, 50109, &why));
    if let Some(boundary) = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .or_else(|| content_type.split("boundary=").nth(1))
    {
        let text = String::from_utf8_lossy(body);
        let mut payload = None;
        let mut files = 0;
        for part in text.split(&format!("--{boundary}")) {
            let Some((head, content)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            if head.contains("name=\"payload_json\"") {
                let content = content.trim_end_matches("\r\n");
                payload = Some(
                    serde_json::from_str(content).map_err(|e| bad(format!("payload_json: {e}")))?,
                );
            } else if head.contains("filename=") {
                files += 1;
            }
        }
        return payload
            .map(|p| (p, files))
            .ok_or_else(|| bad("multipart body without payload_json".into()));
    }
    serde_json::from_slice(body)
        .map(|v| (v, 0))
        .map_err(|e| bad(format!("The request body contains invalid JSON: {e}")))
}

fn message_json(message: &FakeMessage) -> Value {
    json!({ "id": message.id, "channel_id": message.channel_id, "type": 0,
            "content": message.body["content"], "embeds": message.body["embeds"],
            "components": message.body["components"] })
}

/// A message must have content, embeds, components or files (Discord: 50006).
fn check_message(body: &Value, files: usize) -> Result<(), Box<Response>> {
    let nonempty = |key: &str| match &body[key] {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    if nonempty("content") || nonempty("embeds") || nonempty("components") || files > 0 {
        Ok(())
    } else {
        Err(Box::new(discord_error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        )))
    }
}

async fn create_message(
    State(shared): State<Shared>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = admit(&shared, &headers, "POST messages", true) {
        return *response;
    }
    let (body, files) = match read_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    if let Err(response) = check_message(&body, files) {
        return *response;
    }
    let (answer, delay) = {
        let mut inner = shared.lock();
        if !inner.channels.contains(&channel) {
            return discord_error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
        }
        match taken_with_nonce(&inner, &channel, &body) {
            Ok(Some(existing)) => return Json(existing).into_response(),
            Ok(None) => {}
            Err(response) => return *response,
        }
        let message = FakeMessage {
            id: inner.next_id(),
            channel_id: channel,
            origin: Origin::Channel,
            body,
            edits: Vec::new(),
            files,
            deleted: false,
        };
        let answer = message_json(&message);
        inner.messages.push(message);
        (answer, inner.answer_delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Json(answer).into_response()
}

/// `enforce_nonce`: the message this bot already created in `channel` with the body's
/// `nonce`, which Discord answers instead of creating another (Discord remembers nonces
/// for a few minutes; the fake for its lifetime). A nonce longer than 25 characters is
/// refused (50035), as Discord does.
fn taken_with_nonce(
    inner: &Inner,
    channel: &str,
    body: &Value,
) -> Result<Option<Value>, Box<Response>> {
    let nonce = &body["nonce"];
    if nonce.as_str().is_some_and(|n| n.len() > 25) {
        return Err(Box::new(discord_error(
            StatusCode::BAD_REQUEST,
            50035,
            "Invalid Form Body (nonce)",
        )));
    }
    if nonce.is_null() || body["enforce_nonce"] != json!(true) {
        return Ok(None);
    }
    Ok(inner
        .messages
        .iter()
        .find(|m| {
            m.origin == Origin::Channel && m.channel_id == channel && m.body["nonce"] == *nonce
        })
        .map(message_json))
}

async fn edit_message(
    State(shared): State<Shared>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = admit(&shared, &headers, "PATCH message", true) {
        return *response;
    }
    let (body, files) = match read_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    let mut inner = shared.lock();
    if !inner.channels.contains(&channel) {
        return discord_error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
    }
    let Some(found) = inner
        .messages
        .iter_mut()
        .find(|m| m.id == message && m.channel_id == channel && !m.deleted)
    else {
        return discord_error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
    };
    let previous = std::mem::replace(&mut found.body, body);
    found.edits.push(previous);
    found.files = files;
    Json(message_json(found)).into_response()
}

async fn start_thread(
    State(shared): State<Shared>,
    Path((channel, message)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = admit(&shared, &headers, "POST threads", true) {
        return *response;
    }
    let (body, _) = match read_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return discord_error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body (name)");
    }
    let mut inner = shared.lock();
    if !inner.channels.contains(&channel) {
        return discord_error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
    }
    if !inner
        .messages
        .iter()
        .any(|m| m.id == message && m.channel_id == channel)
    {
        return discord_error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
    }
    if inner.threads.iter().any(|t| t.id == message) {
        return discord_error(
            StatusCode::BAD_REQUEST,
            160004,
            "A thread has already been created for this message",
        );
    }
    let thread = FakeThread {
        id: message.clone(),
        parent_id: channel.clone(),
        name: name.clone(),
    };
    inner.threads.push(thread);
    inner.channels.insert(message.clone());
    (
        StatusCode::CREATED,
        Json(json!({ "id": message, "parent_id": channel, "name": name, "type": 11 })),
    )
        .into_response()
}

fn record_answer(inner: &mut Inner, id: &str, token: &str, response: &Value) {
    inner
        .answers
        .insert(token.to_string(), (id.to_string(), response.clone()));
    let kind = response["type"].as_u64().unwrap_or_default();
    // 4: a message; 5: "thinking…" (a message edited later). 7 updates the message the
    // button was on, which the fake does not track.
    if kind == 4 || kind == 5 {
        let message = FakeMessage {
            id: inner.next_id(),
            channel_id: String::new(),
            origin: Origin::Original(token.to_string()),
            body: response.get("data").cloned().unwrap_or_else(|| json!({})),
            edits: Vec::new(),
            files: 0,
            deleted: false,
        };
        inner
            .originals
            .insert(token.to_string(), inner.messages.len());
        inner.messages.push(message);
    }
}

async fn callback(
    State(shared): State<Shared>,
    Path((interaction, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = admit(&shared, &headers, "POST callback", false) {
        return *response;
    }
    let (body, _) = match read_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    if !matches!(body["type"].as_u64(), Some(1 | 4 | 5 | 6 | 7 | 8 | 9)) {
        return discord_error(
            StatusCode::BAD_REQUEST,
            50035,
            "Invalid interaction response type",
        );
    }
    let mut inner = shared.lock();
    if inner.answers.contains_key(&token) {
        return discord_error(
            StatusCode::BAD_REQUEST,
            40060,
            "Interaction has already been acknowledged.",
        );
    }
    record_answer(&mut inner, &interaction, &token, &body);
    StatusCode::NO_CONTENT.into_response()
}

fn original<'a>(inner: &'a mut Inner, token: &str) -> Option<&'a mut FakeMessage> {
    let index = *inner.originals.get(token)?;
    inner.messages.get_mut(index).filter(|m| !m.deleted)
}

async fn edit_original(
    State(shared): State<Shared>,
    Path((application, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = admit(&shared, &headers, "PATCH @original", false) {
        return *response;
    }
    let (body, files) = match read_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    if application != shared.application_id {
        return discord_error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
    }
    let mut inner = shared.lock();
    let Some(message) = original(&mut inner, &token) else {
        return discord_error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
    };
    let previous = std::mem::replace(&mut message.body, body);
    message.edits.push(previous);
    message.files = files;
    Json(message_json(message)).into_response()
}

async fn delete_original(
    State(shared): State<Shared>,
    Path((application, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admit(&shared, &headers, "DELETE @original", false) {
        return *response;
    }
    if application != shared.application_id {
        return discord_error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
    }
    let mut inner = shared.lock();
    let Some(message) = original(&mut inner, &token) else {
        return discord_error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
    };
    message.deleted = true;
    StatusCode::NO_CONTENT.into_response()
}

async fn followup(
    State(shared): State<Shared>,
    Path((application, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = admit(&shared, &headers, "POST followup", false) {
        return *response;
    }
    let (body, files) = match read_body(&headers, &body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    if let Err(response) = check_message(&body, files) {
        return *response;
    }
    let mut inner = shared.lock();
    if application != shared.application_id || !inner.answers.contains_key(&token) {
        return discord_error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
    }
    let message = FakeMessage {
        id: inner.next_id(),
        channel_id: String::new(),
        origin: Origin::Followup(token),
        body,
        edits: Vec::new(),
        files,
        deleted: false,
    };
    let answer = message_json(&message);
    inner.messages.push(message);
    Json(answer).into_response()
}

fn gateway_url(shared: &Shared) -> String {
    shared
        .lock()
        .gateway_url
        .clone()
        .unwrap_or_else(|| "wss://gateway.discord.gg".to_string())
}

/// `GET /gateway`: no authentication; `{"url": …}`.
async fn gateway(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&shared, &headers, "GET gateway", false) {
        return *response;
    }
    Json(json!({ "url": gateway_url(&shared) })).into_response()
}

/// `GET /gateway/bot`: the bot token; the URL, one shard, and the session start limit.
async fn gateway_bot(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(response) = admit(&shared, &headers, "GET gateway/bot", true) {
        return *response;
    }
    Json(json!({
        "url": gateway_url(&shared),
        "shards": 1,
        "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1
        }
    }))
    .into_response()
}

async fn global_commands(
    State(shared): State<Shared>,
    Path(application): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    register(&shared, &application, None, &headers, &body)
}

async fn guild_commands(
    State(shared): State<Shared>,
    Path((application, guild)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    register(&shared, &application, Some(guild), &headers, &body)
}

/// Checks one command the way Discord documents: a lowercase name of 1-32 characters,
/// a 1-100 character description, at most 25 options, required options first.
fn check_command(command: &Value) -> Result<(), String> {
    let valid_name = |name: &str| {
        (1..=32).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_lowercase() || c.is_numeric() || c == '-' || c == '_')
    };
    let name = command["name"].as_str().unwrap_or_default();
    if !valid_name(name) {
        return Err(format!("invalid command name `{name}`"));
    }
    let described = |v: &Value| {
        v["description"]
            .as_str()
            .is_some_and(|d| (1..=100).contains(&d.chars().count()))
    };
    if !described(command) {
        return Err(format!("{name}: description must be 1-100 characters"));
    }
    let options = command["options"].as_array().cloned().unwrap_or_default();
    if options.len() > 25 {
        return Err(format!("{name}: more than 25 options"));
    }
    let mut optional_seen = false;
    for option in &options {
        let option_name = option["name"].as_str().unwrap_or_default();
        if !valid_name(option_name) || !described(option) {
            return Err(format!("{name}: invalid option `{option_name}`"));
        }
        let required = option["required"].as_bool().unwrap_or(false);
        if required && optional_seen {
            return Err(format!(
                "{name}: required option `{option_name}` after an optional one"
            ));
        }
        optional_seen |= !required;
        if option["choices"].as_array().is_some_and(|c| c.len() > 25) {
            return Err(format!("{name}.{option_name}: more than 25 choices"));
        }
    }
    Ok(())
}

fn register(
    shared: &Shared,
    application: &str,
    guild: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(response) = admit(shared, headers, "PUT commands", true) {
        return *response;
    }
    if application != shared.application_id {
        return discord_error(StatusCode::FORBIDDEN, 50001, "Missing Access");
    }
    let (body, _) = match read_body(headers, body) {
        Ok(parsed) => parsed,
        Err(response) => return *response,
    };
    let Some(commands) = body.as_array() else {
        return discord_error(
            StatusCode::BAD_REQUEST,
            50035,
            "Invalid Form Body (expected an array)",
        );
    };
    if commands.len() > 100 {
        return discord_error(
            StatusCode::BAD_REQUEST,
            30032,
            "Maximum number of application commands reached",
        );
    }
    for command in commands {
        if let Err(why) = check_command(command) {
            return discord_error(
                StatusCode::BAD_REQUEST,
                50035,
                &format!("Invalid Form Body: {why}"),
            );
        }
    }
    let mut inner = shared.lock();
    let registered: Vec<Value> = commands
        .iter()
        .map(|command| {
            let mut command = command.clone();
            command["id"] = json!(inner.next_id());
            command["application_id"] = json!(application);
            command["version"] = json!("1");
            if let Some(guild) = &guild {
                command["guild_id"] = json!(guild);
            }
            command
        })
        .collect();
    inner.registrations.push((guild, body.clone()));
    Json(Value::Array(registered)).into_response()
}

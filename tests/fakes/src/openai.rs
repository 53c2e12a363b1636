//! A fake OpenAI-compatible chat completions endpoint (`POST /v1/chat/completions`), as
//! Ollama, vLLM, llama.cpp's server and OpenAI serve it, written from the OpenAI API
//! reference: a request with `messages`, `tools`, `stream: true` and
//! `stream_options.include_usage` is answered with server-sent events, one
//! `chat.completion.chunk` per `data:` line (text in `choices[0].delta.content`, tool
//! calls in `choices[0].delta.tool_calls` split into pieces by `index`, `finish_reason`
//! on the last choice), then a chunk with empty `choices` and `usage`, then
//! `data: [DONE]`.
//!
//! Each test scripts the answers in order ([`Scripted`]): text, tool calls, raw
//! (malformed) bytes, an error status, or silence (the client must time out). Every
//! request body is kept, so a test can see exactly what reached the model.

use std::{
    collections::VecDeque,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// Streams this text (a few words per chunk), `finish_reason: stop`, then usage.
    Answer(String),
    /// Calls these tools (`name`, arguments as JSON text), each split over chunks,
    /// `finish_reason: tool_calls`, then usage.
    ToolCalls(Vec<(String, String)>),
    /// Sends this body as it is (an event stream that breaks the documented shape).
    Raw(String),
    /// Answers this status with this body.
    Status(u16, String),
    /// Never answers (the connection stays open).
    Silence,
}

#[derive(Default)]
struct Shared {
    script: VecDeque<Scripted>,
    requests: Vec<(Option<String>, Value)>,
    /// When each request arrived.
    arrivals: Vec<std::time::Instant>,
}

/// The fake endpoint on `127.0.0.1:0`.
pub struct FakeOpenAi {
    address: std::net::SocketAddr,
    shared: Arc<Mutex<Shared>>,
    server: tokio::task::JoinHandle<()>,
}

/// Tokens every scripted answer reports.
pub const PROMPT_TOKENS: u64 = 100;
pub const COMPLETION_TOKENS: u64 = 20;

impl FakeOpenAi {
    pub async fn start() -> FakeOpenAi {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeOpenAi {
            address,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:PORT/v1`, the `base_url` to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// Adds answers to the script, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.shared.lock().unwrap().script.extend(answers);
    }

    /// Every request body so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        let shared = self.shared.lock().unwrap();
        shared
            .requests
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// When each request so far arrived, in order.
    pub fn arrivals(&self) -> Vec<std::time::Instant> {
        self.shared.lock().unwrap().arrivals.clone()
    }

    /// The `Authorization` header of every request so far.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        let shared = self.shared.lock().unwrap();
        shared
            .requests
            .iter()
            .map(|(auth, _)| auth.clone())
            .collect()
    }

    /// Everything the model was sent, as one text (for "this never reached it").
    pub fn everything_sent(&self) -> String {
        self.requests()
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn shutdown(self) {
        self.server.abort();
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn completions(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "the body is not JSON").into_response();
    };
    if request["stream"] != json!(true) || !request["messages"].is_array() {
        return (
            StatusCode::BAD_REQUEST,
            "this fake answers streamed requests with messages only",
        )
            .into_response();
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let next = {
        let mut shared = shared.lock().unwrap();
        shared.requests.push((auth, request.clone()));
        shared.arrivals.push(std::time::Instant::now());
        shared.script.pop_front()
    };
    let model = request["model"].as_str().unwrap_or("fake").to_string();
    let usage = request["stream_options"]["include_usage"] == json!(true);
    let events = match next {
        None => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "nothing scripted").into_response();
        }
        Some(Scripted::Status(status, body)) => {
            return (StatusCode::from_u16(status).unwrap(), body).into_response();
        }
        Some(Scripted::Silence) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Some(Scripted::Raw(raw)) => vec![raw],
        Some(Scripted::Answer(text)) => answer_events(&model, &text, usage),
        Some(Scripted::ToolCalls(calls)) => tool_call_events(&model, &calls, usage),
    };
    let stream = futures_util::stream::iter(
        events
            .into_iter()
            .map(|event| Ok::<Bytes, Infallible>(Bytes::from(event))),
    );
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn chunk(model: &str, choices: Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": model, "choices": choices,
    });
    format!("data: {chunk}\n\n")
}

fn ending(model: &str, finish_reason: &str, usage: bool) -> Vec<String> {
    let mut events = vec![chunk(
        model,
        json!([{"index": 0, "delta": {}, "finish_reason": finish_reason}]),
    )];
    if usage {
        let usage = json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
            "choices": [],
            "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                      "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS},
        });
        events.push(format!("data: {usage}\n\n"));
    }
    events.push("data: [DONE]\n\n".to_string());
    events
}

fn answer_events(model: &str, text: &str, usage: bool) -> Vec<String> {
    let mut events = vec![chunk(
        model,
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
    )];
    let mut piece = String::new();
    for word in text.split_inclusive(' ') {
        piece.push_str(word);
        if piece.len() >= 12 {
            events.push(chunk(
                model,
                json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
            ));
            piece.clear();
        }
    }
    if !piece.is_empty() {
        events.push(chunk(
            model,
            json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
        ));
    }
    events.extend(ending(model, "stop", usage));
    events
}

fn tool_call_events(model: &str, calls: &[(String, String)], usage: bool) -> Vec<String> {
    let mut events = vec![chunk(
        model,
        json!([{"index": 0, "delta": {"role": "assistant", "content": null}, "finish_reason": null}]),
    )];
    for (index, (name, arguments)) in calls.iter().enumerate() {
        events.push(chunk(
            model,
            json!([{"index": 0, "delta": {"tool_calls": [{
                "index": index, "id": format!("call_{index}"), "type": "function",
                "function": {"name": name, "arguments": ""}
            }]}, "finish_reason": null}]),
        ));
        let middle = arguments.len() / 2;
        let middle = (middle..=arguments.len())
            .find(|&i| arguments.is_char_boundary(i))
            .unwrap_or(arguments.len());
        for part in [&arguments[..middle], &arguments[middle..]] {
            events.push(chunk(
                model,
                json!([{"index": 0, "delta": {"tool_calls": [{
                    "index": index, "function": {"arguments": part}
                }]}, "finish_reason": null}]),
            ));
        }
    }
    events.extend(ending(model, "tool_calls", usage));
    events
}

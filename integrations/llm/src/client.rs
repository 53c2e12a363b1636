//! [`ChatClient`]: `POST {base_url}/chat/completions` with the conversation and the
//! tools, `stream: true`; the answer is read chunk by chunk ([`crate::sse`],
//! [`crate::completion`]) and its text handed to the caller as it grows. The whole call
//! (connecting, waiting, streaming) is bounded by [`ChatSettings::timeout`], the answer's
//! size by [`ChatSettings::max_answer_bytes`].

use std::time::Duration;

use serde_json::json;

use crate::{Completion, LlmError, Message, ToolSpec, completion::Assembly, sse::SseDecoder};

/// How to ask the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatSettings {
    /// The model name as the endpoint knows it (`llama3.1:8b`, `gpt-oss:20b`, `gpt-4o-mini`).
    pub model: String,
    /// The longest one completion may take, first byte to last.
    pub timeout: Duration,
    /// `max_tokens` of each completion.
    pub max_tokens: u32,
    /// An answer (text and tool arguments) larger than this is cut off as endless.
    pub max_answer_bytes: usize,
}

/// A chat completions endpoint.
#[derive(Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    settings: ChatSettings,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[secret]"))
            .field("settings", &self.settings)
            .finish()
    }
}

impl ChatClient {
    /// A client of `base_url` (`http://ollama:11434/v1`), sending `api_key` as a bearer
    /// token when there is one.
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        settings: ChatSettings,
    ) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            api_key,
            settings,
        })
    }

    /// `{base_url}/chat/completions`.
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    pub fn settings(&self) -> &ChatSettings {
        &self.settings
    }

    /// Asks for the next turn of `messages`, offering `tools`; `on_text` gets each piece
    /// of text as it streams in.
    pub async fn complete(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, LlmError> {
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout, self.stream(messages, tools, on_text)).await {
            Ok(result) => result,
            Err(_) => Err(LlmError::Timeout(timeout)),
        }
    }

    async fn stream(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, LlmError> {
        let mut body = json!({
            "model": self.settings.model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": self.settings.max_tokens,
        });
        if !tools.is_empty() {
            body["tools"] = json!(tools);
        }
        let mut request = self.http.post(&self.url).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let mut response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(LlmError::Status {
                status: status.as_u16(),
                body: excerpt(&text),
            });
        }
        let limit = self.settings.max_answer_bytes;
        let mut decoder = SseDecoder::default();
        let mut assembly = Assembly::default();
        while !assembly.done {
            let piece = response
                .chunk()
                .await
                .map_err(|e| LlmError::Malformed(format!("the stream broke off ({e})")))?;
            let Some(bytes) = piece else {
                if let Some(data) = decoder.finish() {
                    Self::take(&mut assembly, &data, limit, on_text)?;
                }
                break;
            };
            for data in decoder.push(&bytes).map_err(LlmError::Malformed)? {
                Self::take(&mut assembly, &data, limit, on_text)?;
            }
        }
        assembly.finish()
    }

    fn take(
        assembly: &mut Assembly,
        data: &str,
        limit: usize,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), LlmError> {
        if let Some(text) = assembly.add(data, limit)? {
            on_text(&text);
        }
        Ok(())
    }

    fn unreachable(&self, error: &reqwest::Error) -> LlmError {
        if error.is_timeout() {
            return LlmError::Timeout(self.settings.timeout);
        }
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            reason = format!("{reason}: {cause}");
            source = cause.source();
        }
        LlmError::Unreachable {
            endpoint: self.url.clone(),
            reason,
        }
    }
}

/// At most 300 characters of an error body.
fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::SocketAddr,
        sync::{Arc, Mutex},
    };

    use axum::{Router, http::HeaderMap, routing::post};

    use super::*;

    fn settings(timeout: Duration) -> ChatSettings {
        ChatSettings {
            model: "llama3.1:8b".into(),
            timeout,
            max_tokens: 256,
            max_answer_bytes: 10_000,
        }
    }

    /// Serves `body` as an event stream (or with `status`); keeps each request.
    async fn serve(
        status: u16,
        body: &'static str,
    ) -> (
        SocketAddr,
        Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let app = Router::new().route(
            "/v1/chat/completions",
            post(move |headers: HeaderMap, body_in: String| {
                let kept = kept.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    kept.lock()
                        .unwrap()
                        .push((auth, serde_json::from_str(&body_in).unwrap()));
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("content-type", "text/event-stream")],
                        body,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (address, seen)
    }

    #[tokio::test]
    async fn streams_text_and_sends_the_documented_request() {
        let (address, seen) = serve(
            200,
            "data: {\"choices\":[{\"delta\":{\"content\":\"Ollama \"}}]}\n\n\
             data: {\"choices\":[{\"delta\":{\"content\":\"is down\"},\"finish_reason\":\"stop\"}]}\n\n\
             data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\n\
             data: [DONE]\n\n",
        )
        .await;
        let client = ChatClient::new(
            &format!("http://{address}/v1/"),
            Some("sk-test".into()),
            settings(Duration::from_secs(5)),
        )
        .unwrap();
        let tool = ToolSpec {
            name: "health".into(),
            description: "health of a service".into(),
            parameters: json!({"type": "object", "properties": {}}),
        };
        let mut pieces = Vec::new();
        let done = client
            .complete(&[Message::user("why?")], &[tool], &mut |t: &str| {
                pieces.push(t.to_string())
            })
            .await
            .unwrap();
        assert_eq!(pieces, ["Ollama ", "is down"]);
        assert_eq!(done.content, "Ollama is down");
        assert_eq!(done.usage.unwrap().completion_tokens, 3);
        let seen = seen.lock().unwrap();
        let (auth, body) = &seen[0];
        assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["stream_options"]["include_usage"], json!(true));
        assert_eq!(body["model"], json!("llama3.1:8b"));
        assert_eq!(body["tools"][0]["function"]["name"], json!("health"));
        assert_eq!(body["messages"][0]["role"], json!("user"));
    }

    #[tokio::test]
    async fn status_down_and_malformed_are_typed() {
        let (address, _) = serve(500, "model crashed").await;
        let client = ChatClient::new(
            &format!("http://{address}/v1"),
            None,
            settings(Duration::from_secs(5)),
        )
        .unwrap();
        let error = client
            .complete(&[], &[], &mut |_: &str| {})
            .await
            .unwrap_err();
        assert!(
            matches!(&error, LlmError::Status { status: 500, body } if body == "model crashed"),
            "{error:?}"
        );
        let (address, _) = serve(200, "data: {oops\n\n").await;
        let client = ChatClient::new(
            &format!("http://{address}/v1"),
            None,
            settings(Duration::from_secs(5)),
        )
        .unwrap();
        let error = client
            .complete(&[], &[], &mut |_: &str| {})
            .await
            .unwrap_err();
        assert!(matches!(error, LlmError::Malformed(_)), "{error:?}");
        // Nothing listens on a port just freed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = ChatClient::new(
            &format!("http://{address}/v1"),
            None,
            settings(Duration::from_secs(5)),
        )
        .unwrap();
        let error = client
            .complete(&[], &[], &mut |_: &str| {})
            .await
            .unwrap_err();
        assert!(matches!(error, LlmError::Unreachable { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn a_silent_endpoint_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // Accepts and never answers.
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let client = ChatClient::new(
            &format!("http://{address}/v1"),
            None,
            settings(Duration::from_millis(200)),
        )
        .unwrap();
        let error = client
            .complete(&[], &[], &mut |_: &str| {})
            .await
            .unwrap_err();
        assert!(matches!(error, LlmError::Timeout(_)), "{error:?}");
    }
}

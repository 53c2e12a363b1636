//! The fake OpenAI-compatible endpoint (`opsbot_fakes::openai`) behind a proxy that
//! hands its server-sent events on one at a time, `pace` apart, the way a model on a
//! GPU streams its answer. The fake itself answers all at once; through this, a test
//! sees the living message edited while the answer grows. Requests (and their
//! `Authorization`) go to the fake unchanged, so what reached the model is still read
//! from it.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use futures_util::StreamExt as _;

struct Upstream {
    url: String,
    client: reqwest::Client,
    pace: Duration,
}

/// The proxy on `127.0.0.1:0`.
pub struct PacedModel {
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl PacedModel {
    /// Proxies to the fake at `upstream_base_url` (`…/v1`), an event every `pace`.
    pub async fn start(upstream_base_url: &str, pace: Duration) -> PacedModel {
        let upstream = Arc::new(Upstream {
            url: format!("{upstream_base_url}/chat/completions"),
            client: reqwest::Client::new(),
            pace,
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(upstream);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PacedModel { address, task }
    }

    /// `http://127.0.0.1:PORT/v1`, the `base_url` to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }
}

impl Drop for PacedModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn completions(
    State(upstream): State<Arc<Upstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = upstream
        .client
        .post(&upstream.url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let text = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        return (status, text).into_response();
    }
    let events: Vec<String> = text.split_inclusive("\n\n").map(str::to_string).collect();
    let pace = upstream.pace;
    let stream = futures_util::stream::iter(events).then(move |event| async move {
        tokio::time::sleep(pace).await;
        Ok::<Bytes, Infallible>(Bytes::from(event))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

//! A small Docker Engine API client: JSON over HTTP/1.1 on a unix socket (through
//! `hyperlocal`) or plain TCP, with a timeout on every call. Transport failures become
//! [`RuntimeError::Unreachable`] naming the docker host; API errors keep the daemon's
//! own `message`.

use std::{error::Error as _, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use hyperlocal::UnixConnector;
use opsbot_commands::context::RuntimeError;
use serde::de::DeserializeOwned;

use crate::{DockerHost, duration::human};

/// The Engine API version opsbot speaks (Docker Engine 24 and later understand it).
pub const API_VERSION: &str = "v1.43";

/// The `User-Agent` of every Engine API request (the daemon's logs can tell opsbot apart).
pub const USER_AGENT: &str = concat!("opsbot-docker/", env!("CARGO_PKG_VERSION"));

/// Bodies larger than this are refused (a runaway log read must not exhaust memory).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// One Docker Engine, reached over its socket or TCP port.
pub struct Engine {
    host: DockerHost,
    transport: Transport,
    timeout: Duration,
}

enum Transport {
    Unix(Client<UnixConnector, Full<Bytes>>),
    Tcp(Client<HttpConnector, Full<Bytes>>),
}

/// A non-success answer of the Engine API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl Engine {
    /// A client for `host` whose every call gives up after `timeout`.
    pub fn new(host: DockerHost, timeout: Duration) -> Self {
        let transport = match &host {
            DockerHost::Unix(_) => {
                Transport::Unix(Client::builder(TokioExecutor::new()).build(UnixConnector))
            }
            DockerHost::Tcp(_) => {
                let mut connector = HttpConnector::new();
                connector.set_connect_timeout(Some(timeout));
                connector.set_nodelay(true);
                Transport::Tcp(Client::builder(TokioExecutor::new()).build(connector))
            }
        };
        Self {
            host,
            transport,
            timeout,
        }
    }

    pub fn host(&self) -> &DockerHost {
        &self.host
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `GET path` decoded as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, RuntimeError> {
        let body = self.ok(Method::GET, path, None, self.timeout).await?;
        serde_json::from_slice(&body).map_err(|e| {
            RuntimeError::Failed(format!(
                "docker host {}: unexpected answer to GET {path}: {e}",
                self.host
            ))
        })
    }

    /// `GET path` as raw bytes (container logs).
    pub async fn get_bytes(&self, path: &str) -> Result<Bytes, RuntimeError> {
        self.ok(Method::GET, path, None, self.timeout).await
    }

    /// A call that must succeed (2xx; 304 "already in that state" counts as success).
    /// `timeout` is the request timeout, lengthened by callers whose call the daemon itself
    /// lets run (the grace period of a stop or restart).
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Bytes, RuntimeError> {
        self.call(method.clone(), path, body, timeout)
            .await?
            .map_err(|e| self.api_failure(&method, path, e))
    }

    /// One call: transport errors are `Err`, API errors are `Ok(Err(ApiError))` so callers
    /// can tell "no such container" from a broken daemon.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Result<Bytes, ApiError>, RuntimeError> {
        let request = self.request(method.clone(), path, body)?;
        let exchange = async {
            let response = match &self.transport {
                Transport::Unix(client) => client.request(request).await,
                Transport::Tcp(client) => client.request(request).await,
            }
            .map_err(|e| self.transport_failure(&e))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| RuntimeError::Unreachable {
                    what: self.what(),
                    reason: format!("reading the answer to {method} {path}: {e}"),
                })?
                .to_bytes();
            Ok::<_, RuntimeError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| RuntimeError::Unreachable {
                what: self.what(),
                reason: format!("no answer to {method} {path} within {}", human(timeout)),
            })??;
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(Ok(bytes));
        }
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
        Ok(Err(ApiError { status, message }))
    }

    /// Turns an API error into the error a command shows.
    pub fn api_failure(&self, method: &Method, path: &str, error: ApiError) -> RuntimeError {
        let path = path.split('?').next().unwrap_or(path);
        RuntimeError::Failed(format!(
            "docker host {} refused {method} {path} ({}): {}",
            self.host, error.status, error.message
        ))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Request<Full<Bytes>>, RuntimeError> {
        let full_path = format!("/{API_VERSION}{path}");
        let uri: Uri = match &self.host {
            DockerHost::Unix(socket) => hyperlocal::Uri::new(socket, &full_path).into(),
            DockerHost::Tcp(authority) => format!("http://{authority}{full_path}")
                .parse()
                .map_err(|e| RuntimeError::Failed(format!("bad docker API path {path}: {e}")))?,
        };
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::USER_AGENT, USER_AGENT);
        let request = match body {
            Some(json) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(json.to_string()))),
            None => builder.body(Full::new(Bytes::new())),
        };
        request.map_err(|e| RuntimeError::Failed(format!("bad docker API request {path}: {e}")))
    }

    fn what(&self) -> String {
        format!("docker host {}", self.host)
    }

    fn transport_failure(&self, error: &hyper_util::client::legacy::Error) -> RuntimeError {
        // The innermost cause reads best: "Connection refused (os error 111)".
        let mut reason = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            reason = cause.to_string();
            source = cause.source();
        }
        if error.is_connect() {
            reason = format!("cannot connect: {reason}");
        }
        RuntimeError::Unreachable {
            what: self.what(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_names_opsbot() {
        let engine = Engine::new(
            DockerHost::Tcp("127.0.0.1:2375".into()),
            Duration::from_secs(1),
        );
        let request = engine
            .request(Method::GET, "/containers/json", None)
            .unwrap();
        assert_eq!(request.headers()[header::USER_AGENT], USER_AGENT);
        assert!(USER_AGENT.starts_with("opsbot-docker/"));
    }
}

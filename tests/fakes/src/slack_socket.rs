//! A fake Slack Socket Mode endpoint, written from Slack's Socket Mode documentation
//! (https://api.slack.com/apis/socket-mode): a websocket on `127.0.0.1:0` that greets
//! every connection with a `hello` message, pushes envelopes (`slash_commands`,
//! `interactive`, `events_api`, each with an `envelope_id` and a `payload`) to every open
//! connection, and records the acknowledgements (`{"envelope_id": …, "payload": …}`) the
//! app sends back. [`crate::slack::FakeSlack::set_socket_url`] makes
//! `apps.connections.open` hand out its URL.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::{sync::broadcast, task::JoinHandle};
use tokio_tungstenite::tungstenite::Message;

/// The running websocket.
pub struct FakeSocketMode {
    addr: SocketAddr,
    envelopes: broadcast::Sender<String>,
    acks: Arc<Mutex<Vec<Value>>>,
    connections: Arc<Mutex<usize>>,
    task: JoinHandle<()>,
}

impl FakeSocketMode {
    pub async fn start() -> FakeSocketMode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Socket Mode endpoint");
        let addr = listener.local_addr().expect("local address");
        let (envelopes, _) = broadcast::channel::<String>(256);
        let acks = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let task = {
            let envelopes = envelopes.clone();
            let acks = acks.clone();
            let connections = connections.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let mut outgoing = envelopes.subscribe();
                    let acks = acks.clone();
                    let connections = connections.clone();
                    tokio::spawn(async move {
                        let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                            return;
                        };
                        let (mut write, mut read) = socket.split();
                        let hello = json!({
                            "type": "hello",
                            "num_connections": 1,
                            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                            "connection_info": {"app_id": "A0OPSBOT"}
                        });
                        if write.send(Message::text(hello.to_string())).await.is_err() {
                            return;
                        }
                        *connections.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                        loop {
                            tokio::select! {
                                envelope = outgoing.recv() => match envelope {
                                    Ok(text) => {
                                        if write.send(Message::text(text)).await.is_err() {
                                            break;
                                        }
                                    }
                                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                                    Err(broadcast::error::RecvError::Closed) => break,
                                },
                                incoming = read.next() => match incoming {
                                    Some(Ok(Message::Text(text))) => {
                                        if let Ok(ack) = serde_json::from_str::<Value>(text.as_str()) {
                                            acks.lock().unwrap_or_else(|e| e.into_inner()).push(ack);
                                        }
                                    }
                                    Some(Ok(Message::Ping(data))) => {
                                        let _ = write.send(Message::Pong(data)).await;
                                    }
                                    Some(Ok(_)) => {}
                                    Some(Err(_)) | None => break,
                                },
                            }
                        }
                        *connections.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
                    });
                }
            })
        };
        FakeSocketMode {
            addr,
            envelopes,
            acks,
            connections,
            task,
        }
    }

    /// The websocket URL (`ws://127.0.0.1:PORT/link`).
    pub fn url(&self) -> String {
        format!("ws://{}/link", self.addr)
    }

    /// Connections that got their `hello`.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes an envelope of `kind` (`slash_commands`, `interactive`, `events_api`) with
    /// `payload` to every connection.
    pub fn push(&self, envelope_id: &str, kind: &str, payload: Value) {
        let envelope = json!({
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "payload": payload,
        });
        let _ = self.envelopes.send(envelope.to_string());
    }

    /// The acknowledgements received, in order.
    pub fn acks(&self) -> Vec<Value> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for FakeSocketMode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! A fake Discord gateway (API v10, JSON encoding), written from Discord's gateway
//! documentation (https://discord.com/developers/docs/events/gateway): a websocket on
//! `127.0.0.1:0` that, for every connection,
//!
//! 1. refuses a `v` query other than `10` (close 4012 "Invalid API version") and an
//!    `encoding` other than `json` (4002 "Decode error");
//! 2. sends op 10 Hello with `heartbeat_interval`;
//! 3. answers op 1 Heartbeat with op 11 Heartbeat ACK;
//! 4. takes op 2 Identify: a wrong token closes with 4004 "Authentication failed", a
//!    second Identify with 4005 "Already authenticated"; otherwise op 0 `READY` follows
//!    (sequence 1, the application's user, no guilds, a session id);
//! 5. answers op 6 Resume with op 9 Invalid Session (`false`: sessions are not kept) and
//!    any unknown opcode with close 4001, a message before Identify with 4003;
//! 6. sends the dispatches a test asks for ([`FakeGateway::dispatch`],
//!    [`FakeGateway::interaction_create`]) to every identified connection, numbered by
//!    its own sequence.
//!
//! Payloads go out as text frames: Discord compresses a payload only on request and
//! clients must accept either. Pair it with [`crate::discord::FakeDiscord`] and
//! [`crate::discord::FakeDiscord::set_gateway_url`], whose `GET /gateway` hands out
//! [`FakeGateway::url`], as Discord's REST API hands out the gateway's.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::{sync::broadcast, task::JoinHandle};
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{Callback, ErrorResponse, Request, Response},
    protocol::{CloseFrame, frame::coding::CloseCode},
};

/// Discord's default heartbeat interval, in milliseconds.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 41_250;

/// What the fake has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// Websocket connections accepted (Hello sent).
    pub connections: usize,
    /// Connections identified successfully (READY sent), ever.
    pub identified: usize,
    /// Identified connections open now.
    pub live: usize,
    /// Heartbeats received (each answered with an ACK).
    pub heartbeats: usize,
    /// Connections closed by the fake for a protocol error, with the close code.
    pub refused: Vec<u16>,
}

struct Shared {
    url: String,
    token: String,
    application_id: String,
    heartbeat_interval_ms: u64,
    stats: Mutex<GatewayStats>,
    dispatches: broadcast::Sender<(String, Value)>,
    next_session: Mutex<u64>,
}

impl Shared {
    fn stats(&self) -> std::sync::MutexGuard<'_, GatewayStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running gateway.
pub struct FakeGateway {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeGateway {
    /// Starts a gateway for the bot `token` of `application_id`, with Discord's default
    /// heartbeat interval.
    pub async fn start(token: &str, application_id: &str) -> FakeGateway {
        Self::start_with_heartbeat(token, application_id, DEFAULT_HEARTBEAT_INTERVAL_MS).await
    }

    /// Like [`Self::start`], asking clients to heartbeat every `interval_ms`.
    pub async fn start_with_heartbeat(
        token: &str,
        application_id: &str,
        interval_ms: u64,
    ) -> FakeGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Discord gateway");
        let addr = listener.local_addr().expect("fake gateway address");
        let (dispatches, _) = broadcast::channel(256);
        let shared = Arc::new(Shared {
            url: format!("ws://{addr}"),
            token: token.trim_start_matches("Bot ").to_string(),
            application_id: application_id.to_string(),
            heartbeat_interval_ms: interval_ms,
            stats: Mutex::new(GatewayStats::default()),
            dispatches,
            next_session: Mutex::new(0),
        });
        let task = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, shared.clone()));
                }
            })
        };
        FakeGateway { shared, task }
    }

    /// `ws://127.0.0.1:PORT`, what `GET /gateway` hands out (clients add `?v=10`).
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    pub fn stats(&self) -> GatewayStats {
        self.shared.stats().clone()
    }

    /// Sends the dispatch `event` (op 0, `t` = `event`) with `data` to every identified
    /// connection; how many there were.
    pub fn dispatch(&self, event: &str, data: Value) -> usize {
        self.shared
            .dispatches
            .send((event.to_string(), data))
            .unwrap_or(0)
    }

    /// Dispatches `INTERACTION_CREATE` with the interaction object `interaction`.
    pub fn interaction_create(&self, interaction: Value) -> usize {
        self.dispatch("INTERACTION_CREATE", interaction)
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why the fake closes a connection.
struct Refusal(u16, &'static str);

/// The `v` and `encoding` of a connection's query string.
fn check_query(query: &str) -> Result<(), Refusal> {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    if param("v").as_deref() != Some("10") {
        return Err(Refusal(4012, "Invalid API version"));
    }
    if param("encoding").is_some_and(|e| e != "json") {
        return Err(Refusal(4002, "Decode error"));
    }
    Ok(())
}

/// Keeps the query string of the upgrade request.
struct QueryOf<'a>(&'a mut String);

impl Callback for QueryOf<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        *self.0 = request.uri().query().unwrap_or_default().to_string();
        Ok(response)
    }
}

fn payload(op: u8, data: Value, seq: Option<u64>, event: Option<&str>) -> Message {
    Message::text(json!({ "op": op, "d": data, "s": seq, "t": event }).to_string())
}

async fn serve(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let mut query = String::new();
    let accepted = tokio_tungstenite::accept_hdr_async(stream, QueryOf(&mut query)).await;
    let Ok(socket) = accepted else {
        return;
    };
    let (mut write, mut read) = socket.split();
    if let Err(Refusal(code, reason)) = check_query(&query) {
        shared.stats().refused.push(code);
        let _ = write
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            })))
            .await;
        return;
    }
    let hello = json!({ "heartbeat_interval": shared.heartbeat_interval_ms });
    if write.send(payload(10, hello, None, None)).await.is_err() {
        return;
    }
    shared.stats().connections += 1;
    let mut dispatches: Option<broadcast::Receiver<(String, Value)>> = None;
    let mut seq = 0u64;
    let refusal = loop {
        let next_dispatch = async {
            match dispatches.as_mut() {
                Some(receiver) => receiver.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            dispatch = next_dispatch => match dispatch {
                Ok((event, data)) => {
                    seq += 1;
                    if write.send(payload(0, data, Some(seq), Some(&event))).await.is_err() {
                        break None;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break None,
            },
            incoming = read.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Ping(data))) => {
                        let _ = write.send(Message::Pong(data)).await;
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                    Some(Ok(_)) => continue,
                };
                let Ok(message) = serde_json::from_str::<Value>(&text) else {
                    break Some(Refusal(4002, "Decode error"));
                };
                let identified = dispatches.is_some();
                match message["op"].as_u64() {
                    Some(1) => {
                        shared.stats().heartbeats += 1;
                        if write.send(payload(11, Value::Null, None, None)).await.is_err() {
                            break None;
                        }
                    }
                    Some(2) if identified => break Some(Refusal(4005, "Already authenticated")),
                    Some(2) => {
                        let token = message["d"]["token"].as_str().unwrap_or_default();
                        if token.trim_start_matches("Bot ") != shared.token {
                            break Some(Refusal(4004, "Authentication failed"));
                        }
                        // Subscribed before READY: nothing dispatched after READY is missed.
                        dispatches = Some(shared.dispatches.subscribe());
                        {
                            let mut stats = shared.stats();
                            stats.identified += 1;
                            stats.live += 1;
                        }
                        seq += 1;
                        let ready = ready(&shared, &message["d"]);
                        if write.send(payload(0, ready, Some(seq), Some("READY"))).await.is_err() {
                            break None;
                        }
                    }
                    Some(6) => {
                        if write.send(payload(9, json!(false), None, None)).await.is_err() {
                            break None;
                        }
                    }
                    Some(_) if !identified => break Some(Refusal(4003, "Not authenticated")),
                    Some(3 | 4 | 8 | 31) => {}
                    _ => break Some(Refusal(4001, "Unknown opcode")),
                }
            }
        }
    };
    // Unsubscribed before it stops counting as live: once `live` says a connection is
    // gone, no dispatch reaches it.
    if let Some(receiver) = dispatches.take() {
        drop(receiver);
        shared.stats().live -= 1;
    }
    if let Some(Refusal(code, reason)) = refusal {
        shared.stats().refused.push(code);
        let _ = write
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            })))
            .await;
    }
}

/// The READY event's data for an Identify with `identify` data.
fn ready(shared: &Shared, identify: &Value) -> Value {
    let session = {
        let mut next = shared
            .next_session
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *next += 1;
        *next
    };
    let shard = match &identify["shard"] {
        Value::Array(shard) => Value::Array(shard.clone()),
        _ => json!([0, 1]),
    };
    json!({
        "v": 10,
        "user": {
            "id": shared.application_id,
            "username": "opsbot",
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": true,
            "verified": true,
            "flags": 0,
        },
        "guilds": [],
        "session_id": format!("fake-session-{session}"),
        "resume_gateway_url": shared.url,
        "shard": shard,
        "application": { "id": shared.application_id, "flags": 0 },
    })
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt as _, StreamExt as _};
    use serde_json::{Value, json};
    use tokio_tungstenite::tungstenite::Message;

    use super::FakeGateway;

    type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

    async fn connect(gateway: &FakeGateway, query: &str) -> Socket {
        let url = format!("{}/?{query}", gateway.url());
        let address = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        tokio_tungstenite::client_async(url, stream)
            .await
            .unwrap()
            .0
    }

    /// The next payload, or the close code.
    async fn next(socket: &mut Socket) -> Result<Value, u16> {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map(|f| u16::from(f.code)).unwrap_or(0));
                }
                Some(Ok(_)) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    async fn send(socket: &mut Socket, value: Value) {
        socket.send(Message::text(value.to_string())).await.unwrap();
    }

    fn identify(token: &str) -> Value {
        json!({"op": 2, "d": {"token": token, "intents": 0, "shard": [0, 1],
               "properties": {"os": "linux", "browser": "test", "device": "test"}}})
    }

    #[tokio::test]
    async fn the_gateway_follows_the_documented_handshake_and_refusals() {
        let gateway = FakeGateway::start_with_heartbeat("secret", "12", 5000).await;
        let mut old = connect(&gateway, "v=9&encoding=json").await;
        assert_eq!(next(&mut old).await, Err(4012));

        let mut wrong = connect(&gateway, "v=10&encoding=json").await;
        assert_eq!(
            next(&mut wrong).await.unwrap()["d"]["heartbeat_interval"],
            5000
        );
        send(&mut wrong, identify("Bot other")).await;
        assert_eq!(next(&mut wrong).await, Err(4004));

        let mut socket = connect(&gateway, "v=10&encoding=json").await;
        assert_eq!(next(&mut socket).await.unwrap()["op"], 10);
        send(&mut socket, json!({"op": 1, "d": null})).await;
        assert_eq!(next(&mut socket).await.unwrap()["op"], 11);
        send(&mut socket, identify("Bot secret")).await;
        let ready = next(&mut socket).await.unwrap();
        assert_eq!(
            (ready["op"].clone(), ready["t"].clone(), ready["s"].clone()),
            (json!(0), json!("READY"), json!(1))
        );
        assert_eq!(ready["d"]["application"]["id"], "12");
        assert_eq!(gateway.interaction_create(json!({"id": "1"})), 1);
        let dispatch = next(&mut socket).await.unwrap();
        assert_eq!(dispatch["t"], "INTERACTION_CREATE");
        assert_eq!(dispatch["s"], 2);
        send(&mut socket, identify("Bot secret")).await;
        assert_eq!(next(&mut socket).await, Err(4005));

        let stats = gateway.stats();
        assert_eq!(
            (stats.connections, stats.identified, stats.heartbeats),
            (2, 1, 1)
        );
        assert_eq!(stats.refused, [4012, 4004, 4005]);
    }
}

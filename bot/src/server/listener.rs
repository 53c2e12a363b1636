//! The HTTP server's connections: opsbot's own accept loop over hyper's HTTP/1
//! connections, because `axum::serve` has no timeouts and no connection cap (20,000 idle
//! connections once exhausted the process's file descriptors, and `/healthz` with them).
//!
//! * `[server] header_timeout` is hyper's header read timeout. Its clock runs whenever a
//!   connection waits for a request head — from when it opens and after each response —
//!   so it also closes idle keep-alive connections and ones that send partial headers.
//! * `[server] request_timeout` is tower-http's `TimeoutLayer`, from the head to the
//!   answer, reading the body included; beyond it the answer is 503 (Alertmanager retries
//!   5xx, and a slow store is the likely cause) and the connection closes.
//! * `[server] max_connections` is a semaphore. At the cap the oldest open connection is
//!   asked to close (hyper closes it at once when it is idle or still sending its head,
//!   otherwise after its current request) and the new one waits up to [`EVICTION_WAIT`]
//!   for the freed slot; when none frees, it is answered 503 with `Retry-After` and closed
//!   at once, so its descriptor comes back. A flood of idle connections therefore cannot
//!   keep `/healthz` out.
//! * Shutdown stops accepting, asks every connection to close gracefully (requests in
//!   flight finish, within the request timeout) and waits for them.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{Router, http::StatusCode};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Notify, Semaphore, watch},
};
use tower_http::timeout::TimeoutLayer;

use crate::config::ServerConfig;

/// How long a connection arriving at the cap waits for the slot of the connection asked
/// to close.
pub const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// How long the accept loop pauses after `accept` fails (out of descriptors: `EMFILE`).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The server's timeouts and connection cap (`[server]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            header_timeout: server.header_timeout.as_duration(),
            request_timeout: server.request_timeout.as_duration(),
            max_connections: server.max_connections,
        }
    }
}

/// Open connections, oldest first, each with the signal that asks it to close.
#[derive(Default)]
struct OpenConnections(Mutex<BTreeMap<u64, Arc<Notify>>>);

impl OpenConnections {
    fn insert(&self, id: u64) -> Arc<Notify> {
        let close = Arc::new(Notify::new());
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, close.clone());
        close
    }

    fn remove(&self, id: u64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// Asks the oldest connection not yet asked to close; `false` when there is none.
    fn close_oldest(&self) -> bool {
        let oldest = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_first();
        match oldest {
            Some((_, close)) => {
                // `notify_one` keeps the permit if the connection is not waiting yet.
                close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains the connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let router = router.layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        limits.request_timeout,
    ));
    let max = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(max));
    let open = Arc::new(OpenConnections::default());
    let (stop, stopped) = watch::channel(false);
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accepting an HTTP connection failed");
                    open.close_oldest();
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                open.close_oldest();
                match tokio::time::timeout(EVICTION_WAIT, slots.clone().acquire_owned()).await {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        tracing::warn!(
                            max_connections = max,
                            "HTTP connection refused: at [server] max_connections"
                        );
                        refuse(stream);
                        continue;
                    }
                }
            }
        };
        let id = next_id;
        next_id += 1;
        let close = open.insert(id);
        let open = open.clone();
        let router = router.clone();
        let stopped = stopped.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            connection(stream, router, header_timeout, close, stopped).await;
            open.remove(id);
            drop(slot);
        });
    }
    let _ = stop.send(true);
    // Every connection holds a slot until it ends.
    let _ = slots.acquire_many(max as u32).await;
}

/// Serves one connection until it ends, or closes it gracefully when asked.
async fn connection(
    stream: TcpStream,
    router: Router,
    header_timeout: Duration,
    close: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(conn);
    let stop = async {
        tokio::select! {
            () = close.notified() => {}
            _ = stopped.wait_for(|stop| *stop) => {}
        }
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "HTTP connection ended with an error");
    }
}

/// Answers a connection over the cap with a 503 and closes it. The answer is written
/// without waiting (it fits an empty socket buffer); if it does not, the close says it.
fn refuse(stream: TcpStream) {
    let body = "too many open connections; retry\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nconnection: close\r\n\
         content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    // Dropped here: closed.
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::{extract::State, routing::get};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// Guards every wait on the server against hanging forever; never reached when the
    /// server behaves.
    const GUARD: Duration = Duration::from_secs(30);

    /// What `/hold` waits for, and how a test knows a hold is in its handler.
    struct Holds {
        release: Notify,
        entered: Semaphore,
    }

    /// `/healthz` answers; `/hold` answers once the test releases it.
    fn app(holds: Arc<Holds>) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route(
                "/hold",
                get(|State(holds): State<Arc<Holds>>| async move {
                    let released = holds.release.notified();
                    holds.entered.add_permits(1);
                    released.await;
                    "released\n"
                }),
            )
            .with_state(holds)
    }

    struct Server {
        addr: SocketAddr,
        holds: Arc<Holds>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Server {
        /// Waits until `n` more holds are in their handler.
        async fn entered(&self, n: u32) {
            let entered = self.holds.entered.acquire_many(n);
            tokio::time::timeout(GUARD, entered)
                .await
                .expect("the holds did not reach their handler")
                .unwrap()
                .forget();
        }

        fn release(&self) {
            self.holds.release.notify_waiters();
        }
    }

    async fn start(limits: Limits) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let holds = Arc::new(Holds {
            release: Notify::new(),
            entered: Semaphore::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = app(holds.clone());
        let task = tokio::spawn(serve(listener, router, limits, async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            holds,
            stop: Some(stop),
            task,
        }
    }

    fn limits(header_timeout: Duration, max_connections: usize) -> Limits {
        Limits {
            header_timeout,
            request_timeout: Duration::from_secs(3600),
            max_connections,
        }
    }

    async fn send(stream: &mut TcpStream, path: &str) {
        let request = format!("GET {path} HTTP/1.1\r\nhost: opsbot\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
    }

    /// Reads one response (status and body; the test routes send `content-length`).
    async fn response(stream: &mut TcpStream) -> (u16, String) {
        let read = async {
            let mut data = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                let text = String::from_utf8_lossy(&data).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                        return (status, body.to_string());
                    }
                }
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed before a whole response: {text:?}");
                data.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout(GUARD, read)
            .await
            .expect("no response")
    }

    /// Waits until the server closes `stream`; what it sent before closing.
    async fn closed(stream: &mut TcpStream) -> String {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(GUARD, stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the server did not close the connection");
        String::from_utf8_lossy(&rest).into_owned()
    }

    async fn connect(server: &Server) -> TcpStream {
        TcpStream::connect(server.addr).await.unwrap()
    }

    #[tokio::test]
    async fn partial_headers_and_idle_keep_alive_are_closed_after_the_header_timeout() {
        let server = start(limits(Duration::from_millis(200), 16)).await;

        let mut partial = connect(&server).await;
        partial
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: opsbot\r\n")
            .await
            .unwrap();
        let sent = closed(&mut partial).await;
        assert!(!sent.contains("ok"), "{sent}");

        let mut idle = connect(&server).await;
        send(&mut idle, "/healthz").await;
        assert_eq!(response(&mut idle).await, (200, "ok\n".to_string()));
        // Kept alive, then idle: closed by the same clock.
        assert_eq!(closed(&mut idle).await, "");

        let mut silent = connect(&server).await;
        assert_eq!(
            closed(&mut silent).await,
            "",
            "a connection that never speaks"
        );
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_makes_room_for_healthz() {
        // Idle connections would stay an hour on their own.
        let server = start(limits(Duration::from_secs(3600), 3)).await;
        let mut idle = Vec::new();
        for _ in 0..3 {
            let mut stream = connect(&server).await;
            send(&mut stream, "/healthz").await;
            assert_eq!(response(&mut stream).await.0, 200);
            idle.push(stream);
        }
        let mut probe = connect(&server).await;
        send(&mut probe, "/healthz").await;
        assert_eq!(response(&mut probe).await, (200, "ok\n".to_string()));
        assert_eq!(closed(&mut idle[0]).await, "", "the oldest made room");

        // Again and again: a flood of idle connections never keeps the probe out.
        for _ in 0..5 {
            let mut flood = connect(&server).await;
            send(&mut flood, "/healthz").await;
            assert_eq!(response(&mut flood).await.0, 200);
            idle.push(flood);
        }
        let mut probe = connect(&server).await;
        send(&mut probe, "/healthz").await;
        assert_eq!(response(&mut probe).await.0, 200);
    }

    #[tokio::test]
    async fn at_the_cap_of_busy_connections_a_new_one_gets_503_then_gets_in() {
        let server = start(limits(Duration::from_secs(3600), 2)).await;
        let mut busy = Vec::new();
        for _ in 0..2 {
            let mut stream = connect(&server).await;
            send(&mut stream, "/hold").await;
            busy.push(stream);
        }
        server.entered(2).await;
        // Asks the oldest hold to close (after its request) and, no slot freeing within
        // the eviction wait, refuses at once. (It sends nothing, so the close is clean.)
        let mut refused = connect(&server).await;
        let answer = closed(&mut refused).await;
        assert!(
            answer.starts_with("HTTP/1.1 503") && answer.contains("retry-after: 1"),
            "{answer}"
        );
        assert!(
            answer.ends_with("too many open connections; retry\n"),
            "{answer}"
        );

        server.release();
        for stream in &mut busy {
            assert_eq!(response(stream).await, (200, "released\n".to_string()));
        }
        assert_eq!(
            closed(&mut busy[0]).await,
            "",
            "asked to close: after its request"
        );
        let mut probe = connect(&server).await;
        send(&mut probe, "/healthz").await;
        assert_eq!(response(&mut probe).await.0, 200);
    }

    #[tokio::test]
    async fn a_request_over_the_request_timeout_gets_503() {
        let server = start(Limits {
            header_timeout: Duration::from_secs(3600),
            request_timeout: Duration::from_millis(100),
            max_connections: 4,
        })
        .await;
        let mut stream = connect(&server).await;
        send(&mut stream, "/hold").await;
        assert_eq!(response(&mut stream).await.0, 503);
    }

    #[tokio::test]
    async fn shutdown_lets_requests_in_flight_finish_and_closes_idle_connections() {
        let mut server = start(limits(Duration::from_secs(3600), 8)).await;
        let mut idle = connect(&server).await;
        send(&mut idle, "/healthz").await;
        assert_eq!(response(&mut idle).await.0, 200);
        let mut busy = connect(&server).await;
        send(&mut busy, "/hold").await;
        server.entered(1).await;

        let _ = server.stop.take().unwrap().send(());
        assert_eq!(closed(&mut idle).await, "", "idle: closed at once");
        assert!(!server.task.is_finished(), "a request is in flight");
        server.release();
        assert_eq!(response(&mut busy).await, (200, "released\n".to_string()));
        tokio::time::timeout(GUARD, server.task)
            .await
            .expect("serve returns once drained")
            .unwrap();
        assert!(
            TcpStream::connect(server.addr).await.is_err(),
            "no longer listening"
        );
    }
}

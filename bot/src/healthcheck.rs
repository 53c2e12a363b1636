//! `opsbot healthcheck`: one `GET /healthz` against a running opsbot, for container
//! health checks (Docker `HEALTHCHECK`) in images without curl or a shell. Plain HTTP/1.0
//! over a std `TcpStream` with timeouts: no async runtime, no TLS, nothing to install.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream, ToSocketAddrs},
    time::Duration,
};

/// How long connecting, writing and reading may each take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Why a health check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("`{0}` is not an http://HOST:PORT/PATH URL")]
    BadUrl(String),
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url} answered something that is not HTTP")]
    NotHttp { url: String },
    #[error("{url} answered {status}")]
    Unhealthy { url: String, status: u16 },
}

/// The URL checked when none is given: `/healthz` on the port of `listen` (the
/// `OPSBOT_LISTEN` value, e.g. `0.0.0.0:8080`), reached over loopback; without it, the
/// default listen address `127.0.0.1:8080`.
pub fn default_url(listen: Option<&str>) -> String {
    let port = listen
        .and_then(|text| text.trim().parse::<SocketAddr>().ok())
        .map_or(8080, |addr| addr.port());
    format!("http://127.0.0.1:{port}/healthz")
}

/// GETs `url` and succeeds when it answers 200.
pub fn check(url: &str) -> Result<(), HealthcheckError> {
    let (authority, path) = split_url(url)?;
    let unreachable = |source| HealthcheckError::Unreachable {
        url: url.to_string(),
        source,
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(unreachable)?
        .next()
        .ok_or_else(|| HealthcheckError::BadUrl(url.to_string()))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    // The status line is all we need; 64 bytes hold it.
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < head.len() {
        match stream.read(&mut head[filled..]).map_err(unreachable)? {
            0 => break,
            n => filled += n,
        }
    }
    let status = parse_status(&head[..filled]).ok_or_else(|| HealthcheckError::NotHttp {
        url: url.to_string(),
    })?;
    if status == 200 {
        Ok(())
    } else {
        Err(HealthcheckError::Unhealthy {
            url: url.to_string(),
            status,
        })
    }
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(&str, &str), HealthcheckError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| HealthcheckError::BadUrl(url.to_string()))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    if authority.is_empty() || !authority.contains(':') {
        return Err(HealthcheckError::BadUrl(url.to_string()));
    }
    Ok((authority, path))
}

/// The status code of `HTTP/1.x NNN ...`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head.get(..12)?).ok()?;
    let mut parts = text.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A one-shot HTTP server answering `response` to the first request.
    fn serve_once(response: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let n = stream.read(&mut request).unwrap();
            assert!(request[..n].starts_with(b"GET /healthz HTTP/1.0\r\n"));
            stream.write_all(response.as_bytes()).unwrap();
        });
        format!("http://127.0.0.1:{port}/healthz")
    }

    #[test]
    fn ok_is_healthy() {
        let url = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        check(&url).unwrap();
    }

    #[test]
    fn another_status_is_unhealthy() {
        let url = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert!(matches!(
            check(&url),
            Err(HealthcheckError::Unhealthy { status: 503, .. })
        ));
    }

    #[test]
    fn garbage_is_not_http() {
        let url = serve_once("SSH-2.0-OpenSSH_9.2\r\n");
        assert!(matches!(check(&url), Err(HealthcheckError::NotHttp { .. })));
    }

    #[test]
    fn nothing_listening_is_unreachable() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/healthz");
        assert!(matches!(
            check(&url),
            Err(HealthcheckError::Unreachable { .. })
        ));
    }

    #[test]
    fn urls_and_defaults() {
        assert!(matches!(
            check("https://127.0.0.1:8080/healthz"),
            Err(HealthcheckError::BadUrl(_))
        ));
        assert!(matches!(
            check("http:///x"),
            Err(HealthcheckError::BadUrl(_))
        ));
        assert_eq!(default_url(None), "http://127.0.0.1:8080/healthz");
        assert_eq!(
            default_url(Some("0.0.0.0:9000")),
            "http://127.0.0.1:9000/healthz"
        );
        assert_eq!(
            default_url(Some("not an address")),
            "http://127.0.0.1:8080/healthz"
        );
    }
}

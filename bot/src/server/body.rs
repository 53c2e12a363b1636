//! Reading a request body up to a limit into one buffer, for the alert endpoints whose
//! bodies are large (a 7,000-alert Alertmanager batch is 2.3 MB).
//!
//! A declared `Content-Length` over the limit is refused before anything is read; the
//! buffer is sized from it once, and each frame is appended and dropped as it arrives, so
//! a body is held once (not as a list of frames and then a contiguous copy, as a
//! `Bytes` extractor does) and parsed from that buffer in place.

use axum::{
    body::Body,
    http::{HeaderMap, header},
};
use futures_util::StreamExt as _;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body could not be read: {0}")]
    Read(#[source] axum::Error),
}

/// Reads `body` whole, refusing more than `limit` bytes.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let capacity = declared.map_or(0, |length| length as usize);
    let mut buffer = Vec::with_capacity(capacity);
    let mut frames = body.into_data_stream();
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(BodyError::Read)?;
        if buffer.len().saturating_add(frame.len()) > limit {
            return Err(BodyError::TooLarge { limit });
        }
        buffer.extend_from_slice(&frame);
    }
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn length(n: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        headers
    }

    fn chunked(parts: &[&'static [u8]]) -> Body {
        let frames: Vec<Result<&'static [u8], std::io::Error>> =
            parts.iter().map(|p| Ok(*p)).collect();
        Body::from_stream(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn reads_up_to_the_limit_and_refuses_beyond() {
        let read = read_limited(&length(5), Body::from("hello"), 5)
            .await
            .unwrap();
        assert_eq!(read, b"hello");
        let read = read_limited(&HeaderMap::new(), chunked(&[b"he", b"llo"]), 5)
            .await
            .unwrap();
        assert_eq!(read, b"hello");

        let declared = read_limited(&length(6), Body::from("hello!"), 5).await;
        assert!(
            matches!(declared, Err(BodyError::TooLarge { limit: 5 })),
            "{declared:?}"
        );
        let streamed = read_limited(&HeaderMap::new(), chunked(&[b"hel", b"lo!"]), 5).await;
        assert!(
            matches!(streamed, Err(BodyError::TooLarge { limit: 5 })),
            "{streamed:?}"
        );
        // A lying Content-Length does not get past the limit either.
        let lying = read_limited(&length(1), Body::from("hello!"), 5).await;
        assert!(
            matches!(lying, Err(BodyError::TooLarge { .. })),
            "{lying:?}"
        );
    }
}

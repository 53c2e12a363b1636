//! Reads a response body with a size cap, so a misbehaving endpoint cannot make opsbot
//! buffer gigabytes.

/// Health bodies are small; Prometheus answers with many series can be larger.
pub(crate) const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The body, cut at [`MAX_BODY_BYTES`].
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY_BYTES - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

//! Decoding `GET /containers/{id}/logs`. Without a TTY the Engine multiplexes stdout and
//! stderr into frames: an 8-byte header (stream type `0`/`1`/`2`, three zero bytes, the
//! payload size as a big-endian `u32`) followed by the payload. With a TTY the body is the
//! raw terminal output.

/// Splits a logs body into lines, decoding the multiplexed format unless the container
/// has a TTY. Partial lines are joined across frames of the same stream.
pub fn decode_lines(body: &[u8], tty: bool) -> Vec<String> {
    if tty || !looks_multiplexed(body) {
        return split_lines(body);
    }
    let mut lines = Vec::new();
    // Pending partial line per stream (stdin, stdout, stderr).
    let mut pending: [Vec<u8>; 3] = Default::default();
    let mut rest = body;
    while rest.len() >= 8 {
        let stream = usize::from(rest[0].min(2));
        let size = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + size).min(rest.len());
        let payload = &rest[8..end];
        rest = &rest[end..];
        let buffer = &mut pending[stream];
        for &byte in payload {
            if byte == b'\n' {
                lines.push(to_line(buffer));
                buffer.clear();
            } else {
                buffer.push(byte);
            }
        }
    }
    for buffer in pending.iter().filter(|b| !b.is_empty()) {
        lines.push(to_line(buffer));
    }
    lines
}

/// A multiplexed body starts with a header: a stream type of 0–2 and three zero bytes.
fn looks_multiplexed(body: &[u8]) -> bool {
    body.len() >= 8 && body[0] <= 2 && body[1..4] == [0, 0, 0]
}

fn split_lines(body: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = body.split(|&b| b == b'\n').map(to_line).collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

fn to_line(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, payload: &str) -> Vec<u8> {
        let mut out = vec![stream, 0, 0, 0];
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload.as_bytes());
        out
    }

    #[test]
    fn decodes_frames_and_joins_partial_lines() {
        let mut body = frame(1, "starting\nlist");
        body.extend(frame(2, "WARN slow disk\n"));
        body.extend(frame(1, "ening on :8082\n"));
        body.extend(frame(1, "no newline at end"));
        assert_eq!(
            decode_lines(&body, false),
            vec![
                "starting",
                "WARN slow disk",
                "listening on :8082",
                "no newline at end"
            ]
        );
    }

    #[test]
    fn tty_output_is_raw() {
        assert_eq!(
            decode_lines(b"a\r\nb\n", true),
            vec!["a".to_string(), "b".to_string()]
        );
        assert!(decode_lines(b"", false).is_empty());
    }

    #[test]
    fn truncated_frame_keeps_what_arrived() {
        let mut body = frame(1, "whole\n");
        let mut cut = frame(1, "cut short\n");
        cut.truncate(12);
        body.extend(cut);
        assert_eq!(decode_lines(&body, false), vec!["whole", "cut "]);
    }
}

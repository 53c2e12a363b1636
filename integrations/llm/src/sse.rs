//! Server-sent events, as the streamed chat completions use them: events separated by a
//! blank line, each `data:` line's value joined by newlines, comments (`:`) and other
//! fields ignored. Bytes arrive in arbitrary pieces; [`SseDecoder::push`] returns the
//! `data` of every event completed so far.

/// Splits a byte stream into the `data` payloads of its events.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    pending: Vec<u8>,
}

impl SseDecoder {
    /// Takes the next bytes; the data of each event they complete, in order.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, String> {
        self.pending.extend(bytes.iter().filter(|&&b| b != b'\r'));
        let mut events = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            let text = std::str::from_utf8(&block[..end])
                .map_err(|_| "an event is not UTF-8".to_string())?;
            if let Some(data) = data_of(text) {
                events.push(data);
            }
        }
        Ok(events)
    }

    /// The data of an event left unterminated when the stream ended, if any.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        std::str::from_utf8(&rest).ok().and_then(data_of)
    }
}

/// The joined `data:` lines of one event; `None` when it has none.
fn data_of(block: &str) -> Option<String> {
    let mut data: Option<String> = None;
    for line in block.lines() {
        let Some(value) = line.strip_prefix("data:") else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match &mut data {
            Some(joined) => {
                joined.push('\n');
                joined.push_str(value);
            }
            None => data = Some(value.to_string()),
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::SseDecoder;

    #[test]
    fn events_split_anywhere_are_joined() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.push(b"data: {\"a\"").unwrap().is_empty());
        assert_eq!(
            decoder
                .push(b":1}\r\n\r\n: keep-alive\n\ndata: [DO")
                .unwrap(),
            vec!["{\"a\":1}".to_string()]
        );
        assert_eq!(decoder.push(b"NE]\n\n").unwrap(), vec!["[DONE]"]);
        assert_eq!(decoder.finish(), None);
    }

    #[test]
    fn multi_line_data_and_other_fields() {
        let mut decoder = SseDecoder::default();
        let events = decoder
            .push(b"event: x\nid: 1\ndata: one\ndata:two\n\n")
            .unwrap();
        assert_eq!(events, vec!["one\ntwo"]);
    }
}

//! Assembling a streamed answer: each chunk's `choices[0].delta` adds text (`content`)
//! or pieces of tool calls (`tool_calls`, joined by their `index`: the first piece
//! carries `id` and `function.name`, the rest append to `function.arguments`); a chunk
//! with `usage` (the last one, with `stream_options.include_usage`) reports tokens; an
//! `error` object is the endpoint failing mid-stream.

use serde::Deserialize;

use crate::{LlmError, ToolCall};

/// Tokens the endpoint reports for one completion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

/// A finished answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    /// `None` when the endpoint did not report usage.
    pub usage: Option<Usage>,
    /// `stop`, `tool_calls`, `length`, … as the last choice said.
    pub finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Default, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// A completion being assembled from its chunks.
#[derive(Debug, Default)]
pub(crate) struct Assembly {
    completion: Completion,
    /// Tool calls by index, as their pieces arrive.
    calls: Vec<Option<ToolCall>>,
    /// Bytes of text and arguments so far.
    size: usize,
    pub(crate) done: bool,
}

impl Assembly {
    /// Adds one event's data; the text it adds (to stream on), if any.
    pub(crate) fn add(&mut self, data: &str, limit: usize) -> Result<Option<String>, LlmError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            LlmError::Malformed(format!("a chunk is not the documented JSON ({e})"))
        })?;
        if let Some(error) = chunk.error {
            let message = error
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| error.to_string(), str::to_string);
            return Err(LlmError::Malformed(format!(
                "the endpoint reported: {message}"
            )));
        }
        if let Some(usage) = chunk.usage {
            self.completion.usage = Some(usage);
        }
        let mut text = None;
        for choice in chunk.choices.into_iter().take(1) {
            if let Some(reason) = choice.finish_reason {
                self.completion.finish_reason = Some(reason);
            }
            if let Some(content) = choice.delta.content.filter(|c| !c.is_empty()) {
                self.size += content.len();
                self.completion.content.push_str(&content);
                text = Some(content);
            }
            for piece in choice.delta.tool_calls {
                self.add_call_piece(piece)?;
            }
        }
        if self.size > limit {
            return Err(LlmError::Endless(limit));
        }
        Ok(text)
    }

    fn add_call_piece(&mut self, piece: ToolCallDelta) -> Result<(), LlmError> {
        if piece.index > 64 {
            return Err(LlmError::Malformed(format!(
                "tool call index {} is beyond any sensible answer",
                piece.index
            )));
        }
        if self.calls.len() <= piece.index {
            self.calls.resize(piece.index + 1, None);
        }
        let slot = &mut self.calls[piece.index];
        let call = slot.get_or_insert_with(|| ToolCall {
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
        });
        if let Some(id) = piece.id {
            call.id = id;
        }
        if let Some(function) = piece.function {
            if let Some(name) = function.name {
                call.name.push_str(&name);
            }
            if let Some(arguments) = function.arguments {
                self.size += arguments.len();
                call.arguments.push_str(&arguments);
            }
        }
        Ok(())
    }

    /// The completion, once the stream ended.
    pub(crate) fn finish(mut self) -> Result<Completion, LlmError> {
        if !self.done && self.completion.finish_reason.is_none() {
            return Err(LlmError::Malformed(
                "the stream ended before the answer did (no finish_reason, no [DONE])".into(),
            ));
        }
        for (index, call) in self.calls.into_iter().enumerate() {
            let Some(mut call) = call else { continue };
            if call.name.is_empty() {
                return Err(LlmError::Malformed(format!(
                    "tool call {index} has no function name"
                )));
            }
            if call.id.is_empty() {
                call.id = format!("call_{index}");
            }
            self.completion.tool_calls.push(call);
        }
        Ok(self.completion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 10_000;

    #[test]
    fn text_tool_calls_and_usage_are_assembled() {
        let mut assembly = Assembly::default();
        let chunks = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Look"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"ing"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"health","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"logs","arguments":"{\"service\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"service\":\"ollama\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"ollama\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150}}"#,
            "[DONE]",
        ];
        let mut streamed = String::new();
        for chunk in chunks {
            if let Some(text) = assembly.add(chunk, LIMIT).unwrap() {
                streamed.push_str(&text);
            }
        }
        let done = assembly.finish().unwrap();
        assert_eq!(streamed, "Looking");
        assert_eq!(done.content, "Looking");
        assert_eq!(done.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            done.usage,
            Some(Usage {
                prompt_tokens: 120,
                completion_tokens: 30
            })
        );
        assert_eq!(done.tool_calls.len(), 2);
        assert_eq!(done.tool_calls[0].id, "call_a");
        assert_eq!(done.tool_calls[0].name, "health");
        assert_eq!(done.tool_calls[0].arguments, r#"{"service":"ollama"}"#);
        assert_eq!(done.tool_calls[1].arguments, r#"{"service":"ollama"}"#);
    }

    #[test]
    fn malformed_truncated_and_endless_answers_are_errors() {
        let mut assembly = Assembly::default();
        assert!(matches!(
            assembly.add("{not json", LIMIT),
            Err(LlmError::Malformed(_))
        ));
        let mut assembly = Assembly::default();
        assembly
            .add(r#"{"choices":[{"delta":{"content":"half"}}]}"#, LIMIT)
            .unwrap();
        assert!(matches!(assembly.finish(), Err(LlmError::Malformed(_))));
        let mut assembly = Assembly::default();
        let long = format!(
            r#"{{"choices":[{{"delta":{{"content":"{}"}}}}]}}"#,
            "x".repeat(40)
        );
        assert!(matches!(
            assembly.add(&long, 16),
            Err(LlmError::Endless(16))
        ));
        let mut assembly = Assembly::default();
        let error = assembly.add(r#"{"error":{"message":"model not found"}}"#, LIMIT);
        assert!(
            matches!(&error, Err(LlmError::Malformed(m)) if m.contains("model not found")),
            "{error:?}"
        );
    }
}

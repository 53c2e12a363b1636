//! # opsbot-llm
//!
//! A client of the OpenAI-compatible chat completions API (`POST {base_url}/chat/completions`)
//! as Ollama (`http://host:11434/v1`), vLLM, llama.cpp's server and OpenAI serve it, for
//! opsbot's investigator. It asks for a streamed answer (`stream: true`, with
//! `stream_options.include_usage` so the last chunk carries token usage), offers the
//! caller's tools, and assembles what streams back: the text (handed to the caller as it
//! grows), the tool calls (their deltas joined by index) and the usage.
//!
//! It knows nothing of opsbot: no commands, no chat, no redaction (the caller redacts
//! what it sends). Every failure is a typed [`LlmError`]: the endpoint down, an HTTP
//! status, a timeout, a malformed chunk, an answer that never ends.

mod client;
mod completion;
mod error;
mod message;
mod sse;

pub use client::{ChatClient, ChatSettings};
pub use completion::{Completion, Usage};
pub use error::LlmError;
pub use message::{Message, Role, ToolCall, ToolSpec};

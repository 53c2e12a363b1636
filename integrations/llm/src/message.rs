//! The request side of chat completions: [`Message`]s of a conversation (system, user,
//! assistant with its tool calls, tool results) and the [`ToolSpec`]s offered, in the
//! JSON shapes of the OpenAI API reference.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// The text; `None` for an assistant message that only calls tools.
    #[serde(default)]
    pub content: Option<String>,
    /// The tool calls of an assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Which call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    fn plain(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content)
    }

    /// The model's turn: its text and the tools it called.
    pub fn assistant(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        let content: String = content.into();
        Self {
            role: Role::Assistant,
            content: (!content.is_empty() || tool_calls.is_empty()).then_some(content),
            tool_calls,
            tool_call_id: None,
        }
    }

    /// The result of tool call `id`.
    pub fn tool(id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(id.into()),
            ..Self::plain(Role::Tool, content)
        }
    }
}

/// A tool call the model made: `{"id", "type": "function", "function": {"name",
/// "arguments"}}`, the arguments a JSON text as the model wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        })
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ToolCall {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Function {
            name: String,
            #[serde(default)]
            arguments: String,
        }
        #[derive(Deserialize)]
        struct Wire {
            id: String,
            function: Function,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(ToolCall {
            id: wire.id,
            name: wire.function.name,
            arguments: wire.function.arguments,
        })
    }
}

/// A tool offered to the model: a function with a JSON Schema of its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON Schema object.
    pub parameters: Value,
}

impl Serialize for ToolSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        })
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_documented_shapes() {
        let call = ToolCall {
            id: "call_1".into(),
            name: "health".into(),
            arguments: r#"{"service":"ollama"}"#.into(),
        };
        let assistant = serde_json::to_value(Message::assistant("", vec![call.clone()])).unwrap();
        assert_eq!(
            assistant,
            serde_json::json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "health", "arguments": "{\"service\":\"ollama\"}"}}
            ]})
        );
        let tool = serde_json::to_value(Message::tool("call_1", "ok")).unwrap();
        assert_eq!(
            tool,
            serde_json::json!({"role": "tool", "content": "ok", "tool_call_id": "call_1"})
        );
        let back: Message = serde_json::from_value(assistant).unwrap();
        assert_eq!(back.tool_calls, vec![call]);
    }
}

//! The tools the model may call, and what each call becomes: a read-only command line
//! (`health SERVICE`, `logs SERVICE …`, `rollback SERVICE --list`, `cost SERVICE`,
//! `incident show ID`) run through the engine as the asker, or the look-up of similar
//! past incidents. Nothing else: a call of any other name (`restart`, `run_command`, …)
//! or with arguments that are not plain words is refused, and the refusal recorded.

use opsbot_llm::{ToolCall, ToolSpec};
use serde_json::{Value, json};

/// What one tool call asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolRequest {
    /// Run this read-only command line.
    Command(String),
    /// Look up similar past incidents (same service or alert) and what closed them.
    SimilarIncidents,
    /// Not offered: the name the model used and why it is refused.
    Refused { command: String, why: String },
}

/// The tools offered to the model.
pub fn specs() -> Vec<ToolSpec> {
    let service = || {
        json!({"type": "object", "properties": {
            "service": {"type": "string", "description": "the service's name in opsbot's catalog"}
        }, "required": ["service"]})
    };
    vec![
        ToolSpec {
            name: "health".into(),
            description: "Health checks and the runtime's view of a service (opsbot `health SERVICE`)".into(),
            parameters: service(),
        },
        ToolSpec {
            name: "logs".into(),
            description: "Recent log lines of a service, secrets redacted (opsbot `logs SERVICE`)".into(),
            parameters: json!({"type": "object", "properties": {
                "service": {"type": "string"},
                "since": {"type": "string", "description": "how far back, e.g. 15m, 1h"},
                "grep": {"type": "string", "description": "keep only lines containing this text"}
            }, "required": ["service"]}),
        },
        ToolSpec {
            name: "rollout_history".into(),
            description: "The service's recent revisions: what changed and when (opsbot `rollback SERVICE --list`)".into(),
            parameters: service(),
        },
        ToolSpec {
            name: "cost".into(),
            description: "The service's recent spend (opsbot `cost SERVICE`)".into(),
            parameters: service(),
        },
        ToolSpec {
            name: "incident_show".into(),
            description: "An incident: its alerts and timeline (opsbot `incident show ID`)".into(),
            parameters: json!({"type": "object", "properties": {
                "id": {"type": "integer"}
            }, "required": ["id"]}),
        },
        ToolSpec {
            name: "similar_incidents".into(),
            description: "Earlier incidents of the same service or alert, and what was done to close them".into(),
            parameters: json!({"type": "object", "properties": {}}),
        },
    ]
}

/// What `call` asks for.
pub fn interpret(call: &ToolCall) -> ToolRequest {
    let arguments: Value = if call.arguments.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&call.arguments) {
            Ok(value) => value,
            Err(error) => {
                return refused(call, format!("its arguments are not JSON ({error})"));
            }
        }
    };
    let word = |key: &str| -> Result<String, String> {
        let value = arguments
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("`{key}` is missing"))?;
        plain_word(value).ok_or_else(|| format!("`{key}` is not a plain name: `{value}`"))
    };
    let line = match call.name.as_str() {
        "health" => word("service").map(|s| format!("health {s}")),
        "rollout_history" => word("service").map(|s| format!("rollback {s} --list")),
        "cost" => word("service").map(|s| format!("cost {s}")),
        "logs" => word("service").and_then(|s| {
            let mut line = format!("logs {s} --tail 50");
            if let Some(since) = arguments.get("since").and_then(Value::as_str) {
                let since = plain_word(since)
                    .ok_or_else(|| format!("`since` is not a duration: `{since}`"))?;
                line.push_str(&format!(" --since {since}"));
            }
            if let Some(grep) = arguments.get("grep").and_then(Value::as_str) {
                if grep.contains(['"', '\n', '\\']) || grep.trim().is_empty() {
                    return Err(format!("`grep` is not plain text: `{grep}`"));
                }
                line.push_str(&format!(" --grep \"{grep}\""));
            }
            Ok(line)
        }),
        "incident_show" => arguments
            .get("id")
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str()?.trim_start_matches('#').parse().ok())
            })
            .map(|id| format!("incident show {id}"))
            .ok_or_else(|| "`id` is not an incident number".to_string()),
        "similar_incidents" => return ToolRequest::SimilarIncidents,
        _ => {
            return refused(
                call,
                format!(
                    "`{}` is not one of the investigator's read-only tools; it may only read, \
                     and propose actions for a person to run",
                    call.name
                ),
            );
        }
    };
    match line {
        Ok(line) => ToolRequest::Command(line),
        Err(why) => refused(call, why),
    }
}

fn refused(call: &ToolCall, why: String) -> ToolRequest {
    ToolRequest::Refused {
        command: call.name.clone(),
        why,
    }
}

/// `value` when it is one plain word (a service name, a duration): letters, digits,
/// `-`, `_`, `.`, `/`, `:`; nothing the command language would read as a flag or a
/// second argument.
fn plain_word(value: &str) -> Option<String> {
    let value = value.trim();
    let plain = !value.is_empty()
        && !value.starts_with('-')
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'));
    plain.then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: "call_1".into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn read_only_tools_become_command_lines() {
        assert_eq!(
            interpret(&call("health", r#"{"service":"ollama"}"#)),
            ToolRequest::Command("health ollama".into())
        );
        assert_eq!(
            interpret(&call("rollout_history", r#"{"service":"ollama"}"#)),
            ToolRequest::Command("rollback ollama --list".into())
        );
        assert_eq!(
            interpret(&call(
                "logs",
                r#"{"service":"ollama","since":"1h","grep":"CUDA error"}"#
            )),
            ToolRequest::Command("logs ollama --tail 50 --since 1h --grep \"CUDA error\"".into())
        );
        assert_eq!(
            interpret(&call("incident_show", r#"{"id":7}"#)),
            ToolRequest::Command("incident show 7".into())
        );
        assert_eq!(
            interpret(&call("similar_incidents", "")),
            ToolRequest::SimilarIncidents
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for (name, arguments) in [
            ("restart", r#"{"service":"ollama"}"#),
            ("run_command", r#"{"command":"restart ollama"}"#),
            ("health", r#"{"service":"ollama --env prod"}"#),
            ("rollout_history", r#"{"service":"ollama --to 3"}"#),
            ("logs", r#"{"service":"ollama","grep":"a\" --since 1h"}"#),
            ("health", "{not json"),
        ] {
            assert!(
                matches!(
                    interpret(&call(name, arguments)),
                    ToolRequest::Refused { .. }
                ),
                "{name} {arguments}"
            );
        }
    }
}

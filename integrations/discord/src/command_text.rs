//! The options of an application command back into the command text opsbot parses:
//! `/restart service:wrkhrs-gateway` → `restart wrkhrs-gateway`,
//! `/audit limit:5 decision:denied` → `audit --decision denied --limit 5`.
//!
//! Positionals follow the registry's order (whatever order Discord sends the options in),
//! flags come last; values that are not one plain word are double-quoted (the tokenizer
//! reads `\"` and `\\` inside them), so a note's text stays one argument and never turns
//! into flags.
//!
//! [`RawOption`], the option as Discord sends it, lives here with its one reader.

use opsbot_commands::{
    Command, Registry,
    registry::{ServiceArg, ValueKind},
};
use serde::Deserialize;
use serde_json::Value;

/// An application command option as sent (`value` is a string, integer or boolean).
#[derive(Clone, Debug, Deserialize)]
pub struct RawOption {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub options: Vec<RawOption>,
    #[serde(default)]
    pub focused: bool,
}

/// The option that carries the service (see [`crate::application_commands`]).
pub const SERVICE_OPTION: &str = "service";

/// Sub-command option types (Discord: SUB_COMMAND, SUB_COMMAND_GROUP).
const SUB_COMMAND: u8 = 1;
const SUB_COMMAND_GROUP: u8 = 2;

/// The command text for command `name` with `options`.
pub fn command_text(registry: &Registry, name: &str, options: &[RawOption]) -> String {
    let options = flatten(options);
    let Some(spec) = registry.find(name) else {
        // Not ours (an old registration): let the parser say "unknown command".
        let mut text = name.to_string();
        for option in options {
            if let Some(value) = &option.value {
                text.push(' ');
                text.push_str(&quote(&value_text(value)));
            }
        }
        return text;
    };
    let mut text = spec.name.to_string();
    for (option_name, kind) in option_order(spec) {
        let Some(value) = options
            .iter()
            .find(|o| o.name == option_name)
            .and_then(|o| o.value.as_ref())
        else {
            continue;
        };
        match kind {
            OptionRole::Positional => {
                text.push(' ');
                text.push_str(&quote(&value_text(value)));
            }
            OptionRole::Switch => {
                if value.as_bool() == Some(true) {
                    text.push_str(&format!(" --{option_name}"));
                }
            }
            OptionRole::Flag => {
                text.push_str(&format!(" --{option_name} {}", quote(&value_text(value))));
            }
        }
    }
    text
}

/// How an option becomes text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionRole {
    Positional,
    Flag,
    Switch,
}

/// The options of `spec` in text order: the service, the positionals, then the flags.
/// A name used twice keeps its first meaning.
pub fn option_order(spec: &Command) -> Vec<(&'static str, OptionRole)> {
    let mut order: Vec<(&'static str, OptionRole)> = Vec::new();
    if spec.service != ServiceArg::None {
        order.push((SERVICE_OPTION, OptionRole::Positional));
    }
    for arg in spec.args {
        order.push((arg.name, OptionRole::Positional));
    }
    for flag in spec.flags {
        let role = if flag.kind == ValueKind::Switch {
            OptionRole::Switch
        } else {
            OptionRole::Flag
        };
        order.push((flag.name, role));
    }
    let mut seen = std::collections::HashSet::new();
    order.retain(|(name, _)| seen.insert(*name));
    order
}

/// The option being typed, in an autocomplete interaction.
pub fn focused(options: &[RawOption]) -> Option<&RawOption> {
    options.iter().find_map(|o| {
        if o.focused {
            Some(o)
        } else {
            focused(&o.options)
        }
    })
}

/// A value as text: strings as they are, numbers and booleans printed.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The options of a sub-command (group) flattened into one list, sub-command names first.
fn flatten(options: &[RawOption]) -> Vec<RawOption> {
    let mut out = Vec::new();
    for option in options {
        if matches!(option.kind, SUB_COMMAND | SUB_COMMAND_GROUP) {
            out.extend(flatten(&option.options));
        } else {
            out.push(option.clone());
        }
    }
    out
}

/// `value` as one word for the tokenizer.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value.starts_with('-')
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '“' | '”' | '‘' | '’'));
    if plain {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '“' | '”' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use opsbot_commands::language::tokenize;
    use serde_json::json;

    use super::*;

    fn options(value: Value) -> Vec<RawOption> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn options_follow_the_registry_order() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let opts = options(json!([
            {"name": "limit", "type": 4, "value": 5},
            {"name": "decision", "type": 3, "value": "denied"}
        ]));
        assert_eq!(
            command_text(&registry, "audit", &opts),
            "audit --decision denied --limit 5"
        );
        let opts = options(json!([
            {"name": "list", "type": 5, "value": true},
            {"name": "service", "type": 3, "value": "wrkhrs-gateway"}
        ]));
        assert_eq!(
            command_text(&registry, "rollback", &opts),
            "rollback wrkhrs-gateway --list"
        );
        let opts = options(json!([{"name": "list", "type": 5, "value": false},
            {"name": "service", "type": 3, "value": "x"}]));
        assert_eq!(command_text(&registry, "rollback", &opts), "rollback x");
        assert_eq!(command_text(&registry, "whoami", &[]), "whoami");
    }

    #[test]
    fn free_text_stays_one_argument() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let note = r#"restarted "gw" --all, watching \ now"#;
        let opts = options(json!([
            {"name": "action", "type": 3, "value": "note"},
            {"name": "id", "type": 3, "value": "42"},
            {"name": "text", "type": 3, "value": note}
        ]));
        let text = command_text(&registry, "incident", &opts);
        let words = tokenize(&text).unwrap();
        assert_eq!(words, vec!["incident", "note", "42", note]);
    }

    #[test]
    fn unknown_commands_keep_their_name() {
        let opts = options(json!([{"name": "x", "type": 3, "value": "a b"}]));
        assert_eq!(
            command_text(
                &Registry::new(opsbot_commands::builtin::COMMANDS),
                "teleport",
                &opts
            ),
            "teleport \"a b\""
        );
    }
}

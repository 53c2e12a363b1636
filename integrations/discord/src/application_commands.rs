//! The application commands (`/health`, `/restart`, …) generated from the command
//! registry, for a bulk overwrite (`PUT /applications/{id}/commands`, or the guild's).
//!
//! Each command gets typed options: the service (a string that autocompletes from the
//! catalog), each positional argument and each flag — integers with their bounds,
//! choices as choices, switches as booleans, the rest as strings. Discord wants required
//! options first; the text built from them follows the registry's order
//! ([`crate::command_text`]), so the two orders are independent.

use opsbot_commands::{
    Command, Registry,
    registry::{ServiceArg, ValueKind},
};
use serenity::{builder::CreateCommandOption, model::application::CommandOptionType};

pub use serenity::builder::CreateCommand;

use crate::command_text::{OptionRole, SERVICE_OPTION, option_order};

/// Discord's limits: descriptions, choices per option.
const MAX_DESCRIPTION: usize = 100;
const MAX_CHOICES: usize = 25;

/// One application command per registry command.
pub fn application_commands(registry: &Registry) -> Vec<CreateCommand> {
    registry
        .commands()
        .iter()
        .map(|spec| command(spec))
        .collect()
}

/// The application command of one spec.
pub fn command(spec: &Command) -> CreateCommand {
    let mut options: Vec<(bool, CreateCommandOption)> = Vec::new();
    for (name, role) in option_order(spec) {
        let option = if name == SERVICE_OPTION && spec.service != ServiceArg::None {
            let required = spec.service == ServiceArg::Required;
            let option = CreateCommandOption::new(
                CommandOptionType::String,
                SERVICE_OPTION,
                "the service (name or alias)",
            )
            .required(required)
            .set_autocomplete(true);
            (required, option)
        } else if let Some(arg) = spec.args.iter().find(|a| a.name == name) {
            let option = typed(arg.kind, name, arg.help).required(arg.required);
            (arg.required, option)
        } else if let Some(flag) = spec.flags.iter().find(|f| f.name == name) {
            let kind = if role == OptionRole::Switch {
                ValueKind::Switch
            } else {
                flag.kind
            };
            (false, typed(kind, name, flag.help))
        } else {
            continue;
        };
        options.push(option);
    }
    // Required options first (a stable sort keeps the registry's order otherwise).
    options.sort_by_key(|(required, _)| !*required);
    CreateCommand::new(spec.name)
        .description(describe(spec.summary, spec.name))
        .set_options(options.into_iter().map(|(_, o)| o).collect())
}

fn typed(kind: ValueKind, name: &str, help: &str) -> CreateCommandOption {
    let description = describe(help, name);
    match kind {
        ValueKind::Switch => {
            CreateCommandOption::new(CommandOptionType::Boolean, name, description)
        }
        ValueKind::Integer { min, max } => {
            let mut option =
                CreateCommandOption::new(CommandOptionType::Integer, name, description);
            if let Ok(min) = u64::try_from(min) {
                option = option.min_int_value(min);
            }
            if let Ok(max) = u64::try_from(max) {
                option = option.max_int_value(max);
            }
            option
        }
        ValueKind::Choice(choices) if choices.len() <= MAX_CHOICES => choices.iter().fold(
            CreateCommandOption::new(CommandOptionType::String, name, description),
            |option, choice| option.add_string_choice(*choice, *choice),
        ),
        ValueKind::Word
        | ValueKind::Rest
        | ValueKind::Duration
        | ValueKind::Choice(_)
        | ValueKind::IntegerOr { .. } => {
            CreateCommandOption::new(CommandOptionType::String, name, description)
        }
    }
}

/// A description Discord accepts: 1 to 100 characters.
fn describe(text: &str, fallback: &str) -> String {
    let text = if text.trim().is_empty() {
        fallback
    } else {
        text.trim()
    };
    if text.chars().count() <= MAX_DESCRIPTION {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn by_name(name: &str) -> Value {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let commands = serde_json::to_value(application_commands(&registry)).unwrap();
        commands
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    }

    #[test]
    fn every_registry_command_is_generated_within_discord_limits() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let commands = serde_json::to_value(application_commands(&registry)).unwrap();
        let commands = commands.as_array().unwrap();
        assert_eq!(commands.len(), registry.commands().len());
        for command in commands {
            let name = command["name"].as_str().unwrap();
            assert!(registry.find(name).is_some(), "{name}");
            let description = command["description"].as_str().unwrap();
            assert!((1..=100).contains(&description.chars().count()), "{name}");
            let options = command["options"].as_array().unwrap();
            assert!(options.len() <= 25, "{name}");
            let mut optional_seen = false;
            for option in options {
                let option_name = option["name"].as_str().unwrap();
                assert!(
                    (1..=32).contains(&option_name.len())
                        && option_name.chars().all(|c| c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || c == '-'
                            || c == '_'),
                    "{name}.{option_name}"
                );
                let required = option["required"].as_bool().unwrap_or(false);
                assert!(
                    !(required && optional_seen),
                    "{name}: required after optional"
                );
                optional_seen |= !required;
            }
        }
    }

    #[test]
    fn options_are_typed() {
        let restart = by_name("restart");
        let service = &restart["options"][0];
        assert_eq!(
            [
                &service["type"],
                &service["name"],
                &service["required"],
                &service["autocomplete"]
            ],
            [&json!(3), &json!("service"), &json!(true), &json!(true)]
        );
        let scale = by_name("scale");
        let replicas = &scale["options"][1];
        assert_eq!(
            (replicas["name"].as_str(), replicas["type"].as_u64()),
            (Some("replicas"), Some(4))
        );
        assert_eq!(
            (
                replicas["min_value"].as_u64(),
                replicas["max_value"].as_u64()
            ),
            (Some(0), Some(1000))
        );
        let rollback = by_name("rollback");
        let list = rollback["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "list")
            .unwrap();
        assert_eq!(list["type"], 5);
        let incident = by_name("incident");
        let action = &incident["options"][0];
        assert_eq!(
            action["choices"].as_array().unwrap().len(),
            12,
            "list … escalate, investigate, followup, timeline, postmortem, stats"
        );
        assert_eq!(action["choices"][2], json!({"name": "ack", "value": "ack"}));
        let health = by_name("health");
        assert!(!health["options"][0]["required"].as_bool().unwrap_or(false));
    }
}

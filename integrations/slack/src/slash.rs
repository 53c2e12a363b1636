//! Slash command names, generated from the command registry: one top-level command per
//! registry command (`/health`, `/restart`, …) and one umbrella command (default `/ops`)
//! for workspaces where those names are taken (`/ops restart x`). Both forms turn into
//! the same command text for the engine.

use opsbot_commands::Registry;

/// The default umbrella command.
pub const DEFAULT_UMBRELLA: &str = "ops";

/// The slash commands this app registers.
#[derive(Clone, Debug)]
pub struct SlashCommands {
    /// Without the slash: `ops`.
    umbrella: String,
    /// Registry command names; each is a top-level slash command.
    top_level: Vec<&'static str>,
    /// Whether the top-level commands are registered (the umbrella always is).
    with_top_level: bool,
}

/// One slash command as the manifest declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlashCommandSpec {
    /// With the slash: `/restart`.
    pub command: String,
    pub description: String,
    pub usage_hint: String,
}

impl SlashCommands {
    /// `umbrella` with or without its slash; `with_top_level`: also `/health`, `/restart`, …
    pub fn new(registry: &Registry, umbrella: &str, with_top_level: bool) -> Self {
        Self {
            umbrella: umbrella.trim().trim_start_matches('/').to_string(),
            top_level: registry.commands().iter().map(|s| s.name).collect(),
            with_top_level,
        }
    }

    pub fn umbrella(&self) -> &str {
        &self.umbrella
    }

    /// The command text for the engine of `/COMMAND TEXT`: `/ops restart x` and
    /// `/restart x` both give `restart x`; `/ops` alone gives `help`. A slash command we
    /// did not register is passed on as its name (the engine answers "unknown command").
    pub fn to_text(&self, command: &str, text: &str) -> String {
        let name = command.trim().trim_start_matches('/');
        let text = text.trim();
        if name.eq_ignore_ascii_case(&self.umbrella) {
            if text.is_empty() {
                "help".to_string()
            } else {
                text.to_string()
            }
        } else if text.is_empty() {
            name.to_string()
        } else {
            format!("{name} {text}")
        }
    }

    /// Every slash command to register, the umbrella first, generated from `registry`.
    pub fn specs(&self, registry: &Registry) -> Vec<SlashCommandSpec> {
        let mut specs = vec![SlashCommandSpec {
            command: format!("/{}", self.umbrella),
            description: "Run an opsbot command: health, restart, rollback, incident, …".into(),
            usage_hint: "COMMAND [ARGS] (try: help)".into(),
        }];
        if self.with_top_level {
            for spec in registry.commands() {
                debug_assert!(self.top_level.contains(&spec.name));
                let usage = spec.usage();
                let hint = usage
                    .split_once(' ')
                    .map(|(_, rest)| rest.to_string())
                    .unwrap_or_default();
                specs.push(SlashCommandSpec {
                    command: format!("/{}", spec.name),
                    description: spec.summary.to_string(),
                    usage_hint: hint,
                });
            }
        }
        specs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_give_the_same_text() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let slash = SlashCommands::new(&registry, "/ops", true);
        assert_eq!(slash.to_text("/ops", "restart x"), "restart x");
        assert_eq!(slash.to_text("/restart", "x"), "restart x");
        assert_eq!(slash.to_text("/restart", " x  "), "restart x");
        assert_eq!(slash.to_text("/health", ""), "health");
        assert_eq!(slash.to_text("/ops", ""), "help");
        assert_eq!(slash.to_text("/OPS", "whoami"), "whoami");
    }

    #[test]
    fn specs_come_from_the_registry() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let specs = SlashCommands::new(&registry, "opsbot", true).specs(&registry);
        assert_eq!(specs[0].command, "/opsbot");
        assert_eq!(specs.len(), registry.commands().len() + 1);
        let restart = specs.iter().find(|s| s.command == "/restart").unwrap();
        assert_eq!(restart.usage_hint, "SERVICE");
        for spec in registry.commands() {
            assert!(
                specs.iter().any(|s| s.command == format!("/{}", spec.name)),
                "{} has no slash command",
                spec.name
            );
        }
        let only_umbrella = SlashCommands::new(&registry, "ops", false).specs(&registry);
        assert_eq!(only_umbrella.len(), 1);
    }
}

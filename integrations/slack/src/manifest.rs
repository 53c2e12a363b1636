//! The Slack app manifest (`opsbot slack manifest`), generated from the command registry:
//! the slash commands (the umbrella and, unless switched off, one per command), the bot
//! scopes opsbot needs, and the request URLs of the HTTP mode (none in Socket Mode).
//! Slack accepts manifests as JSON as well as YAML.

use opsbot_commands::Registry;
use serde_json::{Value, json};

use crate::slash::SlashCommands;

/// Bot token scopes: slash commands, posting (also in public channels the bot was not
/// invited to), uploading charts (`files:write`), reading user groups for role
/// bindings, `@opsbot` mentions, reading channel history (after a crash the outbox
/// looks there for a post it may have made before posting it again), and listing
/// channels (a replica edits a root another posted: `chat.update` needs the channel id
/// of a channel configured by `#name`).
pub const BOT_SCOPES: &[&str] = &[
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "usergroups:read",
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
];

/// What the manifest is generated for.
#[derive(Clone, Debug)]
pub struct ManifestOptions {
    pub app_name: String,
    /// `https://opsbot.example.com`: the request URLs are below it. `None`: Socket Mode.
    pub public_url: Option<String>,
}

/// The manifest as JSON.
pub fn manifest(registry: &Registry, slash: &SlashCommands, options: &ManifestOptions) -> Value {
    let base = options
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string());
    let commands: Vec<Value> = slash
        .specs(registry)
        .into_iter()
        .map(|spec| {
            let mut command = json!({
                "command": spec.command,
                "description": spec.description,
                "should_escape": false,
            });
            if !spec.usage_hint.is_empty() {
                command["usage_hint"] = json!(spec.usage_hint);
            }
            if let Some(base) = &base {
                command["url"] = json!(format!("{base}/slack/commands"));
            }
            command
        })
        .collect();
    let mut settings = json!({
        "event_subscriptions": { "bot_events": ["app_mention"] },
        "interactivity": { "is_enabled": true },
        "org_deploy_enabled": false,
        "socket_mode_enabled": base.is_none(),
        "token_rotation_enabled": false,
    });
    if let Some(base) = &base {
        settings["event_subscriptions"]["request_url"] = json!(format!("{base}/slack/events"));
        settings["interactivity"]["request_url"] = json!(format!("{base}/slack/interactions"));
    }
    json!({
        "_metadata": { "major_version": 1, "minor_version": 1 },
        "display_information": {
            "name": options.app_name,
            "description": "Run production services from chat: health, restart, rollback, incidents — with RBAC and an audit log.",
        },
        "features": {
            "bot_user": { "display_name": options.app_name, "always_online": true },
            "slash_commands": commands,
        },
        "oauth_config": { "scopes": { "bot": BOT_SCOPES } },
        "settings": settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_mode_manifest_names_every_command_and_url() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let slash = SlashCommands::new(&registry, "ops", true);
        let value = manifest(
            &registry,
            &slash,
            &ManifestOptions {
                app_name: "opsbot".into(),
                public_url: Some("https://opsbot.example.com/".into()),
            },
        );
        let commands = value["features"]["slash_commands"].as_array().unwrap();
        assert_eq!(commands.len(), registry.commands().len() + 1);
        assert_eq!(commands[0]["command"], "/ops");
        assert_eq!(
            commands[0]["url"],
            "https://opsbot.example.com/slack/commands"
        );
        assert!(commands.iter().any(|c| c["command"] == "/restart"));
        assert_eq!(
            value["settings"]["interactivity"]["request_url"],
            "https://opsbot.example.com/slack/interactions"
        );
        assert_eq!(
            value["settings"]["event_subscriptions"]["request_url"],
            "https://opsbot.example.com/slack/events"
        );
        assert_eq!(value["settings"]["socket_mode_enabled"], false);
        let scopes = value["oauth_config"]["scopes"]["bot"].as_array().unwrap();
        assert!(scopes.iter().any(|s| s == "usergroups:read"));
        assert!(scopes.iter().any(|s| s == "files:write"));
    }

    #[test]
    fn socket_mode_manifest_has_no_urls() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let slash = SlashCommands::new(&registry, "ops", false);
        let value = manifest(
            &registry,
            &slash,
            &ManifestOptions {
                app_name: "opsbot".into(),
                public_url: None,
            },
        );
        assert_eq!(value["settings"]["socket_mode_enabled"], true);
        assert!(!value.to_string().contains("request_url"));
        assert!(!value.to_string().contains("\"url\""));
        assert_eq!(
            value["features"]["slash_commands"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

//! Every command opsbot serves is reachable and explained on every surface: it has help
//! text, an entry in the Slack app manifest operators install
//! (`deploy/slack/manifest.example.json`, the output of `opsbot slack manifest`), and a
//! Discord application command (`opsbot discord register-commands`). Adding a command to
//! `opsbot_commands::builtin::COMMANDS` without these fails here.

use std::collections::BTreeSet;

use opsbot_commands::{Registry, builtin::COMMANDS};
use opsbot_slack::{
    SlashCommands,
    manifest::{ManifestOptions, manifest},
    slash::DEFAULT_UMBRELLA,
};
use serde_json::Value;

/// The checked-in manifest, generated for `public_url = "https://opsbot.example.com"`.
const SLACK_MANIFEST_EXAMPLE: &str = include_str!("../../deploy/slack/manifest.example.json");

fn slash_commands(manifest: &Value) -> &Vec<Value> {
    manifest["features"]["slash_commands"]
        .as_array()
        .expect("a manifest lists slash commands")
}

#[test]
fn every_command_has_help_a_slack_manifest_entry_and_a_discord_registration() {
    let registry = Registry::new(COMMANDS);
    assert!(!registry.commands().is_empty());

    let example: Value =
        serde_json::from_str(SLACK_MANIFEST_EXAMPLE).expect("the example manifest is JSON");
    let slash = SlashCommands::new(&registry, DEFAULT_UMBRELLA, true);
    let generated = manifest(
        &registry,
        &slash,
        &ManifestOptions {
            app_name: "opsbot".into(),
            public_url: Some("https://opsbot.example.com".into()),
        },
    );
    let discord = serde_json::to_value(opsbot_discord::application_commands(&registry))
        .expect("application commands serialize");
    let discord = discord.as_array().expect("a list of application commands");

    let mut names = BTreeSet::new();
    for command in registry.commands() {
        let name = command.name;
        assert!(names.insert(name), "two commands are named `{name}`");

        // Help text: `help NAME` shows the summary, every argument's and flag's help, and
        // examples.
        assert!(
            !command.summary.trim().is_empty(),
            "`{name}` has no summary"
        );
        for arg in command.args {
            assert!(
                !arg.help.trim().is_empty(),
                "`{name} {}` has no help",
                arg.name
            );
        }
        for flag in command.flags {
            assert!(
                !flag.help.trim().is_empty(),
                "`{name} --{}` has no help",
                flag.name
            );
        }
        assert!(!command.examples.is_empty(), "`{name}` has no examples");

        // Slack: the manifest operators install declares `/NAME` as generated now.
        let slash_name = format!("/{name}");
        let wanted = slash_commands(&generated)
            .iter()
            .find(|c| c["command"] == slash_name.as_str())
            .unwrap_or_else(|| panic!("the generated Slack manifest has no {slash_name}"));
        let declared = slash_commands(&example)
            .iter()
            .find(|c| c["command"] == slash_name.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "deploy/slack/manifest.example.json declares no {slash_name}; \
                     regenerate it with `opsbot slack manifest`"
                )
            });
        assert_eq!(
            declared, wanted,
            "deploy/slack/manifest.example.json is stale for {slash_name}; \
             regenerate it with `opsbot slack manifest`"
        );

        // Discord: `register-commands` registers `/NAME` with a description.
        let registered = discord
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no Discord application command `{name}`"));
        let description = registered["description"].as_str().unwrap_or_default();
        assert!(
            !description.trim().is_empty(),
            "the Discord command `{name}` has no description"
        );
    }

    // Nothing declared that opsbot does not serve (besides the umbrella).
    for declared in slash_commands(&example) {
        let command = declared["command"].as_str().unwrap_or_default();
        let name = command.trim_start_matches('/');
        assert!(
            name == DEFAULT_UMBRELLA || registry.find(name).is_some(),
            "deploy/slack/manifest.example.json declares {command}, which opsbot does not serve"
        );
    }
    assert_eq!(discord.len(), registry.commands().len());
}

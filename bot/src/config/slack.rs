//! `[slack]`: how opsbot talks to Slack. In `http` mode Slack calls `/slack/commands`,
//! `/slack/interactions` and `/slack/events` (signed with the signing secret); in
//! `socket` mode opsbot opens a Socket Mode websocket with the app-level token instead
//! and needs no public endpoint. Replies go out through the Web API with the bot token.
//!
//! ```toml
//! [slack]
//! mode = "http"                                   # or "socket"
//! bot_token = "${SLACK_BOT_TOKEN}"                # xoxb-…
//! signing_secret = "${SLACK_SIGNING_SECRET}"      # http mode
//! app_token = { file = "/run/secrets/slack-app" } # socket mode (xapp-…)
//! ```

use opsbot_commands::HumanDuration;
use serde::Deserialize;

use super::{Config, Secret, document::KeyPath, problems::Problems};

/// How Slack reaches opsbot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackMode {
    /// Slack posts to opsbot's public HTTPS endpoints.
    #[default]
    Http,
    /// opsbot holds a Socket Mode websocket to Slack.
    Socket,
}

impl SlackMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SlackMode::Http => "http",
            SlackMode::Socket => "socket",
        }
    }
}

/// `[slack]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub mode: SlackMode,
    /// The bot token (`xoxb-…`): posting, editing, reading user groups.
    pub bot_token: Secret,
    /// Verifies requests in `http` mode.
    #[serde(default)]
    pub signing_secret: Option<Secret>,
    /// The app-level token (`xapp-…`, scope `connections:write`) for `socket` mode.
    #[serde(default)]
    pub app_token: Option<Secret>,
    /// The Web API base URL.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The umbrella slash command (without `/`): `/ops restart x`.
    #[serde(default = "default_umbrella")]
    pub umbrella_command: String,
    /// Also register `/health`, `/restart`, … (off where those names are taken).
    #[serde(default = "default_true")]
    pub top_level_commands: bool,
    /// How long a user group's members (`usergroups.users.list`) are cached.
    #[serde(default = "default_usergroup_ttl")]
    pub usergroup_ttl: HumanDuration,
    /// slack-morphism's client-side rate control (method tiers, one message per second
    /// per channel), in addition to the outbox's pacing.
    #[serde(default = "default_true")]
    pub rate_control: bool,
    /// How long a command runs before its progress is posted (into a thread); quicker
    /// commands answer with their result alone.
    #[serde(default = "default_progress_after")]
    pub progress_after: HumanDuration,
    /// Where Slack reaches opsbot (`https://opsbot.example.com`), for the manifest.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The app's name in the manifest.
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// Replies go only to `response_url`s under this prefix (Slack's are
    /// `https://hooks.slack.com/…`); a request naming another is answered in the channel.
    #[serde(default = "default_response_url_prefix")]
    pub response_url_prefix: String,
}

fn default_response_url_prefix() -> String {
    opsbot_slack::destination::SLACK_RESPONSE_URL_PREFIX.to_string()
}

fn default_api_url() -> String {
    opsbot_slack::client::SLACK_API_URL.to_string()
}

fn default_umbrella() -> String {
    opsbot_slack::slash::DEFAULT_UMBRELLA.to_string()
}

fn default_true() -> bool {
    true
}

fn default_usergroup_ttl() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_progress_after() -> HumanDuration {
    HumanDuration::from_secs(3)
}

fn default_app_name() -> String {
    "opsbot".to_string()
}

/// Checks `[slack]`.
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let Some(slack) = &config.slack else {
        return;
    };
    let path = KeyPath::root().key("slack");
    match slack.mode {
        SlackMode::Http if slack.signing_secret.is_none() => problems.push(
            path.key("signing_secret"),
            "http mode verifies Slack's requests with the app's signing secret; set it \
             (\"${SLACK_SIGNING_SECRET}\"), or use mode = \"socket\" with an app_token",
        ),
        SlackMode::Socket if slack.app_token.is_none() => problems.push(
            path.key("app_token"),
            "socket mode needs the app-level token (xapp-…, scope connections:write)",
        ),
        _ => {}
    }
    if !(slack.api_url.starts_with("https://") || slack.api_url.starts_with("http://")) {
        problems.push(path.key("api_url"), "must be an http:// or https:// URL");
    }
    let umbrella = slack.umbrella_command.trim_start_matches('/');
    if umbrella.is_empty()
        || umbrella.len() > 32
        || !umbrella
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        problems.push(
            path.key("umbrella_command"),
            "must be 1 to 32 lowercase letters, digits, `-` or `_` (Slack's rule for slash commands)",
        );
    }
    if let Err(why) = opsbot_slack::ResponseUrlPolicy::new(&slack.response_url_prefix) {
        problems.push(path.key("response_url_prefix"), why);
    }
    if slack.usergroup_ttl.as_duration().is_zero() {
        problems.push(path.key("usergroup_ttl"), "must be longer than 0s");
    }
    if let Some(url) = &slack.public_url
        && !url.starts_with("https://")
    {
        problems.push(
            path.key("public_url"),
            "Slack only calls https:// request URLs",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{SlackMode, parse};

    fn env(name: &str) -> Option<String> {
        match name {
            "SLACK_BOT_TOKEN" => Some("xoxb-1-secret".into()),
            "SLACK_SIGNING_SECRET" => Some("signing-secret-value".into()),
            "SLACK_APP_TOKEN" => Some("xapp-1-secret".into()),
            _ => None,
        }
    }

    fn error_of(text: &str) -> String {
        parse(text, "opsbot.toml", &env).unwrap_err().to_string()
    }

    #[test]
    fn a_complete_section_parses_with_defaults() {
        let config = parse(
            "[slack]\nbot_token = \"${SLACK_BOT_TOKEN}\"\nsigning_secret = \"${SLACK_SIGNING_SECRET}\"\n",
            "opsbot.toml",
            &env,
        )
        .unwrap();
        let slack = config.slack.unwrap();
        assert_eq!(slack.mode, SlackMode::Http);
        assert_eq!(slack.bot_token.expose(), "xoxb-1-secret");
        assert_eq!(slack.api_url, "https://slack.com/api");
        assert_eq!(slack.umbrella_command, "ops");
        assert!(slack.top_level_commands && slack.rate_control);
        assert_eq!(slack.usergroup_ttl.to_string(), "5m");
        assert_eq!(slack.response_url_prefix, "https://hooks.slack.com/");
        let debug = format!("{slack:?}");
        assert!(!debug.contains("xoxb-1-secret") && !debug.contains("signing-secret-value"));
    }

    #[test]
    fn each_mode_needs_its_credential() {
        let http = error_of("[slack]\nbot_token = \"${SLACK_BOT_TOKEN}\"\n");
        assert!(
            http.contains("opsbot.toml:1:") && http.contains("slack.signing_secret"),
            "{http}"
        );
        let socket = error_of("[slack]\nmode = \"socket\"\nbot_token = \"${SLACK_BOT_TOKEN}\"\n");
        assert!(socket.contains("slack.app_token"), "{socket}");
        parse(
            "[slack]\nmode = \"socket\"\nbot_token = \"${SLACK_BOT_TOKEN}\"\napp_token = \"${SLACK_APP_TOKEN}\"\n",
            "opsbot.toml",
            &env,
        )
        .unwrap();
    }

    #[test]
    fn tokens_are_never_literal_and_bad_values_are_located() {
        let literal = error_of("[slack]\nbot_token = \"xoxb-pasted-token\"\n");
        assert!(literal.contains("opsbot.toml:2:"), "{literal}");
        assert!(!literal.contains("xoxb-pasted-token"), "{literal}");
        let bad = error_of(
            "[slack]\nbot_token = \"${SLACK_BOT_TOKEN}\"\nsigning_secret = \"${SLACK_SIGNING_SECRET}\"\n\
             umbrella_command = \"Ops Bot\"\napi_url = \"slack.com\"\npublic_url = \"http://x\"\n",
        );
        assert!(
            bad.contains("opsbot.toml:4:") && bad.contains("slack.umbrella_command"),
            "{bad}"
        );
        assert!(
            bad.contains("opsbot.toml:5:") && bad.contains("slack.api_url"),
            "{bad}"
        );
        assert!(
            bad.contains("opsbot.toml:6:") && bad.contains("slack.public_url"),
            "{bad}"
        );
        let unknown = error_of(
            "[slack]\nbot_token = \"${SLACK_BOT_TOKEN}\"\nsigning_secret = \"${SLACK_SIGNING_SECRET}\"\nchannel = \"x\"\n",
        );
        assert!(unknown.contains("channel"), "{unknown}");
    }
}

//! `[discord]`: how opsbot talks to Discord. In `http` mode Discord POSTs interactions to
//! `/discord/interactions` (Ed25519-signed with the application's public key) and any
//! replica can answer them; in `gateway` mode opsbot holds a gateway websocket and
//! receives them there, with no public endpoint (with several replicas only the owner of
//! the `discord-gateway` role holds it: `[leadership]`). Messages (incident roots, threads,
//! command results) go out through the REST API with the bot token either way.
//!
//! ```toml
//! [discord]
//! mode = "http"                               # or "gateway"
//! application_id = "1200000000000000000"
//! token = "${DISCORD_BOT_TOKEN}"
//! public_key = "6f1c…"                        # 64 hex digits (not a secret)
//! guild_id = "1100000000000000000"            # optional: register commands in one guild
//! ```

use opsbot_commands::HumanDuration;
use serde::Deserialize;

use super::{Config, Secret, document::KeyPath, problems::Problems};

/// How Discord reaches opsbot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscordMode {
    /// Discord posts interactions to `/discord/interactions` (stateless replicas).
    #[default]
    Http,
    /// opsbot receives interactions over the gateway websocket (serenity's client).
    Gateway,
}

impl DiscordMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscordMode::Http => "http",
            DiscordMode::Gateway => "gateway",
        }
    }
}

/// `[discord]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    #[serde(default)]
    pub mode: DiscordMode,
    /// The application id (developer portal → General Information).
    pub application_id: String,
    /// The bot token: REST calls and the gateway.
    pub token: Secret,
    /// The application's public key (hex), which verifies `http` mode requests.
    #[serde(default)]
    pub public_key: Option<String>,
    /// The REST base URL. Anything but `https://discord.com` (a proxy, a test fake) is
    /// called without serenity's rate limiter, which serenity requires for proxies.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Register the application commands in this guild only (instant; global
    /// registration can take up to an hour to show).
    #[serde(default)]
    pub guild_id: Option<String>,
    /// How far a signed request's timestamp may be from now (replay window).
    #[serde(default = "default_max_clock_skew")]
    pub max_clock_skew: HumanDuration,
    /// Timeout of each REST call.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
}

fn default_api_url() -> String {
    opsbot_discord::DISCORD_API.to_string()
}

fn default_max_clock_skew() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn is_snowflake(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u64>().is_ok_and(|n| n > 0)
}

/// Checks `[discord]`, and that Discord channels are named by id.
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let channel_problem = "must be the channel's numeric id (Discord addresses channels by id; \
                           right-click the channel → Copy Channel ID)";
    for (index, service) in config.services.iter().enumerate() {
        if let Some(channel) = &service.channels.discord
            && !is_snowflake(channel)
        {
            problems.push(
                KeyPath::root()
                    .key("services")
                    .index(index)
                    .key("channels")
                    .key("discord"),
                channel_problem,
            );
        }
    }
    if let Some(channel) = &config.alerts.default_channel.discord
        && !is_snowflake(channel)
    {
        problems.push(
            KeyPath::root()
                .key("alerts")
                .key("default_channel")
                .key("discord"),
            channel_problem,
        );
    }
    let Some(discord) = &config.discord else {
        return;
    };
    let path = KeyPath::root().key("discord");
    if !is_snowflake(&discord.application_id) {
        problems.push(
            path.key("application_id"),
            "must be the application's numeric id (developer portal → General Information)",
        );
    }
    match (&discord.public_key, discord.mode) {
        (Some(key), _) => {
            if let Err(e) = opsbot_discord::RequestVerifier::from_hex(key) {
                problems.push(path.key("public_key"), e.to_string());
            }
        }
        (None, DiscordMode::Http) => problems.push(
            path.key("public_key"),
            "http mode verifies Discord's requests with the application's public key; set it \
             (developer portal → General Information), or use mode = \"gateway\"",
        ),
        (None, DiscordMode::Gateway) => {}
    }
    if let Some(guild) = &discord.guild_id
        && !is_snowflake(guild)
    {
        problems.push(path.key("guild_id"), "must be a numeric guild id");
    }
    if !(discord.api_url.starts_with("https://") || discord.api_url.starts_with("http://")) {
        problems.push(path.key("api_url"), "must be an http:// or https:// URL");
    }
    if discord.request_timeout.as_duration().is_zero() {
        problems.push(path.key("request_timeout"), "must be longer than 0s");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn discord_section_is_checked_and_secrets_stay_hidden() {
        let env = |name: &str| (name == "DISCORD_TOKEN").then(|| "MTIz.secret-token".to_string());
        let key = "a".repeat(63);
        let text = format!(
            "[discord]\napplication_id = \"12x\"\ntoken = \"${{DISCORD_TOKEN}}\"\npublic_key = \"{key}\"\nguild_id = \"g\"\n"
        );
        let err = crate::config::parse(&text, "t.toml", &env).unwrap_err();
        let keys: Vec<&str> = err.diagnostics().iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "discord.application_id",
                "discord.public_key",
                "discord.guild_id"
            ],
            "{err}"
        );
        assert_eq!(err.diagnostics()[0].line, 2, "{err}");
        let err = crate::config::parse(
            "[discord]\napplication_id = \"12\"\ntoken = \"${DISCORD_TOKEN}\"\n",
            "t.toml",
            &env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("public key"), "{err}");
        let err = crate::config::parse(
            "[discord]\napplication_id = \"12\"\ntoken = \"MTIz.literal\"\nmode = \"gateway\"\n",
            "t.toml",
            &env,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("MTIz.literal"), "{err}");
        let ok = crate::config::parse(
            "[discord]\nmode = \"gateway\"\napplication_id = \"12\"\ntoken = \"${DISCORD_TOKEN}\"\n",
            "t.toml",
            &env,
        )
        .unwrap();
        let discord = ok.discord.unwrap();
        assert_eq!(discord.mode, super::DiscordMode::Gateway);
        assert!(!format!("{discord:?}").contains("secret-token"));
        assert_eq!(discord.token.expose(), "MTIz.secret-token");
        let err = crate::config::parse(
            "[[services]]\nname = \"a\"\nenvironment = \"prod\"\nchannels = { discord = \"#ops\" }\n",
            "t.toml",
            &env,
        )
        .unwrap_err();
        assert_eq!(
            err.diagnostics()[0].key,
            "services[0].channels.discord",
            "{err}"
        );
    }
}

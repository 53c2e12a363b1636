//! Interactions as Discord sends them to an app (`INTERACTION_CREATE` over the gateway, or
//! a POST to the interactions endpoint), for driving opsbot's Discord adapter in tests:
//! the full object of Discord's documentation (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object)
//! in a guild text channel, with a guild member. Signing stays with each test (its key).

use serde_json::{Value, json};

/// Where and by whom an interaction happens.
pub struct InteractionSource<'a> {
    pub application_id: &'a str,
    pub guild_id: &'a str,
    pub channel_id: &'a str,
    pub channel_name: &'a str,
    pub user_id: &'a str,
    pub username: &'a str,
    /// The member's role ids.
    pub roles: &'a [&'a str],
    /// The thread the interaction happens in, when not the channel itself: its id (the
    /// channel is then its parent).
    pub thread_id: Option<&'a str>,
}

/// An interaction of `kind` (2: application command, 3: message component) with
/// interaction `id`, its `token`, and `data` (the command, or the pressed component).
pub fn interaction(
    kind: u8,
    id: &str,
    token: &str,
    source: &InteractionSource<'_>,
    data: Value,
) -> Value {
    let InteractionSource {
        application_id,
        guild_id,
        channel_id,
        channel_name,
        user_id,
        username,
        roles,
        thread_id,
    } = source;
    let (channel_id, channel) = match thread_id {
        Some(thread) => (
            *thread,
            json!({ "id": thread, "type": 11, "guild_id": guild_id, "parent_id": channel_id, "name": channel_name }),
        ),
        None => (
            *channel_id,
            json!({ "id": channel_id, "type": 0, "guild_id": guild_id, "name": channel_name }),
        ),
    };
    json!({
        "type": kind,
        "id": id,
        "application_id": application_id,
        "token": token,
        "version": 1,
        "guild_id": guild_id,
        "channel_id": channel_id,
        "channel": channel,
        "member": {
            "user": { "id": user_id, "username": username, "global_name": username,
                      "discriminator": "0", "avatar": null },
            "roles": roles,
            "nick": null,
            "joined_at": "2026-01-05T10:00:00.000000+00:00",
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "permissions": "2248473465835073",
        },
        "app_permissions": "2248473465835073",
        "locale": "en-GB",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": { "0": guild_id },
        "context": 0,
        "attachment_size_limit": 10485760,
        "data": data,
    })
}

//! An interaction — the JSON Discord POSTs to the interactions endpoint, which is also
//! what the gateway's `INTERACTION_CREATE` carries — as neutral data: who (user id,
//! display name, guild role ids), where (channel, and the thread when it was sent in
//! one), and what (the command text to run, the button pressed, or the value being
//! autocompleted).
//!
//! Parsing is lenient about what opsbot does not use (new fields, missing optional ones)
//! and strict about what it does: a PING, an application command, a button press or an
//! autocomplete each need their fields, else [`InteractionError`] says which is missing.

use opsbot_commands::Registry;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::{
    command_text::{self, RawOption},
    custom_id::ButtonAction,
};

/// Interaction types (Discord docs: interaction-type).
const PING: u8 = 1;
const APPLICATION_COMMAND: u8 = 2;
const MESSAGE_COMPONENT: u8 = 3;
const AUTOCOMPLETE: u8 = 4;

/// Thread channel types: announcement thread, public thread, private thread.
const THREAD_TYPES: [u8; 3] = [10, 11, 12];

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run this command text (a slash command, or a button without a question).
    Run(String),
    /// A button whose command must be confirmed first: show the question.
    Ask(String),
    /// The "Cancel" of a confirmation prompt.
    Dismiss,
    /// A button opsbot does not know (a message from an older version, another app's
    /// component): its `custom_id`. Answered like any press, with "no longer valid".
    Unknown(String),
}

/// Someone ran a command or pressed a button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub interaction_id: String,
    /// The interaction token (valid 15 minutes): answers and follow-ups use it.
    pub token: String,
    pub application_id: String,
    pub user_id: String,
    pub display_name: String,
    /// The member's guild role ids (empty outside a guild).
    pub roles: Vec<String>,
    pub guild_id: Option<String>,
    /// The channel, or the thread's parent channel when sent in a thread.
    pub channel_id: String,
    /// The thread it was sent in (a thread started from a message has that message's id).
    pub thread_id: Option<String>,
    pub action: Action,
    /// Whether it came from a button press (rather than a slash command).
    pub pressed: bool,
}

/// Someone is typing an option that autocompletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutocompleteRequest {
    pub command: String,
    /// The option being typed.
    pub option: String,
    /// What has been typed so far.
    pub value: String,
}

/// An interaction, as opsbot sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    Ping,
    Request(Request),
    Autocomplete(AutocompleteRequest),
    /// A type opsbot does not handle (modal submits): answered with an error message.
    Unsupported(u8),
}

/// The body is not an interaction opsbot can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InteractionError {
    #[error("not an interaction: {0}")]
    Json(String),
    #[error("the interaction has no `{0}`")]
    Missing(&'static str),
    #[error("unknown button `{0}`")]
    UnknownButton(String),
}

/// A snowflake, sent as a string (HTTP) or, by some serializers, as a number.
fn snowflake<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a snowflake, got {other}"
        ))),
    }
}

fn optional_snowflake<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a snowflake, got {other}"
        ))),
    }
}

fn snowflakes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Id(#[serde(deserialize_with = "snowflake")] String);
    Ok(Option::<Vec<Id>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|Id(id)| id)
        .collect())
}

#[derive(Deserialize)]
struct RawInteraction {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default, deserialize_with = "optional_snowflake")]
    id: Option<String>,
    #[serde(default, deserialize_with = "optional_snowflake")]
    application_id: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    data: Option<RawData>,
    #[serde(default, deserialize_with = "optional_snowflake")]
    guild_id: Option<String>,
    #[serde(default, deserialize_with = "optional_snowflake")]
    channel_id: Option<String>,
    #[serde(default)]
    channel: Option<RawChannel>,
    #[serde(default)]
    member: Option<RawMember>,
    #[serde(default)]
    user: Option<RawUser>,
}

#[derive(Deserialize)]
struct RawData {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    options: Vec<RawOption>,
    #[serde(default)]
    custom_id: Option<String>,
}

#[derive(Deserialize)]
struct RawChannel {
    #[serde(deserialize_with = "snowflake")]
    id: String,
    #[serde(rename = "type", default)]
    kind: Option<u8>,
    #[serde(default, deserialize_with = "optional_snowflake")]
    parent_id: Option<String>,
}

#[derive(Deserialize)]
struct RawMember {
    #[serde(default)]
    user: Option<RawUser>,
    #[serde(default, deserialize_with = "snowflakes")]
    roles: Vec<String>,
    #[serde(default)]
    nick: Option<String>,
}

#[derive(Deserialize)]
struct RawUser {
    #[serde(deserialize_with = "snowflake")]
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    global_name: Option<String>,
}

/// Parses an interaction body (HTTP); `registry` orders a command's options into text.
pub fn parse(body: &[u8], registry: &Registry) -> Result<Incoming, InteractionError> {
    let raw: RawInteraction =
        serde_json::from_slice(body).map_err(|e| InteractionError::Json(e.to_string()))?;
    from_raw(raw, registry)
}

/// Like [`parse`], from JSON already parsed (a gateway interaction, serialized).
pub fn from_value(value: Value, registry: &Registry) -> Result<Incoming, InteractionError> {
    let raw: RawInteraction =
        serde_json::from_value(value).map_err(|e| InteractionError::Json(e.to_string()))?;
    from_raw(raw, registry)
}

fn from_raw(mut raw: RawInteraction, registry: &Registry) -> Result<Incoming, InteractionError> {
    match raw.kind {
        PING => Ok(Incoming::Ping),
        AUTOCOMPLETE => {
            let data = raw.data.ok_or(InteractionError::Missing("data"))?;
            let command = data.name.ok_or(InteractionError::Missing("data.name"))?;
            let focused = command_text::focused(&data.options)
                .ok_or(InteractionError::Missing("a focused option"))?;
            Ok(Incoming::Autocomplete(AutocompleteRequest {
                command,
                option: focused.name.clone(),
                value: focused
                    .value
                    .as_ref()
                    .map(command_text::value_text)
                    .unwrap_or_default(),
            }))
        }
        APPLICATION_COMMAND | MESSAGE_COMPONENT => {
            let pressed = raw.kind == MESSAGE_COMPONENT;
            let data = raw.data.take().ok_or(InteractionError::Missing("data"))?;
            let action = if pressed {
                let id = data
                    .custom_id
                    .ok_or(InteractionError::Missing("data.custom_id"))?;
                match ButtonAction::decode(&id) {
                    Some(ButtonAction::Run(command)) => Action::Run(command),
                    Some(ButtonAction::Ask(command)) => Action::Ask(command),
                    Some(ButtonAction::Dismiss) => Action::Dismiss,
                    None => Action::Unknown(id),
                }
            } else {
                let name = data.name.ok_or(InteractionError::Missing("data.name"))?;
                Action::Run(command_text::command_text(registry, &name, &data.options))
            };
            // An unknown button that cannot be answered either (no token, no user) is
            // refused for the button, the first thing wrong with it.
            let unknown = match &action {
                Action::Unknown(id) => Some(id.clone()),
                _ => None,
            };
            request(raw, action, pressed).map_err(|error| match unknown {
                Some(id) => InteractionError::UnknownButton(id),
                None => error,
            })
        }
        other => Ok(Incoming::Unsupported(other)),
    }
}

/// The request of a slash command or button press, once its action is known.
fn request(
    raw: RawInteraction,
    action: Action,
    pressed: bool,
) -> Result<Incoming, InteractionError> {
    let (user, roles, nick) = match (raw.member, raw.user) {
        (Some(member), _) if member.user.is_some() => (member.user, member.roles, member.nick),
        (_, user) => (user, Vec::new(), None),
    };
    let user = user.ok_or(InteractionError::Missing("member.user or user"))?;
    let display_name = nick
        .or(user.global_name)
        .or(user.username)
        .unwrap_or_else(|| user.id.clone());
    let (channel_id, thread_id) = match raw.channel {
        Some(RawChannel {
            id,
            kind: Some(kind),
            parent_id: Some(parent),
        }) if THREAD_TYPES.contains(&kind) => (parent, Some(id)),
        Some(channel) => (channel.id, None),
        None => (
            raw.channel_id
                .ok_or(InteractionError::Missing("channel_id"))?,
            None,
        ),
    };
    Ok(Incoming::Request(Request {
        interaction_id: raw.id.ok_or(InteractionError::Missing("id"))?,
        token: raw.token.ok_or(InteractionError::Missing("token"))?,
        application_id: raw
            .application_id
            .ok_or(InteractionError::Missing("application_id"))?,
        user_id: user.id,
        display_name,
        roles,
        guild_id: raw.guild_id,
        channel_id,
        thread_id,
        action,
        pressed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An application command in a guild, as in Discord's documentation.
    const SLASH: &str = r#"{
        "type": 2, "id": "1300000000000000001", "application_id": "1200000000000000000",
        "token": "tok-abc", "version": 1, "guild_id": "1100000000000000000",
        "channel_id": "1000000000000000001",
        "channel": {"id": "1000000000000000001", "type": 0},
        "member": {"user": {"id": "80351110224678912", "username": "ann", "global_name": "Ann"},
                   "roles": ["41771983423143936"], "nick": null, "deaf": false, "mute": false,
                   "joined_at": "2026-01-01T00:00:00.000000+00:00", "flags": 0},
        "data": {"id": "1", "name": "restart", "type": 1,
                 "options": [{"name": "service", "type": 3, "value": "wrkhrs-gateway"}]},
        "locale": "en-GB"
    }"#;

    #[test]
    fn slash_commands_become_requests() {
        let Incoming::Request(request) = parse(
            SLASH.as_bytes(),
            &Registry::new(opsbot_commands::builtin::COMMANDS),
        )
        .unwrap() else {
            panic!("not a request");
        };
        assert_eq!(request.action, Action::Run("restart wrkhrs-gateway".into()));
        assert_eq!(request.user_id, "80351110224678912");
        assert_eq!(request.display_name, "Ann");
        assert_eq!(request.roles, vec!["41771983423143936".to_string()]);
        assert_eq!(request.channel_id, "1000000000000000001");
        assert_eq!(request.thread_id, None);
        assert_eq!(request.token, "tok-abc");
        assert!(!request.pressed);
    }

    /// A MESSAGE_COMPONENT interaction (type 3) for a button opsbot never made, shaped
    /// as Discord documents it: the interaction object with `message`, `member` and
    /// `data: {custom_id, component_type: 2}`
    /// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-message-component-data-structure);
    /// `custom_id` as another app (or an older opsbot) would set it.
    const FOREIGN_BUTTON: &str = r#"{
        "type": 3, "id": "1300000000000000009", "application_id": "1200000000000000000",
        "token": "tok-foreign", "version": 1, "guild_id": "1100000000000000000",
        "channel_id": "1000000000000000001",
        "channel": {"id": "1000000000000000001", "type": 0},
        "member": {"user": {"id": "80351110224678912", "username": "ann", "global_name": "Ann"},
                   "roles": [], "nick": null, "permissions": "2147483647"},
        "message": {"id": "1300000000000000002", "channel_id": "1000000000000000001",
                    "type": 0, "content": "Pick one",
                    "components": [{"type": 1, "components": [
                        {"type": 2, "style": 1, "label": "Click me", "custom_id": "click_one"}]}]},
        "data": {"custom_id": "click_one", "component_type": 2},
        "locale": "en-US", "app_permissions": "442368"
    }"#;

    #[test]
    fn a_press_on_an_unknown_button_is_a_request_to_answer() {
        let Incoming::Request(request) = parse(
            FOREIGN_BUTTON.as_bytes(),
            &Registry::new(opsbot_commands::builtin::COMMANDS),
        )
        .unwrap() else {
            panic!("not a request");
        };
        assert_eq!(request.action, Action::Unknown("click_one".into()));
        assert_eq!(request.token, "tok-foreign");
        assert!(request.pressed);
    }

    #[test]
    fn presses_in_threads_name_the_parent_and_the_thread() {
        let body = r#"{"type": 3, "id": "5", "application_id": 12, "token": "t",
            "channel": {"id": "900", "type": 11, "parent_id": "100"},
            "user": {"id": "7", "username": "dm-user"},
            "message": {"id": "901"},
            "data": {"custom_id": "run:incident ack 4", "component_type": 2}}"#;
        let Incoming::Request(request) = parse(
            body.as_bytes(),
            &Registry::new(opsbot_commands::builtin::COMMANDS),
        )
        .unwrap() else {
            panic!("not a request");
        };
        assert_eq!(request.action, Action::Run("incident ack 4".into()));
        assert_eq!(
            (request.channel_id.as_str(), request.thread_id.as_deref()),
            ("100", Some("900"))
        );
        assert_eq!(request.application_id, "12");
        assert_eq!(request.display_name, "dm-user");
        assert!(request.roles.is_empty() && request.pressed);
    }

    #[test]
    fn pings_autocomplete_and_errors() {
        assert_eq!(
            parse(
                br#"{"type":1,"id":"1","token":"t"}"#,
                &Registry::new(opsbot_commands::builtin::COMMANDS)
            )
            .unwrap(),
            Incoming::Ping
        );
        let body = r#"{"type": 4, "data": {"name": "health", "options": [
            {"name": "service", "type": 3, "value": "wrk", "focused": true}]}}"#;
        assert_eq!(
            parse(
                body.as_bytes(),
                &Registry::new(opsbot_commands::builtin::COMMANDS)
            )
            .unwrap(),
            Incoming::Autocomplete(AutocompleteRequest {
                command: "health".into(),
                option: "service".into(),
                value: "wrk".into()
            })
        );
        assert_eq!(
            parse(
                br#"{"type":5}"#,
                &Registry::new(opsbot_commands::builtin::COMMANDS)
            )
            .unwrap(),
            Incoming::Unsupported(5)
        );
        assert!(matches!(
            parse(b"nope", &Registry::new(opsbot_commands::builtin::COMMANDS)),
            Err(InteractionError::Json(_))
        ));
        assert_eq!(
            parse(
                br#"{"type":3,"data":{"custom_id":"other"}}"#,
                &Registry::new(opsbot_commands::builtin::COMMANDS)
            ),
            Err(InteractionError::UnknownButton("other".into()))
        );
        assert_eq!(
            parse(br#"{"type":2,"data":{"name":"help"},"channel_id":"1","id":"1","token":"t","application_id":"1"}"#, &Registry::new(opsbot_commands::builtin::COMMANDS)),
            Err(InteractionError::Missing("member.user or user"))
        );
    }
}

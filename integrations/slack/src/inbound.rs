//! What Slack sends, turned into neutral data: who typed or pressed what, in which
//! channel and thread, as command text for the engine. Three sources: slash commands
//! (form-encoded), interactions (a form with one `payload` JSON field; block-action
//! button presses carry their command text in the button's `value`) and the Events API
//! (JSON envelopes: `url_verification`, `event_callback` with `app_mention`).
//!
//! The payloads are parsed with slack-morphism's models, so Socket Mode (which hands over
//! the same models) goes through the same functions.
//!
//! Slash commands and button presses carry a `response_url` to answer through; it is
//! kept with the time it was received (it works for 30 minutes), never logged.

use serde_json::{Map, Value};
use slack_morphism::prelude::{
    SlackCommandEvent, SlackEventCallbackBody, SlackInteractionActionContainer,
    SlackInteractionEvent, SlackPushEvent,
};

use crate::{destination::ResponseUrl, signature::unix_now, slash::SlashCommands};

/// Where an invocation came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    SlashCommand,
    Button,
    Mention,
}

/// One message addressed to the bot, in Slack's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    pub source: Source,
    pub user_id: String,
    /// Slack's user name, when the payload has one.
    pub user_name: Option<String>,
    pub channel_id: String,
    /// The thread (its root's `ts`) the message belongs to.
    pub thread_ts: Option<String>,
    /// The command text for the engine (`restart wrkhrs-rag`).
    pub text: String,
    /// Slack's unique id of this delivery (trigger id, action ts, event id): replies are
    /// deduplicated on it, so a retried delivery never answers twice.
    pub delivery_id: String,
    /// Where to answer (slash commands and button presses; mentions have none).
    pub response_url: Option<ResponseUrl>,
}

/// A payload that cannot be understood (the reason goes into a 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InboundError(pub String);

/// An Events API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `url_verification`: answer with the challenge.
    UrlVerification { challenge: String },
    /// `@opsbot restart x`
    Mention(Inbound),
    /// Anything else (acknowledged and dropped).
    Ignored,
}

/// A form body as a JSON object of strings (for slack-morphism's serde models).
fn form_object(body: &[u8]) -> Map<String, Value> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// Parses a slash command request body (`application/x-www-form-urlencoded`).
pub fn parse_slash_command(body: &[u8], slash: &SlashCommands) -> Result<Inbound, InboundError> {
    let form = form_object(body);
    let user_name = form
        .get("user_name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let event: SlackCommandEvent = serde_json::from_value(Value::Object(form))
        .map_err(|e| InboundError(format!("not a Slack slash command: {e}")))?;
    let mut inbound = from_command(&event, slash);
    inbound.user_name = user_name;
    Ok(inbound)
}

/// A slash command event (HTTP or Socket Mode) as an invocation.
pub fn from_command(event: &SlackCommandEvent, slash: &SlashCommands) -> Inbound {
    Inbound {
        source: Source::SlashCommand,
        user_id: event.user_id.0.clone(),
        user_name: None,
        channel_id: event.channel_id.0.clone(),
        thread_ts: None,
        text: slash.to_text(&event.command.0, event.text.as_deref().unwrap_or_default()),
        delivery_id: format!("command:{}", event.trigger_id.0),
        response_url: Some(ResponseUrl::new(event.response_url.0.as_str(), unix_now())),
    }
}

/// The interaction type opsbot acts on: button presses in messages.
const BLOCK_ACTIONS: &str = "block_actions";

/// Parses an interaction request body (`payload=<json>`). `None` for interactions that
/// are not button presses of ours. Only `block_actions` payloads are handed to
/// slack-morphism's model: opsbot opens no modals, and other types (`view_submission`
/// with `state: {}`, shortcuts, …) are acknowledged and ignored whatever their shape,
/// where the model would refuse some of them.
pub fn parse_interaction(body: &[u8]) -> Result<Option<Inbound>, InboundError> {
    let form = form_object(body);
    let payload = form
        .get("payload")
        .and_then(Value::as_str)
        .ok_or_else(|| InboundError("an interaction needs a `payload` form field".into()))?;
    let value: Value = serde_json::from_str(payload)
        .map_err(|e| InboundError(format!("not a Slack interaction payload: {e}")))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| InboundError("not a Slack interaction payload: no `type`".into()))?;
    if kind != BLOCK_ACTIONS {
        tracing::debug!(kind, "ignoring a Slack interaction opsbot does not use");
        return Ok(None);
    }
    let event: SlackInteractionEvent = serde_json::from_value(value)
        .map_err(|e| InboundError(format!("not a Slack interaction payload: {e}")))?;
    Ok(from_interaction(&event))
}

/// A button press (HTTP or Socket Mode) as an invocation: the button's `value` is the
/// command text. A press on a thread reply stays in that thread; a press on a root
/// message (an incident root) answers in the root's thread.
pub fn from_interaction(event: &SlackInteractionEvent) -> Option<Inbound> {
    let SlackInteractionEvent::BlockActions(actions) = event else {
        return None;
    };
    let action = actions.actions.as_ref()?.first()?;
    let text = action.value.as_deref()?.trim().to_string();
    if text.is_empty() {
        return None;
    }
    let user = actions.user.as_ref()?;
    let (message_ts, container_channel) = match &actions.container {
        SlackInteractionActionContainer::Message(m) => {
            (Some(m.message_ts.0.clone()), m.channel_id.clone())
        }
        SlackInteractionActionContainer::MessageAttachment(m) => {
            (Some(m.message_ts.0.clone()), m.channel_id.clone())
        }
        SlackInteractionActionContainer::View(_) => (None, None),
    };
    let channel = actions
        .channel
        .as_ref()
        .map(|c| c.id.0.clone())
        .or(container_channel.map(|c| c.0))?;
    let thread_ts = actions
        .message
        .as_ref()
        .and_then(|m| m.origin.thread_ts.as_ref().map(|t| t.0.clone()))
        .or(message_ts);
    let delivery = action
        .action_ts
        .as_ref()
        .map(|ts| ts.0.clone())
        .unwrap_or_else(|| actions.trigger_id.0.clone());
    Some(Inbound {
        source: Source::Button,
        user_id: user.id.0.clone(),
        user_name: user.username.clone().or(user.name.clone()),
        channel_id: channel,
        thread_ts,
        text,
        delivery_id: format!("action:{delivery}"),
        response_url: actions
            .response_url
            .as_ref()
            .map(|url| ResponseUrl::new(url.0.as_str(), unix_now())),
    })
}

/// Parses an Events API request body (JSON).
pub fn parse_event(body: &[u8]) -> Result<Event, InboundError> {
    let event: SlackPushEvent = serde_json::from_slice(body)
        .map_err(|e| InboundError(format!("not a Slack Events API envelope: {e}")))?;
    Ok(from_push_event(&event))
}

/// An Events API envelope (HTTP or Socket Mode) as an event.
pub fn from_push_event(event: &SlackPushEvent) -> Event {
    match event {
        SlackPushEvent::UrlVerification(v) => Event::UrlVerification {
            challenge: v.challenge.clone(),
        },
        SlackPushEvent::EventCallback(callback) => match &callback.event {
            SlackEventCallbackBody::AppMention(mention) => {
                let text = strip_mentions(mention.content.text.as_deref().unwrap_or_default());
                if text.is_empty() {
                    return Event::Ignored;
                }
                Event::Mention(Inbound {
                    source: Source::Mention,
                    user_id: mention.user.0.clone(),
                    user_name: None,
                    channel_id: mention.channel.0.clone(),
                    thread_ts: mention.origin.thread_ts.as_ref().map(|t| t.0.clone()),
                    text,
                    delivery_id: format!("event:{}", callback.event_id.0),
                    response_url: None,
                })
            }
            _ => Event::Ignored,
        },
        _ => Event::Ignored,
    }
}

/// `<@U0BOT> restart x` → `restart x`: user mentions (`<@…>`) are removed.
pub fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use opsbot_commands::Registry;
    use serde_json::json;

    use super::*;

    fn slash() -> SlashCommands {
        SlashCommands::new(
            &Registry::new(opsbot_commands::builtin::COMMANDS),
            "ops",
            true,
        )
    }

    #[test]
    fn slack_documented_slash_command_parses() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fops&text=restart+wrkhrs-rag&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let inbound = parse_slash_command(body.as_bytes(), &slash()).unwrap();
        assert_eq!(inbound.source, Source::SlashCommand);
        assert_eq!(inbound.user_id, "U2CERLKJA");
        assert_eq!(inbound.user_name.as_deref(), Some("roadrunner"));
        assert_eq!(inbound.channel_id, "G8PSS9T3V");
        assert_eq!(inbound.text, "restart wrkhrs-rag");
        assert_eq!(inbound.thread_ts, None);
        assert!(inbound.delivery_id.starts_with("command:398738663015"));
        let response = inbound.response_url.unwrap();
        assert_eq!(
            response.url,
            "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
        );
        assert!((response.issued_at - unix_now()).abs() < 60);
    }

    #[test]
    fn a_bad_form_is_an_error_not_a_panic() {
        for body in ["", "user_id=U1", "%%%", "command=/ops&text=x"] {
            let error = parse_slash_command(body.as_bytes(), &slash()).unwrap_err();
            assert!(error.0.contains("not a Slack slash command"), "{error}");
        }
        assert!(parse_interaction(b"x=1").is_err());
        assert!(parse_interaction(b"payload=%7Bnope").is_err());
        assert!(parse_event(b"[]").is_err());
    }

    fn button_payload(thread_ts: Option<&str>) -> String {
        let mut message = json!({"type": "message", "ts": "1700000000.000100", "text": "x"});
        if let Some(thread) = thread_ts {
            message["thread_ts"] = json!(thread);
        }
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "T1", "domain": "acme"},
            "user": {"id": "U2", "username": "bob", "team_id": "T1"},
            "api_app_id": "A1",
            "trigger_id": "123.456.abc",
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1", "is_ephemeral": false},
            "channel": {"id": "C1", "name": "ops"},
            "message": message,
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [{"type": "button", "action_id": "opsbot:0", "block_id": "b", "value": "incident ack 7", "action_ts": "1700000001.000200", "text": {"type": "plain_text", "text": "Acknowledge"}}]
        });
        form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
    }

    #[test]
    fn a_button_on_a_root_answers_in_its_thread() {
        let inbound = parse_interaction(button_payload(None).as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(inbound.source, Source::Button);
        assert_eq!(inbound.text, "incident ack 7");
        assert_eq!(inbound.user_id, "U2");
        assert_eq!(inbound.user_name.as_deref(), Some("bob"));
        assert_eq!(inbound.channel_id, "C1");
        assert_eq!(inbound.thread_ts.as_deref(), Some("1700000000.000100"));
        assert_eq!(inbound.delivery_id, "action:1700000001.000200");
        assert_eq!(
            inbound.response_url.map(|r| r.url).as_deref(),
            Some("https://hooks.slack.com/actions/T1/1/x")
        );
        let in_thread = parse_interaction(button_payload(Some("1699999999.000001")).as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(in_thread.thread_ts.as_deref(), Some("1699999999.000001"));
    }

    /// A `view_submission` as Slack documents it
    /// (https://api.slack.com/reference/interaction-payloads/views), with the `state: {}`
    /// of a modal without input blocks, which slack-morphism's model refuses
    /// ("missing field `values`"): acknowledged and ignored, not a 400.
    #[test]
    fn a_view_submission_with_an_empty_state_is_ignored() {
        let payload = json!({
            "type": "view_submission",
            "team": {"id": "T0MJRM1A7", "domain": "pandamonium"},
            "user": {"id": "U0MJRG1AL", "username": "primary-owner", "name": "primary-owner",
                     "team_id": "T0MJRM1A7"},
            "api_app_id": "A0MJRM1AB",
            "token": "Shh_its_a_seekrit",
            "trigger_id": "12466734323.1395872398",
            "view": {
                "id": "VNHU13V36", "type": "modal", "title": {"type": "plain_text", "text": "Modal"},
                "submit": {"type": "plain_text", "text": "Submit"},
                "blocks": [{"type": "section", "block_id": "b1",
                            "text": {"type": "mrkdwn", "text": "Nothing to fill in"}}],
                "private_metadata": "shhh-its-secret",
                "callback_id": "modal-with-inputs",
                "state": {},
                "hash": "156663117.cd33ad1f",
                "team_id": "T0MJRM1A7", "app_id": "A0MJRM1AB", "bot_id": "B0MJRM1AB",
                "root_view_id": "VNHU13V36", "previous_view_id": null,
                "clear_on_close": false, "notify_on_close": false, "external_id": ""
            },
            "response_urls": []
        });
        assert!(
            serde_json::from_value::<SlackInteractionEvent>(payload.clone()).is_err(),
            "the model refuses this shape; if it stops doing so, this test is moot"
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        assert_eq!(parse_interaction(body.as_bytes()), Ok(None));
        // Other types opsbot does not use, whatever their shape.
        for kind in [
            "view_closed",
            "shortcut",
            "message_action",
            "block_suggestion",
        ] {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &json!({"type": kind, "odd": [1]}).to_string())
                .finish();
            assert_eq!(parse_interaction(body.as_bytes()), Ok(None), "{kind}");
        }
        let untyped = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", r#"{"user": {"id": "U1"}}"#)
            .finish();
        assert!(parse_interaction(untyped.as_bytes()).is_err());
    }

    #[test]
    fn url_verification_and_mentions() {
        let challenge = json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
        assert_eq!(
            parse_event(challenge.to_string().as_bytes()).unwrap(),
            Event::UrlVerification {
                challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            }
        );
        let mention = json!({
            "token": "t", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": "Ev1", "event_time": 1700000000,
            "event": {"type": "app_mention", "user": "U3", "text": "<@U0BOT> restart  wrkhrs-rag",
                      "ts": "1700000005.000300", "channel": "C1", "thread_ts": "1700000000.000100",
                      "event_ts": "1700000005.000300"}
        });
        let Event::Mention(inbound) = parse_event(mention.to_string().as_bytes()).unwrap() else {
            panic!("not a mention");
        };
        assert_eq!(inbound.text, "restart wrkhrs-rag");
        assert_eq!(inbound.thread_ts.as_deref(), Some("1700000000.000100"));
        assert_eq!(inbound.user_id, "U3");
        assert_eq!(inbound.delivery_id, "event:Ev1");
        assert_eq!(inbound.response_url, None);
    }

    #[test]
    fn mentions_are_stripped() {
        assert_eq!(strip_mentions("<@U0BOT> health"), "health");
        assert_eq!(strip_mentions("hey <@U0BOT>  health x"), "hey health x");
        assert_eq!(strip_mentions("<@U0BOT"), "");
        assert_eq!(strip_mentions("<@U0BOT>"), "");
    }
}

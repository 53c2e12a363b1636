//! Interaction responses (the body of the HTTP answer, or of the gateway-mode callback
//! `POST /interactions/{id}/{token}/callback`):
//!
//! * PONG to Discord's PING;
//! * "deferred" (type 5: "opsbot is thinking…") for commands and presses, answered within
//!   Discord's 3 seconds whatever the command takes; the result then replaces it (edit of
//!   the original response) or, when only the requester may see it, follows ephemerally;
//! * the confirmation prompt of a destructive button (ephemeral, Yes / Cancel), and its
//!   dismissal;
//! * autocomplete choices.

use serde_json::{Value, json};
use serenity::{
    builder::{CreateActionRow, CreateButton},
    model::application::ButtonStyle,
};

use crate::{custom_id::ButtonAction, render::EPHEMERAL};

/// Response types (Discord docs: interaction-callback-type).
const PONG: u8 = 1;
const CHANNEL_MESSAGE_WITH_SOURCE: u8 = 4;
const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: u8 = 5;
const UPDATE_MESSAGE: u8 = 7;
const APPLICATION_COMMAND_AUTOCOMPLETE_RESULT: u8 = 8;
/// Discord shows at most 25 autocomplete choices.
pub const MAX_CHOICES: usize = 25;

/// The answer to a PING.
pub fn pong() -> Value {
    json!({ "type": PONG })
}

/// "Thinking…": the result follows by editing the original response.
pub fn deferred() -> Value {
    json!({ "type": DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE })
}

/// An immediate ephemeral text answer (unsupported interactions, refusals).
pub fn ephemeral_text(text: &str) -> Value {
    json!({
        "type": CHANNEL_MESSAGE_WITH_SOURCE,
        "data": { "content": text, "flags": EPHEMERAL, "allowed_mentions": { "parse": [] } },
    })
}

/// The prompt of a destructive button: only the presser sees it; "Yes" runs `command`.
/// `None` when `command` is too long for a button (it could not have come from one).
pub fn confirm_prompt(command: &str) -> Option<Value> {
    let yes = ButtonAction::Run(command.to_string()).encode()?;
    let cancel = ButtonAction::Dismiss.encode()?;
    let row = CreateActionRow::Buttons(vec![
        CreateButton::new(yes)
            .label("Yes, run it")
            .style(ButtonStyle::Danger),
        CreateButton::new(cancel)
            .label("Cancel")
            .style(ButtonStyle::Secondary),
    ]);
    Some(json!({
        "type": CHANNEL_MESSAGE_WITH_SOURCE,
        "data": {
            "content": format!("⚠️ Run `{command}`? It goes through the same checks as typing it."),
            "flags": EPHEMERAL,
            "components": [row],
            "allowed_mentions": { "parse": [] },
        },
    }))
}

/// The prompt after "Cancel": the message is replaced, its buttons removed.
pub fn dismissed() -> Value {
    json!({
        "type": UPDATE_MESSAGE,
        "data": { "content": "Cancelled; nothing was run.", "components": [], "embeds": [] },
    })
}

/// Autocomplete choices: `(label, value)` pairs, at most [`MAX_CHOICES`].
pub fn autocomplete(choices: &[(String, String)]) -> Value {
    let choices: Vec<Value> = choices
        .iter()
        .take(MAX_CHOICES)
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    json!({
        "type": APPLICATION_COMMAND_AUTOCOMPLETE_RESULT,
        "data": { "choices": choices },
    })
}

/// The candidates matching `typed`: those starting with it (ignoring case) first, then
/// those containing it, each group in the given order; at most [`MAX_CHOICES`].
pub fn matching<'a>(candidates: impl IntoIterator<Item = &'a str>, typed: &str) -> Vec<&'a str> {
    let typed = typed.trim().to_lowercase();
    let mut prefix = Vec::new();
    let mut inside = Vec::new();
    for candidate in candidates {
        let lowered = candidate.to_lowercase();
        if lowered.starts_with(&typed) {
            prefix.push(candidate);
        } else if lowered.contains(&typed) {
            inside.push(candidate);
        }
    }
    prefix.extend(inside);
    prefix.truncate(MAX_CHOICES);
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_have_discord_types() {
        assert_eq!(pong(), json!({"type": 1}));
        assert_eq!(deferred()["type"], 5);
        let prompt = confirm_prompt("restart wrkhrs-gateway").unwrap();
        assert_eq!(prompt["type"], 4);
        assert_eq!(prompt["data"]["flags"], 64);
        let buttons = &prompt["data"]["components"][0]["components"];
        assert_eq!(buttons[0]["custom_id"], "run:restart wrkhrs-gateway");
        assert_eq!(buttons[1]["custom_id"], "dismiss");
        assert!(confirm_prompt(&"x".repeat(100)).is_none());
        assert_eq!(dismissed()["type"], 7);
        assert_eq!(ephemeral_text("no")["data"]["flags"], 64);
    }

    #[test]
    fn autocomplete_prefers_prefixes() {
        let names = [
            "ai-orchestration",
            "wrkhrs-gateway",
            "wrkhrs-rag",
            "gateway-legacy",
        ];
        assert_eq!(
            matching(names, "GAT"),
            vec!["gateway-legacy", "wrkhrs-gateway"]
        );
        assert_eq!(matching(names, "").len(), 4);
        let many: Vec<String> = (0..40).map(|i| format!("svc-{i}")).collect();
        assert_eq!(matching(many.iter().map(String::as_str), "svc").len(), 25);
        let body = autocomplete(&[("wrkhrs-rag (prod)".into(), "wrkhrs-rag".into())]);
        assert_eq!(body["type"], 8);
        assert_eq!(
            body["data"]["choices"][0],
            json!({"name": "wrkhrs-rag (prod)", "value": "wrkhrs-rag"})
        );
    }
}

//! What a button carries in its `custom_id` (at most 100 characters):
//!
//! * `run:COMMAND` — pressing it runs COMMAND as the person who pressed it;
//! * `ask:COMMAND` — a destructive button: Discord has no confirmation dialog, so the
//!   press answers at once with an ephemeral prompt (only the presser sees it) holding
//!   `run:COMMAND` ("Yes, run it") and `dismiss` ("Cancel");
//! * `dismiss` — closes such a prompt.
//!
//! The command text is only a request: it goes through parsing, RBAC, confirmation,
//! approval and audit like typed text, so a forged `custom_id` gains nothing.

/// Discord's limit on `custom_id`.
pub const MAX_CUSTOM_ID: usize = 100;

const RUN: &str = "run:";
const ASK: &str = "ask:";
const DISMISS: &str = "dismiss";

/// What pressing a button does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ButtonAction {
    Run(String),
    Ask(String),
    Dismiss,
}

impl ButtonAction {
    /// The `custom_id`, or `None` when the command is too long to fit.
    pub fn encode(&self) -> Option<String> {
        let id = match self {
            ButtonAction::Run(command) => format!("{RUN}{command}"),
            ButtonAction::Ask(command) => format!("{ASK}{command}"),
            ButtonAction::Dismiss => DISMISS.to_string(),
        };
        (id.chars().count() <= MAX_CUSTOM_ID).then_some(id)
    }

    pub fn decode(custom_id: &str) -> Option<Self> {
        if custom_id == DISMISS {
            return Some(ButtonAction::Dismiss);
        }
        let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
        if let Some(command) = custom_id.strip_prefix(RUN) {
            return nonempty(command).map(ButtonAction::Run);
        }
        if let Some(command) = custom_id.strip_prefix(ASK) {
            return nonempty(command).map(ButtonAction::Ask);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_limits() {
        for action in [
            ButtonAction::Run("incident ack 42".into()),
            ButtonAction::Ask("restart wrkhrs-gateway".into()),
            ButtonAction::Dismiss,
        ] {
            assert_eq!(
                ButtonAction::decode(&action.encode().unwrap()),
                Some(action)
            );
        }
        assert_eq!(
            ButtonAction::Run("x".repeat(96)).encode().map(|s| s.len()),
            Some(100)
        );
        assert_eq!(ButtonAction::Run("x".repeat(97)).encode(), None);
        assert_eq!(ButtonAction::decode("run:"), None);
        assert_eq!(ButtonAction::decode("delete:all"), None);
    }
}

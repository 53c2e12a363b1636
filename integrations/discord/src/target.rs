//! Where an outbox message of the `discord` platform goes, written in its `channel`
//! string — the one place this scheme is defined:
//!
//! * `1000000000000000001` (a snowflake): a channel (or a thread, which is a channel);
//! * `interaction:TOKEN`: the answer to an interaction, delivered by editing its deferred
//!   original response (or, for a reply only its requester may see, as an ephemeral
//!   follow-up). The token is Discord's interaction token: valid 15 minutes, usable
//!   only for this interaction's messages. It is kept in the outbox row only, never
//!   logged; after it expires Discord refuses the call and the message is parked.

use std::{fmt, str::FromStr};

const INTERACTION: &str = "interaction:";

/// The target of a Discord outbox message.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    Channel(String),
    Interaction { token: String },
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Channel(id) => write!(f, "Channel({id})"),
            Target::Interaction { .. } => f.write_str("Interaction([redacted])"),
        }
    }
}

/// A channel string that is neither a snowflake nor `interaction:TOKEN`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Discord channel id (nor an interaction answer)")]
pub struct TargetError(String);

impl Target {
    /// The channel string of an interaction's answer.
    pub fn interaction(token: &str) -> String {
        format!("{INTERACTION}{token}")
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(token) = text.strip_prefix(INTERACTION) {
            if token.is_empty() || token.contains('/') {
                return Err(TargetError("interaction:…".into()));
            }
            return Ok(Target::Interaction {
                token: token.to_string(),
            });
        }
        let id = text.trim().trim_start_matches('#');
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Target::Channel(id.to_string()))
        } else {
            Err(TargetError(text.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_hides_tokens() {
        assert_eq!("123".parse(), Ok(Target::Channel("123".into())));
        let target: Target = Target::interaction("aW50ZXJhY3Rpb24").parse().unwrap();
        assert_eq!(
            target,
            Target::Interaction {
                token: "aW50ZXJhY3Rpb24".into()
            }
        );
        assert!(!format!("{target:?}").contains("aW50"));
        assert!("ops-alerts".parse::<Target>().is_err());
        assert!("interaction:".parse::<Target>().is_err());
        assert!("interaction:a/b".parse::<Target>().is_err());
    }
}

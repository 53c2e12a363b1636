//! Who a role binding names: a Slack user or user group, a Discord user or guild role, or a
//! console user. Written in configuration as `platform-kind:id`.

use std::{fmt, str::FromStr};

use opsbot_commands::{Actor, Platform};
use serde::{Deserialize, Serialize};

/// A binding subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Subject {
    /// `slack:U024BE7LH`
    SlackUser(String),
    /// `slack-group:S0614TZR7` (a Slack user group)
    SlackGroup(String),
    /// `discord:80351110224678912`
    DiscordUser(String),
    /// `discord-role:41771983423143936` (a guild role)
    DiscordRole(String),
    /// `console:alice`
    ConsoleUser(String),
    /// `automation:ai-service-down` (an `[[automations]]` entry)
    Automation(String),
}

/// A subject string that is not `kind:id`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a subject; write slack:USER_ID, slack-group:GROUP_ID, discord:USER_ID, discord-role:ROLE_ID, console:NAME or automation:NAME"
)]
pub struct SubjectError(pub String);

impl Subject {
    /// Whether this subject names the actor (directly or through a group or role).
    pub fn matches(&self, actor: &Actor) -> bool {
        match (self, actor.platform) {
            (Subject::SlackUser(id), Platform::Slack)
            | (Subject::DiscordUser(id), Platform::Discord)
            | (Subject::ConsoleUser(id), Platform::Console)
            | (Subject::Automation(id), Platform::Automation) => *id == actor.id,
            (Subject::SlackGroup(group), Platform::Slack)
            | (Subject::DiscordRole(group), Platform::Discord) => {
                actor.groups.iter().any(|g| g == group)
            }
            _ => false,
        }
    }
}

impl FromStr for Subject {
    type Err = SubjectError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, id) = text
            .split_once(':')
            .ok_or_else(|| SubjectError(text.into()))?;
        let id = id.trim();
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(SubjectError(text.into()));
        }
        let id = id.to_string();
        Ok(match kind.trim() {
            "slack" => Subject::SlackUser(id),
            "slack-group" => Subject::SlackGroup(id),
            "discord" => Subject::DiscordUser(id),
            "discord-role" => Subject::DiscordRole(id),
            "console" => Subject::ConsoleUser(id),
            "automation" => Subject::Automation(id),
            _ => return Err(SubjectError(text.into())),
        })
    }
}

impl TryFrom<String> for Subject {
    type Error = SubjectError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Subject> for String {
    fn from(subject: Subject) -> String {
        subject.to_string()
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, id) = match self {
            Subject::SlackUser(id) => ("slack", id),
            Subject::SlackGroup(id) => ("slack-group", id),
            Subject::DiscordUser(id) => ("discord", id),
            Subject::DiscordRole(id) => ("discord-role", id),
            Subject::ConsoleUser(id) => ("console", id),
            Subject::Automation(id) => ("automation", id),
        };
        write!(f, "{kind}:{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_and_match() {
        let group: Subject = "slack-group:S0ONCALL".parse().unwrap();
        assert_eq!(group.to_string(), "slack-group:S0ONCALL");
        let actor = Actor::new(Platform::Slack, "U1", "Ann").with_groups(vec!["S0ONCALL".into()]);
        assert!(group.matches(&actor));
        assert!(
            !"discord-role:S0ONCALL"
                .parse::<Subject>()
                .unwrap()
                .matches(&actor)
        );
        assert!("slack:U1".parse::<Subject>().unwrap().matches(&actor));
        assert!(!"console:U1".parse::<Subject>().unwrap().matches(&actor));
        assert!("teams:x".parse::<Subject>().is_err());
        assert!("slack:".parse::<Subject>().is_err());
        assert!("nocolon".parse::<Subject>().is_err());
    }
}

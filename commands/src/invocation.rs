//! Who typed what, where: the platform-neutral input of the command pipeline, including
//! the incident whose thread it was typed in ([`IncidentRef`]), which the adapter that
//! received it resolves once.

use std::fmt;

use crate::ServiceName;

/// The chat surface an invocation came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Console,
    Slack,
    Discord,
    /// An `[[automations]]` entry acting by itself (`automation:NAME`); it has no chat of
    /// its own, so nothing is ever sent to this platform.
    Automation,
    /// The web console (`/ui/`): a surface, not an identity. Its invocations act as the
    /// chat identity that signed in ([`Invocation::via`]); nothing is sent to it.
    Web,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Console => "console",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Automation => "automation",
            Platform::Web => "web",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "console" => Some(Platform::Console),
            "slack" => Some(Platform::Slack),
            "discord" => Some(Platform::Discord),
            "automation" => Some(Platform::Automation),
            "web" => Some(Platform::Web),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The person (or console user) behind an invocation, as the adapter resolved them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub platform: Platform,
    /// Platform user id (`U024BE7LH`, a Discord snowflake, or a console user name).
    pub id: String,
    pub display_name: String,
    /// Group-like memberships: Slack user-group ids or Discord guild role ids.
    pub groups: Vec<String>,
}

impl Actor {
    pub fn new(platform: Platform, id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            platform,
            id: id.into(),
            display_name: display_name.into(),
            groups: Vec::new(),
        }
    }

    pub fn with_groups(mut self, groups: Vec<String>) -> Self {
        self.groups = groups;
        self
    }

    /// `slack:U024BE7LH`, the stable key used in audit rows and approvals.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform, self.id)
    }

    /// How the actor is printed for people: see [`actor_label`].
    pub fn label(&self) -> String {
        actor_label(self.platform.as_str(), &self.id, &self.display_name)
    }
}

/// How an actor is printed everywhere people read it (audit lines, approvals, incident
/// timelines): `Alice (slack:U024BE7LH)`, the name a platform shows and the id that
/// identifies them. Without a name of its own (none, or the id itself) just
/// `slack:U024BE7LH` (a console user without a display name: `console:lead`).
pub fn actor_label(platform: &str, id: &str, name: &str) -> String {
    let name = name.trim();
    if !name.is_empty() && name != id {
        format!("{name} ({platform}:{id})")
    } else {
        format!("{platform}:{id}")
    }
}

/// The incident whose thread an invocation was typed (or pressed) in, as the adapter that
/// received it resolved it. The engine reads its service, the incident desk its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRef {
    pub id: i64,
    /// The incident's service, when the catalog has it: commands typed in the thread may
    /// omit it.
    pub service: Option<ServiceName>,
}

/// One message addressed to the bot.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub actor: Actor,
    /// Channel id or name, as the platform gives it.
    pub channel: String,
    /// Thread the message was posted in, if any.
    pub thread: Option<String>,
    /// The raw text, without the bot mention or slash.
    pub text: String,
    /// The incident whose thread this was typed in (set by the adapter).
    pub incident: Option<IncidentRef>,
    /// The surface it came through when that is not the actor's own chat platform: the
    /// web console ([`Platform::Web`]) acting as a Slack, Discord or console identity.
    pub via: Option<Platform>,
}

impl Invocation {
    pub fn new(actor: Actor, channel: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            actor,
            channel: channel.into(),
            thread: None,
            text: text.into(),
            incident: None,
            via: None,
        }
    }

    /// The same invocation, made through `surface` (the web console) by its actor.
    pub fn via(mut self, surface: Platform) -> Self {
        self.via = Some(surface);
        self
    }

    /// Where it was typed or pressed: [`Invocation::via`], else the actor's platform.
    pub fn surface(&self) -> Platform {
        self.via.unwrap_or(self.actor.platform)
    }

    pub fn platform(&self) -> Platform {
        self.actor.platform
    }

    /// The service of the incident whose thread this was typed in.
    pub fn thread_service(&self) -> Option<&ServiceName> {
        self.incident.as_ref()?.service.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_printed_with_name_and_id() {
        let alice = Actor::new(Platform::Slack, "U024BE7LH", "primary-owner");
        assert_eq!(alice.label(), "primary-owner (slack:U024BE7LH)");
        assert_eq!(
            Actor::new(Platform::Discord, "80351110224678912", "80351110224678912").label(),
            "discord:80351110224678912"
        );
        assert_eq!(actor_label("slack", "U1", " "), "slack:U1");
        assert_eq!(
            Actor::new(Platform::Console, "lead", "lead").label(),
            "console:lead"
        );
        assert_eq!(
            Actor::new(Platform::Console, "operator", "Console operator").label(),
            "Console operator (console:operator)"
        );
    }
}

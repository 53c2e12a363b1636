//! Where a Slack message goes, written as the outbox's channel string: `C024BE91L` (the
//! channel), `C024BE91L/thread=1700000000.000100` (a reply in that thread, for commands
//! typed or pressed in a thread opsbot did not open itself) and `…/only=U024BE7LH` (an
//! ephemeral message only that user sees, `chat.postEphemeral`). Incident threads use the
//! outbox's own thread keys and the plain channel.

use std::{fmt, str::FromStr};

/// A parsed destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub channel: String,
    pub thread_ts: Option<String>,
    /// Only this user sees the message.
    pub only_user: Option<String>,
}

impl Destination {
    pub fn channel(channel: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            thread_ts: None,
            only_user: None,
        }
    }

    pub fn in_thread(mut self, thread_ts: Option<String>) -> Self {
        self.thread_ts = thread_ts;
        self
    }

    pub fn only(mut self, user: impl Into<String>) -> Self {
        self.only_user = Some(user.into());
        self
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.channel)?;
        if let Some(thread) = &self.thread_ts {
            write!(f, "/thread={thread}")?;
        }
        if let Some(user) = &self.only_user {
            write!(f, "/only={user}")?;
        }
        Ok(())
    }
}

/// A destination string that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Slack destination (CHANNEL[/thread=TS][/only=USER])")]
pub struct DestinationError(pub String);

impl FromStr for Destination {
    type Err = DestinationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.split('/');
        let channel = parts.next().unwrap_or_default().trim();
        if channel.is_empty() {
            return Err(DestinationError(text.into()));
        }
        let mut destination = Destination::channel(channel);
        for part in parts {
            match part.split_once('=') {
                Some(("thread", ts)) if !ts.is_empty() => {
                    destination.thread_ts = Some(ts.to_string());
                }
                Some(("only", user)) if !user.is_empty() => {
                    destination.only_user = Some(user.to_string());
                }
                _ => return Err(DestinationError(text.into())),
            }
        }
        Ok(destination)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in [
            "C1",
            "C1/thread=1700000000.000100",
            "C1/only=U2",
            "C1/thread=1.2/only=U2",
        ] {
            let destination: Destination = text.parse().unwrap();
            assert_eq!(destination.to_string(), text);
        }
        let d: Destination = "C1/thread=1.2/only=U2".parse().unwrap();
        assert_eq!(d.channel, "C1");
        assert_eq!(d.thread_ts.as_deref(), Some("1.2"));
        assert_eq!(d.only_user.as_deref(), Some("U2"));
    }

    #[test]
    fn garbage_is_refused() {
        for text in ["", "/thread=1", "C1/thread=", "C1/x=1", "C1/only"] {
            assert!(text.parse::<Destination>().is_err(), "{text}");
        }
    }
}

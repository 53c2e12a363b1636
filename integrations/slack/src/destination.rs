//! Where a Slack message goes, written as the outbox's channel string: `C024BE91L` (the
//! channel), `C024BE91L/thread=1700000000.000100` (a reply in that thread, for commands
//! typed or pressed in a thread opsbot did not open itself), `…/only=U024BE7LH` (an
//! ephemeral message only that user sees, `chat.postEphemeral`) and, last,
//! `…/response=ISSUED:URL` (the answer to a slash command or button press, sent through
//! the request's `response_url`, issued at unix second ISSUED; the channel, thread and
//! user say where it falls back to when that URL no longer works). Incident threads use
//! the outbox's own thread keys and the plain channel.
//!
//! A `response_url` is a credential (anyone holding it may post as the app for 30
//! minutes): [`ResponseUrl`]'s `Debug` and [`DestinationError`] never show it.

use std::{fmt, str::FromStr, time::Duration};

/// How long Slack accepts posts to a `response_url`
/// (https://api.slack.com/interactivity/handling#message_responses).
pub const RESPONSE_URL_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// A `response_url` older than the lifetime minus this is not tried any more: the post
/// would arrive after Slack stopped taking it.
const RESPONSE_URL_MARGIN: Duration = Duration::from_secs(60);

const RESPONSE_PART: &str = "/response=";

/// Where Slack's `response_url`s live: https://api.slack.com/interactivity/handling
/// (`https://hooks.slack.com/commands/…`, `…/actions/…`).
pub const SLACK_RESPONSE_URL_PREFIX: &str = "https://hooks.slack.com/";

/// Which `response_url`s opsbot posts to: only those under one prefix (Slack's hooks host
/// over https, or a test's fake Slack). A request naming any other URL (`file://`, an
/// internal host) is still answered, in the channel through `chat.postMessage`: opsbot
/// never posts a reply, and with it the bot's output, wherever a request points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseUrlPolicy {
    prefix: String,
}

impl Default for ResponseUrlPolicy {
    fn default() -> Self {
        Self {
            prefix: SLACK_RESPONSE_URL_PREFIX.to_string(),
        }
    }
}

impl ResponseUrlPolicy {
    /// Accepts URLs starting with `prefix`, which must be an `http(s)://HOST/…` URL ending
    /// in `/` (so that `https://hooks.slack.com.evil.example/` cannot pass as the host).
    pub fn new(prefix: &str) -> Result<Self, String> {
        let rest = prefix
            .strip_prefix("https://")
            .or_else(|| prefix.strip_prefix("http://"))
            .ok_or_else(|| "must start with https:// (or http:// for a local fake)".to_string())?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') || !prefix.ends_with('/') || !rest.contains('/') {
            return Err(
                "must be a URL with a host, ending in `/` (https://hooks.slack.com/)".into(),
            );
        }
        Ok(Self {
            prefix: prefix.to_string(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether opsbot may post to `url`.
    pub fn allows(&self, url: &str) -> bool {
        url.starts_with(&self.prefix)
    }

    /// `response` if allowed; otherwise `None` (a debug log says so, without the URL,
    /// which may be a credential).
    pub fn vet(&self, response: Option<ResponseUrl>) -> Option<ResponseUrl> {
        let response = response?;
        if self.allows(&response.url) {
            return Some(response);
        }
        tracing::debug!(
            allowed = %self.prefix,
            "ignored a response_url outside the allowed prefix; answering in the channel"
        );
        None
    }
}

/// A request's `response_url` and when Slack issued it (unix seconds, as received).
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseUrl {
    pub url: String,
    pub issued_at: i64,
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseUrl")
            .field("url", &"<redacted>")
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

impl ResponseUrl {
    pub fn new(url: impl Into<String>, issued_at: i64) -> Self {
        Self {
            url: url.into(),
            issued_at,
        }
    }

    /// Whether a post at unix second `now` should still be tried (Slack takes posts for
    /// 30 minutes; the last minute is left out).
    pub fn usable_at(&self, now: i64) -> bool {
        let age = now.saturating_sub(self.issued_at);
        let limit = (RESPONSE_URL_LIFETIME - RESPONSE_URL_MARGIN).as_secs() as i64;
        age < limit
    }
}

/// A parsed destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub channel: String,
    pub thread_ts: Option<String>,
    /// Only this user sees the message.
    pub only_user: Option<String>,
    /// Answer through this `response_url` (falling back to the fields above).
    pub response: Option<ResponseUrl>,
}

impl Destination {
    pub fn channel(channel: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            thread_ts: None,
            only_user: None,
            response: None,
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

    /// Answers through `response` while it works.
    pub fn through(mut self, response: Option<ResponseUrl>) -> Self {
        self.response = response;
        self
    }

    /// The same place without the `response_url`: where an answer falls back to.
    pub fn without_response(&self) -> Self {
        Self {
            response: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Destination {
    /// The outbox's channel string, `response_url` included: store it, never log it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.channel)?;
        if let Some(thread) = &self.thread_ts {
            write!(f, "/thread={thread}")?;
        }
        if let Some(user) = &self.only_user {
            write!(f, "/only={user}")?;
        }
        if let Some(response) = &self.response {
            write!(f, "{RESPONSE_PART}{}:{}", response.issued_at, response.url)?;
        }
        Ok(())
    }
}

/// A destination string that does not parse (shown without any `response_url`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Slack destination (CHANNEL[/thread=TS][/only=USER][/response=ISSUED:URL])")]
pub struct DestinationError(pub String);

impl DestinationError {
    fn of(text: &str) -> Self {
        match text.split_once(RESPONSE_PART) {
            Some((head, _)) => Self(format!("{head}{RESPONSE_PART}<redacted>")),
            None => Self(text.to_string()),
        }
    }
}

fn parse_response(text: &str) -> Option<ResponseUrl> {
    let (issued, url) = text.split_once(':')?;
    let issued_at = issued.parse().ok()?;
    (url.starts_with("https://") || url.starts_with("http://")).then(|| ResponseUrl {
        url: url.to_string(),
        issued_at,
    })
}

impl FromStr for Destination {
    type Err = DestinationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (place, response) = match text.split_once(RESPONSE_PART) {
            Some((place, response)) => (
                place,
                Some(parse_response(response).ok_or_else(|| DestinationError::of(text))?),
            ),
            None => (text, None),
        };
        let mut parts = place.split('/');
        let channel = parts.next().unwrap_or_default().trim();
        if channel.is_empty() {
            return Err(DestinationError::of(text));
        }
        let mut destination = Destination::channel(channel).through(response);
        for part in parts {
            match part.split_once('=') {
                Some(("thread", ts)) if !ts.is_empty() => {
                    destination.thread_ts = Some(ts.to_string());
                }
                Some(("only", user)) if !user.is_empty() => {
                    destination.only_user = Some(user.to_string());
                }
                _ => return Err(DestinationError::of(text)),
            }
        }
        Ok(destination)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOOK: &str = "https://hooks.slack.com/commands/T1/397700885554/96rGlfmibIGlgcZRskXaIFfN";

    #[test]
    fn round_trips() {
        let with_response = format!("C1/thread=1.2/only=U2/response=1700000000:{HOOK}");
        for text in [
            "C1",
            "C1/thread=1700000000.000100",
            "C1/only=U2",
            "C1/thread=1.2/only=U2",
            &format!("C1/response=1700000000:{HOOK}"),
            &with_response,
        ] {
            let destination: Destination = text.parse().unwrap();
            assert_eq!(destination.to_string(), text);
        }
        let d: Destination = with_response.parse().unwrap();
        assert_eq!(d.channel, "C1");
        assert_eq!(d.thread_ts.as_deref(), Some("1.2"));
        assert_eq!(d.only_user.as_deref(), Some("U2"));
        assert_eq!(d.response, Some(ResponseUrl::new(HOOK, 1_700_000_000)));
        assert_eq!(d.without_response().to_string(), "C1/thread=1.2/only=U2");
    }

    #[test]
    fn garbage_is_refused() {
        for text in [
            "",
            "/thread=1",
            "C1/thread=",
            "C1/x=1",
            "C1/only",
            "C1/response=",
            "C1/response=soon:https://x",
            "C1/response=1:ftp://x",
        ] {
            assert!(text.parse::<Destination>().is_err(), "{text}");
        }
    }

    #[test]
    fn only_response_urls_under_the_prefix_are_used() {
        let slack = ResponseUrlPolicy::default();
        assert!(slack.allows("https://hooks.slack.com/commands/T1/2/abc"));
        for forged in [
            "file:///etc/passwd",
            "http://hooks.slack.com/commands/T1/2/abc",
            "https://hooks.slack.com.evil.example/x",
            "https://evil.example/https://hooks.slack.com/",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            assert!(!slack.allows(forged), "{forged}");
            assert_eq!(slack.vet(Some(ResponseUrl::new(forged, 1))), None);
        }
        let kept = ResponseUrl::new("https://hooks.slack.com/actions/T1/1/x", 1);
        assert_eq!(slack.vet(Some(kept.clone())), Some(kept));
        let fake = ResponseUrlPolicy::new("http://127.0.0.1:4000/response/").unwrap();
        assert!(fake.allows("http://127.0.0.1:4000/response/7"));
        for bad in [
            "hooks.slack.com/",
            "https://hooks.slack.com",
            "https:///x/",
            "file:///etc/",
            "https://user@host/",
        ] {
            assert!(ResponseUrlPolicy::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_response_url_is_never_shown() {
        let bad = format!("C1/x=1/response=1700000000:{HOOK}");
        let error = bad.parse::<Destination>().unwrap_err().to_string();
        assert!(!error.contains("hooks.slack.com"), "{error}");
        assert!(error.contains("C1/x=1/response=<redacted>"), "{error}");
        let bad = format!("C1/response=x:{HOOK}");
        let error = bad.parse::<Destination>().unwrap_err().to_string();
        assert!(!error.contains("96rGlfmib"), "{error}");
        let good: Destination = format!("C1/response=1700000000:{HOOK}").parse().unwrap();
        assert!(!format!("{good:?}").contains("hooks.slack.com"));
    }

    #[test]
    fn a_response_url_is_used_for_29_minutes() {
        let response = ResponseUrl::new(HOOK, 1_000);
        assert!(response.usable_at(1_000));
        assert!(response.usable_at(1_000 + 28 * 60));
        assert!(!response.usable_at(1_000 + 29 * 60));
        assert!(!response.usable_at(1_000 + 31 * 60));
    }
}

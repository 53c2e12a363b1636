//! `[web]`: the web console (`/ui/`): the public address its sign-in links point at,
//! whether it is on, and how long links and sessions last. The console itself is
//! [`crate::web`]; this file only says which keys exist, their defaults and what is wrong
//! with them.

use std::time::Duration;

use opsbot_commands::HumanDuration;
use serde::Deserialize;

use super::{Config, document::KeyPath, problems::Problems};

/// `[web]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// `false` turns every `/ui/` route and the `web` command off; default: on when
    /// `public_url` is set.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Where people reach this opsbot (`https://opsbot.example.com`): sign-in links are
    /// `PUBLIC_URL/ui/signin/TOKEN`. With `https://` the session cookie is `Secure`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// How long a sign-in link may be opened (once).
    #[serde(default = "default_link_lifetime")]
    pub link_lifetime: HumanDuration,
    /// How long a session lasts after signing in.
    #[serde(default = "default_session_lifetime")]
    pub session_lifetime: HumanDuration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            public_url: None,
            link_lifetime: default_link_lifetime(),
            session_lifetime: default_session_lifetime(),
        }
    }
}

impl WebConfig {
    /// The public URL without a trailing `/`, when the console is on.
    pub fn serving_url(&self) -> Option<&str> {
        let url = self.public_url.as_deref()?;
        self.enabled
            .unwrap_or(true)
            .then(|| url.trim_end_matches('/'))
    }

    /// Whether the session cookie must be `Secure` (the console is reached over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

/// The most a sign-in link may live: it is a password until it is used.
const LONGEST_LINK: Duration = Duration::from_secs(3600);

pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let path = KeyPath::root().key("web");
    let web = &config.web;
    match web.public_url.as_deref() {
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            problems.push(
                path.key("public_url"),
                format!("`{url}` must start with https:// (or http:// for a local test)"),
            );
        }
        None if web.enabled == Some(true) => problems.push(
            path.key("enabled"),
            "needs `public_url`: sign-in links are built from it",
        ),
        _ => {}
    }
    if web.link_lifetime.as_duration() > LONGEST_LINK {
        problems.push(
            path.key("link_lifetime"),
            "must be at most 1h (a sign-in link is a password until it is used)",
        );
    }
    if web.session_lifetime < web.link_lifetime {
        problems.push(
            path.key("session_lifetime"),
            format!("must be at least link_lifetime ({})", web.link_lifetime),
        );
    }
}

fn default_link_lifetime() -> HumanDuration {
    HumanDuration::from_secs(5 * 60)
}

fn default_session_lifetime() -> HumanDuration {
    HumanDuration::from_secs(12 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        crate::config::parse(text, "t.toml", &|_| None)
    }

    #[test]
    fn on_when_a_public_url_is_set_unless_turned_off() {
        let off: WebConfig = toml::from_str("").unwrap();
        assert_eq!(off, WebConfig::default());
        assert_eq!(off.serving_url(), None);
        assert_eq!(off.link_lifetime.as_duration(), Duration::from_secs(300));
        assert_eq!(
            off.session_lifetime.as_duration(),
            Duration::from_secs(12 * 3600)
        );
        let on: WebConfig = toml::from_str("public_url = \"https://ops.example/\"").unwrap();
        assert_eq!(on.serving_url(), Some("https://ops.example"));
        assert!(on.secure_cookies());
        let turned_off: WebConfig =
            toml::from_str("public_url = \"http://127.0.0.1:8080\"\nenabled = false").unwrap();
        assert_eq!(turned_off.serving_url(), None);
        assert!(!turned_off.secure_cookies());
    }

    #[test]
    fn check_config_names_the_line_of_each_bad_setting() {
        let text = "[web]\nenabled = true\nlink_lifetime = \"2h\"\nsession_lifetime = \"1h\"\n";
        let err = parse(text).unwrap_err();
        let found: Vec<(usize, String)> = err
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.key.clone()))
            .collect();
        assert_eq!(
            found,
            [
                (2, "web.enabled".to_string()),
                (3, "web.link_lifetime".to_string()),
                (4, "web.session_lifetime".to_string()),
            ],
            "{err}"
        );
        let err = parse("[web]\npublic_url = \"ops.example\"\n").unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.key.as_str()), (2, "web.public_url"), "{err}");
        assert!(err.to_string().contains("https://"), "{err}");
        let err = parse("[web]\nlink_lifetime = \"soon\"\n").unwrap_err();
        assert_eq!(err.diagnostics()[0].line, 2, "{err}");
    }
}

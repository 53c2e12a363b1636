//! What the `web` command asks of the binary: the [`WebSignIn`] trait (one-time sign-in
//! links to the web console for the person who asked) and the link it answers with. Links,
//! sessions and the console itself are the binary's (`bot/src/web/`); the command
//! (`builtin/web.rs`) words the reply.

use std::time::Duration;

use async_trait::async_trait;

use crate::Actor;

/// A one-time link that signs its holder in to the web console as one chat identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInLink {
    /// `https://opsbot.example.com/ui/signin/TOKEN`: a secret until it is used.
    pub url: String,
    /// How long it may be opened (once).
    pub valid_for: Duration,
}

/// Issues sign-in links. Errors are sentences for the person who typed the command (`the
/// web console is turned off`, `the store is unavailable …`).
#[async_trait]
pub trait WebSignIn: Send + Sync {
    /// A fresh link that signs `actor` in (with the groups it has now).
    async fn link(&self, actor: &Actor) -> Result<SignInLink, String>;
}

/// No web console (command tests; a binary without `[web]`).
pub struct NoWebConsole;

/// What `web` answers when there is no web console.
pub const NO_WEB_CONSOLE: &str =
    "the web console is turned off; set `[web] public_url` in the configuration to turn it on";

#[async_trait]
impl WebSignIn for NoWebConsole {
    async fn link(&self, _actor: &Actor) -> Result<SignInLink, String> {
        Err(NO_WEB_CONSOLE.to_string())
    }
}

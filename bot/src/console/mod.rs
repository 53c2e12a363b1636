//! The console chat surface (like Hubot's shell adapter): read lines, run each through
//! the same engine as Slack and Discord, print the replies. It acts as one configured
//! console user, so bindings name it `console:NAME`.
//!
//! [`Responder`] is the loop (the role the Slack and Discord adapters' `Responder`s
//! play); [`ConsoleSink`] prints the outbox's messages; [`image`] saves reply images.

use opsbot_commands::{Actor, Platform};

pub mod image;
mod responder;
pub mod sink;
pub use responder::Responder;
pub use sink::ConsoleSink;

/// Who the console acts as, and the channel name its commands are audited under.
#[derive(Clone, Debug)]
pub struct ConsoleIdentity {
    pub user: String,
    pub display_name: String,
    pub channel: String,
    /// Where images of replies (cost charts) are saved; see [`image`].
    pub image_dir: std::path::PathBuf,
}

impl ConsoleIdentity {
    pub(crate) fn actor(&self) -> Actor {
        Actor::new(
            Platform::Console,
            self.user.clone(),
            self.display_name.clone(),
        )
    }
}

//! The console chat surface (like Hubot's shell adapter): read lines, run each through
//! the same engine as Slack and Discord, print the replies. It acts as one configured
//! console user, so bindings name it `console:NAME`.

use std::sync::Arc;

use opsbot_commands::{Actor, Invocation, Platform, context::Progress};
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
};

use crate::engine::Engine;

pub mod image;
pub mod sink;
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
    fn actor(&self) -> Actor {
        Actor::new(
            Platform::Console,
            self.user.clone(),
            self.display_name.clone(),
        )
    }
}

/// Progress lines go to the same ordered output as replies.
struct ConsoleProgress(mpsc::UnboundedSender<String>);

impl Progress for ConsoleProgress {
    fn report(&self, message: &str) {
        let _ = self.0.send(format!("… {message}\n"));
    }
}

/// Runs the console until the input ends or the user types `exit`/`quit`.
/// `prompt` is printed before each line when the input is interactive.
pub async fn run<R, W>(
    engine: Arc<Engine>,
    identity: ConsoleIdentity,
    input: R,
    mut output: W,
    prompt: bool,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let printer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if output.write_all(text.as_bytes()).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let actor = identity.actor();
    let progress = ConsoleProgress(tx.clone());
    let prompt_text = format!("{}> ", identity.user);
    let greeting = format!(
        "opsbot console: you are console:{} in #{}; say `help`, or `exit` to leave.\n",
        identity.user, identity.channel
    );
    let _ = tx.send(greeting);
    let mut lines = input.lines();
    let mut saved_images = 0u64;
    loop {
        if prompt {
            let _ = tx.send(prompt_text.clone());
        }
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if matches!(text, "exit" | "quit") {
            break;
        }
        let invocation = Invocation::new(actor.clone(), identity.channel.clone(), text);
        let reply = engine.handle(&invocation, &progress).await;
        let mut text = reply.to_plain_text();
        if let Some(picture) = &reply.image {
            saved_images += 1;
            match image::save(&identity.image_dir, picture, saved_images) {
                Ok(path) => text.push_str(&format!("\n  saved to {}", path.display())),
                Err(error) => text.push_str(&format!(
                    "\n  (could not save it in {}: {error})",
                    identity.image_dir.display()
                )),
            }
        }
        let _ = tx.send(format!("{text}\n"));
    }
    drop(progress);
    drop(tx);
    let _ = printer.await;
    Ok(())
}

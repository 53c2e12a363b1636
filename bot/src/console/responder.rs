//! The console loop: read a line, run it through the engine as the console user, print
//! the reply (progress lines first, in order), save any image; until the input ends or
//! the user types `exit`/`quit`.

use std::sync::Arc;

use opsbot_commands::{Invocation, context::Progress};
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
};

use super::{ConsoleIdentity, image};
use crate::engine::Engine;

/// Progress lines go to the same ordered output as replies.
struct ConsoleProgress(mpsc::UnboundedSender<String>);

impl Progress for ConsoleProgress {
    fn report(&self, message: &str) {
        let _ = self.0.send(format!("… {message}\n"));
    }
}

/// The console's responder: runs each line typed through the engine as the console
/// user and prints the reply (the same role as the Slack and Discord `Responder`s).
pub struct Responder {
    engine: Arc<Engine>,
    identity: ConsoleIdentity,
}

impl Responder {
    pub fn new(engine: Arc<Engine>, identity: ConsoleIdentity) -> Self {
        Self { engine, identity }
    }

    /// Runs the console until the input ends or the user types `exit`/`quit`.
    /// `prompt` is printed before each line when the input is interactive.
    pub async fn run<R, W>(self, input: R, mut output: W, prompt: bool) -> std::io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let Self { engine, identity } = self;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let printer = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if output.write_all(text.as_bytes()).await.is_err() || output.flush().await.is_err()
                {
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
}

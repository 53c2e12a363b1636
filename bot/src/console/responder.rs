//! The console loop: read a line, run it through the engine as the console user, print
//! the reply (progress lines first, in order), save any image; until the input ends or
//! the user types `exit`/`quit`.
//!
//! One stream of commands is pipelined (a script piped in need not wait for an fsync per
//! line): commands run in order, each reply is printed in order once its audit record is
//! durable, and the records of consecutive commands share group commits. A command that
//! needs a confirmation, or confirms, approves or cancels one, first waits until every
//! reply before it is printed (their records durable); see `engine/pipelined.rs`.

use std::{path::PathBuf, sync::Arc};

use opsbot_commands::{Invocation, Reply, context::Progress};
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt},
    sync::{mpsc, oneshot},
};

use super::{ConsoleIdentity, image};
use crate::engine::{Engine, PendingReply};

/// What the printer prints, in the order it was handed over.
enum Output {
    Text(String),
    /// A reply, printed once its audit record is durable.
    Pending(PendingReply),
    /// A reply already durable.
    Reply(Reply),
    /// Answered once everything before it is printed.
    Barrier(oneshot::Sender<()>),
}

/// Progress lines go to the same ordered output as replies.
struct ConsoleProgress(mpsc::UnboundedSender<Output>);

impl Progress for ConsoleProgress {
    fn report(&self, message: &str) {
        let _ = self.0.send(Output::Text(format!("… {message}\n")));
    }
}

/// Prints `rx` in order, waiting for each pending reply's record; saves reply images in
/// `image_dir`.
async fn print<W>(mut rx: mpsc::UnboundedReceiver<Output>, mut output: W, image_dir: PathBuf)
where
    W: AsyncWrite + Unpin,
{
    let mut saved_images = 0u64;
    while let Some(item) = rx.recv().await {
        let text = match item {
            Output::Text(text) => text,
            Output::Pending(pending) => {
                reply_text(&pending.settled().await, &image_dir, &mut saved_images)
            }
            Output::Reply(reply) => reply_text(&reply, &image_dir, &mut saved_images),
            Output::Barrier(done) => {
                let _ = done.send(());
                continue;
            }
        };
        if output.write_all(text.as_bytes()).await.is_err() || output.flush().await.is_err() {
            break;
        }
    }
}

/// The printed form of `reply`, its image saved (as the `saved_images`-th).
fn reply_text(reply: &Reply, image_dir: &std::path::Path, saved_images: &mut u64) -> String {
    let mut text = reply.to_plain_text();
    if let Some(picture) = &reply.attachment {
        *saved_images += 1;
        match image::save(image_dir, picture, *saved_images) {
            Ok(path) => text.push_str(&format!("\n  saved to {}", path.display())),
            Err(error) => text.push_str(&format!(
                "\n  (could not save it in {}: {error})",
                image_dir.display()
            )),
        }
    }
    text.push('\n');
    text
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
    pub async fn run<R, W>(self, input: R, output: W, prompt: bool) -> std::io::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let Self { engine, identity } = self;
        let (tx, rx) = mpsc::unbounded_channel::<Output>();
        let printer = tokio::spawn(print(rx, output, identity.image_dir.clone()));
        let actor = identity.actor();
        let progress = ConsoleProgress(tx.clone());
        let prompt_text = format!("{}> ", identity.user);
        let greeting = format!(
            "opsbot console: you are console:{} in #{}; say `help`, or `exit` to leave.\n",
            identity.user, identity.channel
        );
        let _ = tx.send(Output::Text(greeting));
        let mut lines = input.lines();
        loop {
            if prompt {
                let _ = tx.send(Output::Text(prompt_text.clone()));
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
            if engine.may_pipeline(&invocation) {
                let pending = engine.handle_pipelined(&invocation, &progress).await;
                let _ = tx.send(Output::Pending(pending));
            } else {
                // Every earlier record durable (its reply printed) before this starts.
                let (done, printed) = oneshot::channel();
                let _ = tx.send(Output::Barrier(done));
                let _ = printed.await;
                let reply = engine.handle(&invocation, &progress).await;
                let _ = tx.send(Output::Reply(reply));
            }
        }
        drop(progress);
        drop(tx);
        let _ = printer.await;
        Ok(())
    }
}

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
/// `image_dir`. What is already settled when the printer gets to it is written together:
/// a script's replies whose records shared a group commit go out in one write, not one
/// write and flush each (each a trip through tokio's blocking pool for stdout).
async fn print<W>(mut rx: mpsc::UnboundedReceiver<Output>, mut output: W, image_dir: PathBuf)
where
    W: AsyncWrite + Unpin,
{
    let mut saved_images = 0u64;
    let mut text = String::new();
    while let Some(first) = rx.recv().await {
        let mut item = Some(first);
        while let Some(next) = item.take() {
            let mut settled = std::pin::pin!(settle(next));
            // Polled once: ready (text, or a barrier) joins this write; not ready, what
            // is written so far goes out first, then the printer waits for it.
            let step =
                match std::future::poll_fn(|cx| std::task::Poll::Ready(settled.as_mut().poll(cx)))
                    .await
                {
                    std::task::Poll::Ready(step) => step,
                    std::task::Poll::Pending => {
                        if !write_out(&mut output, &mut text).await {
                            return;
                        }
                        settled.await
                    }
                };
            match step {
                Settled::Reply(reply) => {
                    text.push_str(&reply_text(&reply, &image_dir, &mut saved_images));
                }
                Settled::Text(line) => text.push_str(&line),
                Settled::Barrier(done) => {
                    // Everything before it is printed before it is answered.
                    if !write_out(&mut output, &mut text).await {
                        return;
                    }
                    let _ = done.send(());
                }
            }
            item = rx.try_recv().ok();
        }
        if !write_out(&mut output, &mut text).await {
            return;
        }
    }
}

/// An [`Output`] ready to print.
enum Settled {
    Text(String),
    Reply(Reply),
    Barrier(oneshot::Sender<()>),
}

/// Waits for `item`'s record when it has one.
async fn settle(item: Output) -> Settled {
    match item {
        Output::Text(text) => Settled::Text(text),
        Output::Pending(pending) => Settled::Reply(pending.settled().await),
        Output::Reply(reply) => Settled::Reply(reply),
        Output::Barrier(done) => Settled::Barrier(done),
    }
}

/// Writes and flushes `text` (then empties it); false when the output is gone.
async fn write_out<W: AsyncWrite + Unpin>(output: &mut W, text: &mut String) -> bool {
    if text.is_empty() {
        return true;
    }
    let ok = output.write_all(text.as_bytes()).await.is_ok() && output.flush().await.is_ok();
    text.clear();
    ok
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

#[cfg(test)]
mod tests {
    use std::{
        pin::Pin,
        sync::{Arc, Mutex},
        task::{Context, Poll},
    };

    use super::*;

    /// An output that keeps each write apart.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<String>>>);

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let text = String::from_utf8_lossy(buf).into_owned();
            self.0.lock().unwrap().push(text);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn what_is_ready_is_written_at_once_in_order_and_a_barrier_waits_for_it() {
        let (tx, rx) = mpsc::unbounded_channel();
        let writes = Writes::default();
        let dir = tempfile::tempdir().unwrap();
        tx.send(Output::Text("greeting\n".into())).unwrap();
        tx.send(Output::Reply(Reply::info("first"))).unwrap();
        tx.send(Output::Reply(Reply::info("second"))).unwrap();
        let (done, barrier) = oneshot::channel();
        tx.send(Output::Barrier(done)).unwrap();
        tx.send(Output::Reply(Reply::info("third"))).unwrap();
        let printer = tokio::spawn(print(rx, writes.clone(), dir.path().to_path_buf()));
        barrier.await.unwrap();
        drop(tx);
        printer.await.unwrap();
        // What was ready went out in one write, in order; the barrier was answered
        // after it, before what came after the barrier.
        let written = writes.0.lock().unwrap();
        assert_eq!(written.len(), 2, "{written:?}");
        let text = &written[0];
        let (g, f, s) = (
            text.find("greeting").unwrap(),
            text.find("first").unwrap(),
            text.find("second").unwrap(),
        );
        assert!(g < f && f < s && !text.contains("third"), "{text}");
        assert!(written[1].contains("third"), "{written:?}");
    }
}

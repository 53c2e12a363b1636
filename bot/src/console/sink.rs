//! The console as a chat platform for the outbox: incident roots, their edits and thread
//! replies are printed as text, so incident threads show up in the terminal. Message refs
//! are `console:N`, numbered from 1 in each process.

use std::{
    io::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use opsbot_commands::{Platform, Reply};
use tokio::sync::mpsc;

use crate::outbox::{ChatSink, DeliveryError, MessageRef};

enum Target {
    Stdout(Mutex<()>),
    Channel(mpsc::UnboundedSender<String>),
}

/// Prints outbox messages for the `console` platform.
pub struct ConsoleSink {
    target: Target,
    next: AtomicU64,
}

impl ConsoleSink {
    /// Prints to standard output (each message in one write).
    pub fn stdout() -> Self {
        Self {
            target: Target::Stdout(Mutex::new(())),
            next: AtomicU64::new(1),
        }
    }

    /// Sends each printed message (a text ending in a newline) to `out`.
    pub fn to_channel(out: mpsc::UnboundedSender<String>) -> Self {
        Self {
            target: Target::Channel(out),
            next: AtomicU64::new(1),
        }
    }

    fn emit(&self, text: String) -> Result<(), DeliveryError> {
        match &self.target {
            Target::Stdout(lock) => {
                let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| DeliveryError::Retry {
                        reason: format!("writing to the console: {e}"),
                        retry_after: None,
                    })
            }
            Target::Channel(out) => out
                .send(text)
                .map_err(|_| DeliveryError::Permanent("the console is closed".into())),
        }
    }
}

/// The reply's text with every line but the first indented under `prefix`.
fn render(prefix: &str, reply: &Reply) -> String {
    let mut out = String::new();
    for (index, line) in reply.to_plain_text().lines().enumerate() {
        if index == 0 {
            out.push_str(prefix);
        } else {
            out.push_str("    ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[async_trait]
impl ChatSink for ConsoleSink {
    fn platform(&self) -> Platform {
        Platform::Console
    }

    /// A terminal takes any number of lines a second.
    fn rate_limited(&self) -> bool {
        false
    }

    async fn post(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let message = MessageRef(format!("console:{id}"));
        let prefix = match thread {
            Some(root) => format!("[#{channel} ↳ {}] ", root.0),
            None => format!("[#{channel} {}] ", message.0),
        };
        self.emit(render(&prefix, reply))?;
        Ok(message)
    }

    async fn edit(
        &self,
        channel: &str,
        message: &MessageRef,
        reply: &Reply,
    ) -> Result<(), DeliveryError> {
        self.emit(render(
            &format!("[#{channel} {} edited] ", message.0),
            reply,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prints_roots_replies_and_edits() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = ConsoleSink::to_channel(tx);
        let root = sink
            .post("ops", None, &Reply::danger("gateway down").line("503"))
            .await
            .unwrap();
        assert_eq!(root, MessageRef("console:1".into()));
        let reply = sink
            .post("ops", Some(&root), &Reply::info("acknowledged by alice"))
            .await
            .unwrap();
        assert_eq!(reply.0, "console:2");
        sink.edit("ops", &root, &Reply::success("gateway resolved"))
            .await
            .unwrap();
        assert_eq!(
            rx.recv().await.unwrap(),
            "[#ops console:1] ❌ gateway down\n    503\n"
        );
        assert_eq!(
            rx.recv().await.unwrap(),
            "[#ops ↳ console:1] ℹ️ acknowledged by alice\n"
        );
        assert_eq!(
            rx.recv().await.unwrap(),
            "[#ops console:1 edited] ✅ gateway resolved\n"
        );
        drop(rx);
        assert!(matches!(
            sink.post("ops", None, &Reply::info("x")).await,
            Err(DeliveryError::Permanent(_))
        ));
    }
}

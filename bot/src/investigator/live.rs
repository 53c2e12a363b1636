//! The investigation's one message in the incident's thread, edited as it grows: posted
//! when the investigation starts (a root of its own outbox thread, posted inside the
//! incident's: `Operation::PostRootInThread`), then edited through the outbox's edit
//! path as notes and streamed text arrive. Edits are coalesced: the first change after a
//! quiet spell goes out at once, then at most one edit per `edit_interval` carries
//! whatever accumulated (the outbox also collapses queued edits to the newest).
//!
//! Thread key `investigation:ID:TURN`; dedupe keys `…:root` and `…:edit:N`.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use opsbot_commands::{Platform, Reply};
use tokio::sync::Notify;

use crate::{
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::{Store, StoreError},
};

/// Where the message lives.
#[derive(Clone, Debug)]
pub struct Place {
    pub platform: Platform,
    pub channel: String,
    /// The incident's outbox thread (`incident:42`), when it has one on this platform.
    pub parent_thread_key: Option<String>,
}

/// The investigation's message.
pub struct LiveMessage {
    store: Store,
    place: Place,
    thread_key: String,
    edits: AtomicU64,
}

impl LiveMessage {
    pub fn new(store: Store, place: Place, investigation: i64, turn: i64) -> Self {
        Self {
            store,
            place,
            thread_key: format!("investigation:{investigation}:{turn}"),
            edits: AtomicU64::new(0),
        }
    }

    fn message(&self, operation: Operation, reply: Reply, dedupe_key: String) -> OutboxMessage {
        OutboxMessage {
            platform: self.place.platform,
            channel: self.place.channel.clone(),
            thread_key: Some(self.thread_key.clone()),
            operation,
            lane: Lane::Interactive,
            reply,
            dedupe_key,
        }
    }

    /// Queues the first post on `conn` (the caller's transaction).
    pub async fn post(
        &self,
        conn: &mut sqlx::AnyConnection,
        reply: Reply,
    ) -> Result<(), StoreError> {
        let operation = match &self.place.parent_thread_key {
            Some(parent) => Operation::PostRootInThread {
                parent_thread_key: parent.clone(),
            },
            None => Operation::PostRoot,
        };
        let message = self.message(operation, reply, format!("{}:root", self.thread_key));
        Outbox::enqueue(conn, &message).await.map(drop)
    }

    /// Queues an edit to `reply`, and wakes the dispatchers.
    pub async fn edit(&self, reply: Reply) -> Result<(), StoreError> {
        let n = self.edits.fetch_add(1, Ordering::Relaxed);
        let message = self.message(
            Operation::EditRoot,
            reply,
            format!("{}:edit:{n}", self.thread_key),
        );
        Outbox::send(&self.store, &message).await.map(drop)
    }
}

/// What the message shows while the investigation runs.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// Progress notes (`gathered health ollama`, `round 1: the model asked for …`).
    pub notes: Vec<String>,
    /// The model's text so far (of its current turn).
    pub text: String,
}

/// A draft shared between the investigation and the task that edits the message.
#[derive(Clone)]
pub struct SharedDraft {
    draft: Arc<Mutex<Draft>>,
    changed: Arc<Notify>,
    stopped: Arc<Notify>,
}

impl SharedDraft {
    pub fn new() -> Self {
        Self {
            draft: Arc::default(),
            changed: Arc::new(Notify::new()),
            stopped: Arc::new(Notify::new()),
        }
    }

    fn change(&self, apply: impl FnOnce(&mut Draft)) {
        if let Ok(mut draft) = self.draft.lock() {
            apply(&mut draft);
        }
        self.changed.notify_one();
    }

    pub fn note(&self, note: impl Into<String>) {
        let note = note.into();
        self.change(|d| d.notes.push(note));
    }

    pub fn push_text(&self, text: &str) {
        self.change(|d| d.text.push_str(text));
    }

    /// Starts a new answer (the next round's text replaces the last).
    pub fn clear_text(&self) {
        self.change(|d| d.text.clear());
    }

    pub fn snapshot(&self) -> Draft {
        self.draft.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Edits `message` with `render(draft)` on every change, at most once per
    /// `interval`, until [`SharedDraft::stop`]; then returns (the caller posts the final
    /// content after).
    pub async fn keep_editing(
        self,
        message: Arc<LiveMessage>,
        interval: Duration,
        render: impl Fn(&Draft) -> Reply + Send,
    ) {
        loop {
            tokio::select! {
                () = self.changed.notified() => {}
                () = self.stopped.notified() => return,
            }
            let reply = render(&self.snapshot());
            if let Err(error) = message.edit(reply).await {
                tracing::warn!(%error, "editing an investigation's message failed");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = self.stopped.notified() => return,
            }
        }
    }

    pub fn stop(&self) {
        self.stopped.notify_one();
    }
}

impl Default for SharedDraft {
    fn default() -> Self {
        Self::new()
    }
}

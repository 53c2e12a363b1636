//! Making checkpoints: read the head and the anchor, sign them, and publish the signed
//! line — first to the append-only checkpoint file (opened with `O_APPEND`; make it
//! append-only for everyone with `chattr +a`), then to the `audit_checkpoints` table and,
//! in the same transaction, the outbox for the audit channels (`[audit] channel`).
//! Runs every `[audit] checkpoint_interval`, off the pipeline's path; a round where
//! neither the head nor the anchor moved since the newest checkpoint signs nothing.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

use super::{
    AuditError,
    checkpoint::{Checkpoint, SignedCheckpoint},
    checkpoint_key::CheckpointSigner,
    checkpoint_store,
    head::{read_anchor, read_head},
};
use crate::{
    config::alerts::DefaultChannel,
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::{Backend, Store},
};
use opsbot_commands::{Platform, Reply};

/// Signs checkpoints of one store with one key.
#[derive(Clone, Debug)]
pub struct Checkpointer {
    store: Store,
    signer: CheckpointSigner,
    file: Option<PathBuf>,
    channels: Vec<(Platform, String)>,
}

impl Checkpointer {
    pub fn new(store: Store, signer: CheckpointSigner, file: Option<PathBuf>) -> Self {
        Self {
            store,
            signer,
            file,
            channels: Vec::new(),
        }
    }

    /// Also posts every checkpoint to these channels.
    pub fn post_to(mut self, channels: &DefaultChannel) -> Self {
        let DefaultChannel {
            slack,
            discord,
            console,
        } = channels;
        for (platform, channel) in [
            (Platform::Slack, slack),
            (Platform::Discord, discord),
            (Platform::Console, console),
        ] {
            if let Some(channel) = channel {
                self.channels.push((platform, channel.clone()));
            }
        }
        self
    }

    /// Signs and publishes a checkpoint of the chain as it is now, unless the newest
    /// stored one already says the same. Returns the new checkpoint.
    pub async fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, AuditError> {
        let mut tx = match self.store.backend() {
            Backend::Postgres => {
                self.store
                    .read_pool()
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?
            }
            Backend::Sqlite => self.store.read_pool().begin().await?,
        };
        let head = read_head(&mut tx).await?;
        let anchor = read_anchor(&mut tx).await?;
        let newest = checkpoint_store::newest(&mut tx, self.signer.public()).await?;
        tx.rollback().await?;
        if let Some(newest) = newest.map(|n| n.checkpoint)
            && (newest.seq, newest.anchor_seq) == (head.seq, anchor.seq)
            && newest.hash == head.hash
        {
            return Ok(None);
        }
        let now = jiff::Timestamp::now();
        let at = jiff::Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now);
        let signed = Checkpoint {
            seq: head.seq,
            hash: head.hash,
            anchor_seq: anchor.seq,
            anchor_hash: anchor.hash,
            at,
            key_id: String::new(),
        }
        .sign(&self.signer);
        if let Some(path) = &self.file {
            let mut line = signed.to_json_line();
            line.push('\n');
            let mut file = tokio::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .await?;
            file.write_all(line.as_bytes()).await?;
            file.sync_data().await?;
        }
        let mut tx = self.store.pool().begin().await?;
        checkpoint_store::insert(&mut tx, &signed).await?;
        for message in self.messages(&signed) {
            Outbox::enqueue(&mut tx, &message).await?;
        }
        tx.commit().await?;
        if !self.channels.is_empty() {
            crate::outbox::wake();
        }
        Ok(Some(signed))
    }

    /// The chat messages carrying `signed`: its JSON line, to be copied into the file
    /// `audit verify --checkpoints` reads.
    fn messages(&self, signed: &SignedCheckpoint) -> Vec<OutboxMessage> {
        let c = &signed.checkpoint;
        let reply = Reply::info(format!(
            "Audit checkpoint: seq {} (anchor {})",
            c.seq, c.anchor_seq
        ))
        .line(format!("`{}`", signed.to_json_line()));
        self.channels
            .iter()
            .map(|(platform, channel)| OutboxMessage {
                platform: *platform,
                channel: channel.clone(),
                thread_key: None,
                operation: Operation::Post,
                lane: Lane::Alerts,
                reply: reply.clone(),
                dedupe_key: format!(
                    "audit-checkpoint:{}:{}:{}:{}",
                    c.key_id,
                    c.at.as_microsecond(),
                    c.seq,
                    platform.as_str()
                ),
            })
            .collect()
    }
}

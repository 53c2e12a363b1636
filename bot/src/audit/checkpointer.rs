//! Making checkpoints: read the head and the anchor, sign them, and publish the signed
//! line — first to the append-only checkpoint file (opened with `O_APPEND`; make it
//! append-only for everyone with `chattr +a`), then to the `audit_checkpoints` table.
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
use crate::store::{Backend, Store};

/// Signs checkpoints of one store with one key.
#[derive(Clone, Debug)]
pub struct Checkpointer {
    store: Store,
    signer: CheckpointSigner,
    file: Option<PathBuf>,
}

impl Checkpointer {
    pub fn new(store: Store, signer: CheckpointSigner, file: Option<PathBuf>) -> Self {
        Self {
            store,
            signer,
            file,
        }
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
        let mut conn = self.store.pool().acquire().await?;
        checkpoint_store::insert(&mut conn, &signed).await?;
        Ok(Some(signed))
    }
}

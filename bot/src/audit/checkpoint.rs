//! A signed checkpoint: the chain's head (seq and hash) and retention anchor at one
//! moment, signed with a key that is not in the store, so that whoever owns the database
//! cannot cut, re-anchor or rewrite the chain without `audit verify` noticing.
//!
//! Canonical encoding (version 1), the bytes that are signed: the domain tag
//! `opsbot-audit-checkpoint-v1\0`; `seq` (i64 big-endian); `hash` (u64 big-endian length,
//! then UTF-8); `anchor_seq`; `anchor_hash`; `at` (unix microseconds, i64 big-endian);
//! `key_id`. Published as one JSON line (the same in the checkpoint file, the
//! `audit_checkpoints` table and the audit channel):
//! `{"seq":…,"hash":"…","anchor_seq":…,"anchor_hash":"…","at":"RFC 3339","key_id":"…","signature":"base64"}`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::checkpoint_key::{CheckpointKey, CheckpointSigner};

const DOMAIN: &[u8] = b"opsbot-audit-checkpoint-v1\0";

/// What a checkpoint states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The head: the newest entry's seq and hash.
    pub seq: i64,
    pub hash: String,
    /// The retention anchor: the last entry removed by retention (0 and the genesis hash
    /// when none was).
    pub anchor_seq: i64,
    pub anchor_hash: String,
    /// When it was signed (microsecond precision).
    pub at: jiff::Timestamp,
    /// The signing key's id.
    pub key_id: String,
}

impl Checkpoint {
    /// The bytes that are signed.
    pub fn canonical(&self) -> Vec<u8> {
        fn put_str(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as u64).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        let mut out = Vec::with_capacity(DOMAIN.len() + 200);
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(&self.seq.to_be_bytes());
        put_str(&mut out, &self.hash);
        out.extend_from_slice(&self.anchor_seq.to_be_bytes());
        put_str(&mut out, &self.anchor_hash);
        out.extend_from_slice(&self.at.as_microsecond().to_be_bytes());
        put_str(&mut out, &self.key_id);
        out
    }

    /// Signs it (the key id is set to the signer's).
    pub fn sign(mut self, signer: &CheckpointSigner) -> SignedCheckpoint {
        self.key_id = signer.public().id().to_string();
        let signature = signer.sign(&self.canonical());
        SignedCheckpoint {
            checkpoint: self,
            signature,
        }
    }
}

/// A checkpoint and its base64 Ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub signature: String,
}

/// Why a published checkpoint is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("not a checkpoint line: {0}")]
    Malformed(String),
    #[error("signed by key {0}, which is not a key given to verify")]
    UnknownKey(String),
    #[error("its signature does not verify (forged or altered)")]
    BadSignature,
}

/// The JSON line form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: i64,
    hash: String,
    anchor_seq: i64,
    anchor_hash: String,
    at: String,
    key_id: String,
    signature: String,
}

impl SignedCheckpoint {
    /// One JSON line (without the newline).
    pub fn to_json_line(&self) -> String {
        let c = &self.checkpoint;
        serde_json::to_string(&Line {
            seq: c.seq,
            hash: c.hash.clone(),
            anchor_seq: c.anchor_seq,
            anchor_hash: c.anchor_hash.clone(),
            at: c.at.to_string(),
            key_id: c.key_id.clone(),
            signature: self.signature.clone(),
        })
        .expect("a checkpoint always encodes")
    }

    /// Parses a JSON line; the signature is not checked here.
    pub fn from_json_line(line: &str) -> Result<Self, Rejected> {
        let line: Line =
            serde_json::from_str(line.trim()).map_err(|e| Rejected::Malformed(e.to_string()))?;
        let at = line
            .at
            .parse::<jiff::Timestamp>()
            .map_err(|e| Rejected::Malformed(format!("at: {e}")))?;
        Ok(Self {
            checkpoint: Checkpoint {
                seq: line.seq,
                hash: line.hash,
                anchor_seq: line.anchor_seq,
                anchor_hash: line.anchor_hash,
                at,
                key_id: line.key_id,
            },
            signature: line.signature,
        })
    }

    /// Checks the signature with the key of the checkpoint's key id among `keys`.
    pub fn check(&self, keys: &[CheckpointKey]) -> Result<(), Rejected> {
        let key = keys
            .iter()
            .find(|k| k.id() == self.checkpoint.key_id)
            .ok_or_else(|| Rejected::UnknownKey(self.checkpoint.key_id.clone()))?;
        if key.verifies(&self.checkpoint.canonical(), &self.signature) {
            Ok(())
        } else {
            Err(Rejected::BadSignature)
        }
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checkpoint seq {} hash {} (anchor {}, signed {} by key {})",
            self.seq,
            short(&self.hash),
            self.anchor_seq,
            self.at,
            self.key_id
        )
    }
}

/// The first 12 characters of a hash, for messages.
pub(crate) fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GENESIS_HASH;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            seq: 42,
            hash: "ab".repeat(32),
            anchor_seq: 0,
            anchor_hash: GENESIS_HASH.into(),
            at: jiff::Timestamp::from_microsecond(1_765_000_000_123_456).unwrap(),
            key_id: String::new(),
        }
    }

    #[test]
    fn round_trips_through_a_json_line_and_verifies() {
        let signer = CheckpointSigner::generate().unwrap().0;
        let signed = checkpoint().sign(&signer);
        let line = signed.to_json_line();
        assert!(!line.contains('\n'));
        let parsed = SignedCheckpoint::from_json_line(&line).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(parsed.check(&[signer.public().clone()]), Ok(()));
    }

    #[test]
    fn altered_forged_and_foreign_checkpoints_are_rejected() {
        let signer = CheckpointSigner::generate().unwrap().0;
        let keys = [signer.public().clone()];
        let signed = checkpoint().sign(&signer);
        // Any field changed after signing.
        let mut altered = signed.clone();
        altered.checkpoint.seq = 41;
        assert_eq!(altered.check(&keys), Err(Rejected::BadSignature));
        let mut altered = signed.clone();
        altered.checkpoint.anchor_seq = 7;
        assert_eq!(altered.check(&keys), Err(Rejected::BadSignature));
        // Signed by another key, claiming ours.
        let other = CheckpointSigner::generate().unwrap().0;
        let mut forged = checkpoint().sign(&other);
        assert!(matches!(forged.check(&keys), Err(Rejected::UnknownKey(_))));
        forged.checkpoint.key_id = signer.public().id().to_string();
        assert_eq!(forged.check(&keys), Err(Rejected::BadSignature));
        assert!(matches!(
            SignedCheckpoint::from_json_line("{\"seq\":1}"),
            Err(Rejected::Malformed(_))
        ));
    }
}

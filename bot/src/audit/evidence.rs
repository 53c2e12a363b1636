//! What `audit verify` checks the chain against besides itself: signed checkpoints (from
//! the checkpoint file, the audit channel or the `audit_checkpoints` table) and JSONL
//! exports. Only checkpoints whose signature verifies with a key given to verify count;
//! the others are listed as rejected (a forged or altered line, or another key's).
//!
//! From them verify learns the hash the chain had at given seqs (a checkpoint's head and
//! anchor, every line of an export) and judges three things the store alone cannot show:
//!
//! * **truncated**: a checkpoint or export knows a seq beyond the store's head;
//! * **rewritten**: the recomputed chain disagrees with a known hash;
//! * **anchor moved**: the retention anchor (the store's, or one a later checkpoint
//!   signed) passes entries that were not all older than the retention. Retention only
//!   removes entries covered by a checkpoint signed more than the retention ago (see
//!   [`super::prune_checked`]), so an anchor beyond the newest such checkpoint's seq, or
//!   past an exported entry younger than the retention, was moved by hand.

use std::{collections::BTreeMap, io::BufRead, path::Path, time::Duration};

use super::{
    AuditError, ChainProblem, ProblemKind,
    checkpoint::{Checkpoint, SignedCheckpoint, short},
    checkpoint_key::CheckpointKey,
    checkpoint_store,
};
use crate::store::Store;

/// A hash the chain is known to have had at a seq, and who says so.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    pub hash: String,
    pub source: String,
}

/// An exported entry younger than the retention.
#[derive(Clone, Debug)]
struct YoungEntry {
    seq: i64,
    at: jiff::Timestamp,
    source: String,
}

/// Checkpoints and exports to verify the chain against.
#[derive(Clone, Debug)]
pub struct Evidence {
    keys: Vec<CheckpointKey>,
    now: jiff::Timestamp,
    retention: Duration,
    checkpoints: Vec<(Checkpoint, String)>,
    points: BTreeMap<i64, Vec<Point>>,
    first_young: Option<YoungEntry>,
    rejected: Vec<String>,
}

impl Default for Evidence {
    /// No evidence: verify checks the chain against itself only.
    fn default() -> Self {
        Self::new(Vec::new(), jiff::Timestamp::UNIX_EPOCH, Duration::MAX)
    }
}

impl Evidence {
    /// Evidence judged with these trusted public keys, at `now`, for a log that keeps
    /// entries for `retention`.
    pub fn new(keys: Vec<CheckpointKey>, now: jiff::Timestamp, retention: Duration) -> Self {
        Self {
            keys,
            now,
            retention,
            checkpoints: Vec::new(),
            points: BTreeMap::new(),
            first_young: None,
            rejected: Vec::new(),
        }
    }

    /// How many checkpoints were accepted.
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    /// The checkpoints that were not accepted, each with where it came from and why.
    pub fn rejected(&self) -> &[String] {
        &self.rejected
    }

    pub(crate) fn points(&self) -> &BTreeMap<i64, Vec<Point>> {
        &self.points
    }

    fn point(&mut self, seq: i64, hash: &str, source: &str) {
        let at = self.points.entry(seq).or_default();
        if !at.iter().any(|p| p.hash == hash) {
            at.push(Point {
                hash: hash.to_string(),
                source: source.to_string(),
            });
        }
    }

    /// Adds a checkpoint if its signature verifies with one of the keys.
    pub fn add_checkpoint(&mut self, signed: SignedCheckpoint, source: &str) {
        if let Err(why) = signed.check(&self.keys) {
            self.rejected.push(format!("{source}: {why}"));
            return;
        }
        let c = signed.checkpoint;
        let label = format!("the checkpoint signed {} ({source})", c.at);
        self.point(c.seq, &c.hash, &label);
        if c.anchor_seq > 0 {
            self.point(c.anchor_seq, &c.anchor_hash, &label);
        }
        self.checkpoints.push((c, label));
    }

    /// Adds every checkpoint line of a checkpoint file (blank lines are skipped).
    pub fn add_checkpoint_file(&mut self, path: &Path) -> Result<(), AuditError> {
        let name = path.display().to_string();
        self.add_checkpoint_lines(&name, std::io::BufReader::new(std::fs::File::open(path)?))
    }

    pub fn add_checkpoint_lines(
        &mut self,
        name: &str,
        text: impl BufRead,
    ) -> Result<(), AuditError> {
        for (n, line) in text.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let source = format!("{name}:{}", n + 1);
            match SignedCheckpoint::from_json_line(&line) {
                Ok(signed) => self.add_checkpoint(signed, &source),
                Err(why) => self.rejected.push(format!("{source}: {why}")),
            }
        }
        Ok(())
    }

    /// Adds the checkpoints stored in the database (trusted only if they verify).
    pub async fn add_stored_checkpoints(&mut self, store: &Store) -> Result<(), AuditError> {
        for signed in checkpoint_store::all(store).await? {
            self.add_checkpoint(signed, "audit_checkpoints");
        }
        Ok(())
    }

    /// Adds an `audit export` file: every line's seq, hash and time.
    pub fn add_export_file(&mut self, path: &Path) -> Result<(), AuditError> {
        let name = path.display().to_string();
        self.add_export_lines(&name, std::io::BufReader::new(std::fs::File::open(path)?))
    }

    pub fn add_export_lines(&mut self, name: &str, text: impl BufRead) -> Result<(), AuditError> {
        #[derive(serde::Deserialize)]
        struct Line {
            seq: i64,
            hash: String,
            at: String,
        }
        let young_after = self.young_after(self.now);
        for (n, line) in text.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let source = format!("{name}:{}", n + 1);
            let parsed: Line = match serde_json::from_str(&line) {
                Ok(parsed) => parsed,
                Err(e) => {
                    self.rejected
                        .push(format!("{source}: not an export line: {e}"));
                    continue;
                }
            };
            let Ok(at) = parsed.at.parse::<jiff::Timestamp>() else {
                self.rejected
                    .push(format!("{source}: bad time {:?}", parsed.at));
                continue;
            };
            self.point(parsed.seq, &parsed.hash, &format!("the export {source}"));
            if young_after.is_some_and(|cutoff| at > cutoff)
                && self.first_young.as_ref().is_none_or(|y| parsed.seq < y.seq)
            {
                self.first_young = Some(YoungEntry {
                    seq: parsed.seq,
                    at,
                    source,
                });
            }
        }
        Ok(())
    }

    /// `at - retention`: entries written after it were younger than the retention at
    /// `at` (`None`: no entry ever is).
    fn young_after(&self, at: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let span = jiff::SignedDuration::try_from(self.retention).ok()?;
        at.checked_sub(span).ok()
    }

    /// The truncation a known seq beyond the store's head shows.
    pub(crate) fn truncation(&self, head_seq: i64) -> Option<ChainProblem> {
        let (&seq, points) = self.points.last_key_value()?;
        if seq <= head_seq {
            return None;
        }
        let point = &points[0];
        Some(ChainProblem {
            seq: head_seq + 1,
            kind: ProblemKind::Truncated,
            detail: format!(
                "{} has seq {seq} hash {}, but the store's head is at {head_seq} < {seq}: \
                 entries {}..={seq} were removed and audit_head moved back",
                point.source,
                short(&point.hash),
                head_seq + 1
            ),
        })
    }

    /// Whether the store's anchor, or one a checkpoint signed, passes entries that were
    /// not all older than the retention when it was observed.
    pub(crate) fn anchor_problem(&self, anchor_seq: i64) -> Option<ChainProblem> {
        if let Some(young) = &self.first_young
            && young.seq <= anchor_seq
        {
            return Some(ChainProblem {
                seq: young.seq,
                kind: ProblemKind::AnchorMoved,
                detail: format!(
                    "the store's retention anchor is at {anchor_seq}, past entry {} of {}, \
                     which was written {} and is younger than the retention; it was removed \
                     by hand",
                    young.seq, young.source, young.at
                ),
            });
        }
        let mut signed: Vec<&(Checkpoint, String)> = self.checkpoints.iter().collect();
        signed.sort_by_key(|(c, _)| c.at);
        // The anchor as first seen predates this evidence: nothing to judge it by.
        let first_anchor = signed.first()?.0.anchor_seq;
        let observed = signed
            .iter()
            .map(|(c, label)| (c.at, c.anchor_seq, label.clone()))
            .chain([(self.now, anchor_seq, "the store".to_string())]);
        for (at, anchor, label) in observed {
            if anchor <= first_anchor {
                continue;
            }
            let cutoff = self.young_after(at);
            let covered = signed
                .iter()
                .filter(|(c, _)| cutoff.is_some_and(|cutoff| c.at <= cutoff))
                .map(|(c, _)| c.seq)
                .max()
                .unwrap_or(first_anchor)
                .max(first_anchor);
            if anchor > covered {
                let when = cutoff.map_or_else(|| "ever".to_string(), |c| c.to_string());
                return Some(ChainProblem {
                    seq: covered + 1,
                    kind: ProblemKind::AnchorMoved,
                    detail: format!(
                        "{label} puts the retention anchor at {anchor}, but only entries up \
                         to {covered} are covered by a checkpoint signed before {when} (older \
                         than the retention); entries {}..={anchor} were removed by hand",
                        covered + 1
                    ),
                });
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;

//! Whether the audit entries a record cites still hold: each one's hash is recomputed
//! from its contents ([`crate::audit::entry_hash`]) and its links to the entries before
//! and after it are checked, so an edited, inserted or deleted entry among them is named.
//! The whole chain's [`crate::audit::verify`] report goes with it. Reads only.

use std::collections::BTreeMap;

use crate::{
    audit::{
        AuditEntry, AuditError, ENTRY_COLUMNS, VerifyReport, decode_entry, entry_hash, verify,
    },
    store::Store,
};

/// What was found about one cited entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Citation {
    pub seq: i64,
    /// `None`: its hash matches its contents and both neighbours link to it.
    pub problem: Option<String>,
}

impl Citation {
    pub fn holds(&self) -> bool {
        self.problem.is_none()
    }
}

/// The verification of a record's citations and of the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CitationCheck {
    pub citations: Vec<Citation>,
    pub chain: VerifyReport,
}

impl CitationCheck {
    /// Checks `seqs` (each once, in order) and verifies the whole chain.
    pub async fn run(store: &Store, seqs: &[i64]) -> Result<Self, AuditError> {
        let mut citations = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for &seq in seqs {
            if seen.insert(seq) {
                citations.push(check(store, seq).await?);
            }
        }
        Ok(Self {
            citations,
            chain: verify(store).await?,
        })
    }

    /// The cited entries that do not hold.
    pub fn tampered(&self) -> impl Iterator<Item = &Citation> {
        self.citations.iter().filter(|c| !c.holds())
    }

    /// `✅ all 7 cited audit entries hold; audit chain OK: …` or what is wrong.
    pub fn summary(&self) -> String {
        let bad = self.tampered().count();
        let cited = if bad == 0 {
            format!("✅ all {} cited audit entries hold", self.citations.len())
        } else {
            format!(
                "❌ {bad} of {} cited audit entries do NOT hold",
                self.citations.len()
            )
        };
        let mark = if self.chain.is_ok() { "✅" } else { "❌" };
        format!("{cited}; {mark} {}", self.chain)
    }
}

/// Reads the entries at `seq - 1 ..= seq + 1` (those that decode; a row that does not
/// is reported for `seq` itself) and judges the one at `seq`.
async fn check(store: &Store, seq: i64) -> Result<Citation, AuditError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq"
    )))
    .bind(seq - 1)
    .bind(seq + 1)
    .fetch_all(store.read_pool())
    .await?;
    let mut near: BTreeMap<i64, AuditEntry> = BTreeMap::new();
    for row in &rows {
        match decode_entry(row) {
            Ok(entry) => {
                near.insert(entry.seq, entry);
            }
            Err(bad) if bad.seq == seq => {
                return Ok(Citation {
                    seq,
                    problem: Some(format!("unreadable: {}", bad.detail)),
                });
            }
            Err(_) => {}
        }
    }
    let problem = match near.get(&seq) {
        None => Some("missing: the entry is gone from the log".to_string()),
        Some(entry) => judge(entry, near.get(&(seq - 1)), near.get(&(seq + 1))),
    };
    Ok(Citation { seq, problem })
}

fn judge(
    entry: &AuditEntry,
    before: Option<&AuditEntry>,
    after: Option<&AuditEntry>,
) -> Option<String> {
    if entry_hash(&entry.prev_hash, entry.seq, &entry.record) != entry.hash {
        return Some("edited: its stored hash does not match its contents".into());
    }
    if let Some(before) = before
        && before.hash != entry.prev_hash
    {
        return Some(format!(
            "the link to entry {} is broken (an entry was edited, inserted or deleted)",
            before.seq
        ));
    }
    if let Some(after) = after
        && after.prev_hash != entry.hash
    {
        return Some(format!(
            "entry {} does not link to it (an entry was edited, inserted or deleted)",
            after.seq
        ));
    }
    None
}

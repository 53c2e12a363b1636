//! `audit verify`: walks the hash chain from the retention anchor (or genesis) to the head
//! and reports the first place it does not hold, classified as an edit, an insertion or a
//! deletion.
//!
//! The walk reads pages of entries in seq order inside one read-only snapshot (so rows
//! appended meanwhile are not mistaken for forgeries) and keeps only the previous entry's
//! link in memory. For each entry it expects `seq = previous + 1` and
//! `prev_hash = previous hash`, and recomputes the hash. When something does not fit it
//! looks at the neighbours to say what happened:
//!
//! * **Edited**: the link fits but the stored hash does not match the contents (a field,
//!   the hash, or `prev_hash` alone was changed; or a value no longer decodes); or the
//!   newest entry's hash differs from `audit_head`.
//! * **Deleted**: a seq gap; a broken link whose row is otherwise intact (its
//!   predecessor is gone, later rows renumbered down); entries missing before the head.
//! * **Inserted**: a row after `audit_head`, or at/before the retention anchor; two rows
//!   claiming the same predecessor (a forged row wedged in, later rows renumbered up);
//!   a row the next row links past.
//!
//! A chain without an external anchor cannot catch someone who rewrites every later
//! hash and the head: this detects tampering by anyone who does not. [`verify_with`]
//! also checks the chain against signed checkpoints and exports ([`Evidence`]), which
//! catches that too: it reports the chain **truncated** (a known seq beyond the head),
//! **rewritten** (the recomputed hash at a known seq differs) or the **anchor moved**
//! (retention's anchor passes entries that were not old enough).

use std::{collections::VecDeque, fmt};

use sqlx::{AnyConnection, any::AnyRow};

use super::{
    AuditEntry, AuditError,
    chain::entry_hash,
    checkpoint::short,
    evidence::Evidence,
    head::{ChainPoint, read_anchor, read_head},
    row::{BadRow, ENTRY_COLUMNS, decode_entry, row_seq},
};
use crate::store::{Backend, Store};

/// Entries read per query.
const PAGE: i64 = 1000;

/// What kind of tampering a chain break looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    Edited,
    Inserted,
    Deleted,
    /// Newer entries than a checkpoint or export knows of are gone, the head moved back.
    Truncated,
    /// The chain was recomputed after a change: it disagrees with a checkpoint or export.
    Rewritten,
    /// The retention anchor passes entries that were younger than the retention.
    AnchorMoved,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::Edited => "edited",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Deleted => "deleted",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Rewritten => "rewritten",
            ProblemKind::AnchorMoved => "anchor moved",
        })
    }
}

/// The first place the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainProblem {
    /// The seq of the edited or inserted entry, or the first missing seq.
    pub seq: i64,
    pub kind: ProblemKind,
    pub detail: String,
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {} {}: {}", self.seq, self.kind, self.detail)
    }
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries that checked out before the first problem (all of them if none).
    pub checked: u64,
    /// The first and last entry that checked out.
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub problem: Option<ChainProblem>,
    /// Hashes known from checkpoints and exports that the chain matched.
    pub confirmed: u64,
    /// Published checkpoints (or export lines) that were not accepted, and why.
    pub rejected: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problem.is_none() && self.rejected.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range = match (self.first_seq, self.last_seq) {
            (Some(first), Some(last)) => format!(", seq {first}..={last}"),
            _ => String::new(),
        };
        let confirmed = match self.confirmed {
            0 => String::new(),
            n => format!(", {n} hashes match the signed checkpoints and exports"),
        };
        match &self.problem {
            None if !self.rejected.is_empty() => write!(
                f,
                "audit checkpoints REJECTED: {} not accepted, the first: {} ({} entries \
                 verified{range}{confirmed})",
                self.rejected.len(),
                self.rejected[0],
                self.checked
            ),
            None => write!(
                f,
                "audit chain OK: {} entries verified{range}{confirmed}",
                self.checked
            ),
            Some(problem) => write!(
                f,
                "audit chain BROKEN: {problem} ({} entries verified before it{range})",
                self.checked
            ),
        }
    }
}

/// Verifies the whole chain against itself; see the module docs for what is reported.
pub async fn verify(store: &Store) -> Result<VerifyReport, AuditError> {
    verify_with(store, &Evidence::default()).await
}

/// Verifies the whole chain against itself and against `evidence`.
pub async fn verify_with(store: &Store, evidence: &Evidence) -> Result<VerifyReport, AuditError> {
    let mut tx = match store.backend() {
        Backend::Postgres => {
            store
                .read_pool()
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await?
        }
        // A deferred transaction: the first read pins a WAL snapshot for the whole walk.
        Backend::Sqlite => store.read_pool().begin().await?,
    };
    let report = walk(&mut tx, evidence).await;
    tx.rollback().await?;
    let mut report = report?;
    report.rejected = evidence.rejected().to_vec();
    Ok(report)
}

/// The previous entry that checked out: enough to judge the next one.
struct Link {
    seq: i64,
    prev_hash: String,
    hash: String,
}

struct Walk<'e> {
    anchor: ChainPoint,
    head: ChainPoint,
    checked: u64,
    first_seq: Option<i64>,
    last: Option<Link>,
    evidence: &'e Evidence,
    /// The last seq whose hash matched a known one (the anchor to begin with).
    confirmed_through: i64,
    confirmed: u64,
}

impl Walk<'_> {
    fn expected_seq(&self) -> i64 {
        self.last.as_ref().map_or(self.anchor.seq, |l| l.seq) + 1
    }

    fn expected_prev(&self) -> &str {
        self.last.as_ref().map_or(&self.anchor.hash, |l| &l.hash)
    }

    fn report(self, problem: Option<ChainProblem>) -> VerifyReport {
        VerifyReport {
            checked: self.checked,
            first_seq: self.first_seq,
            last_seq: self.last.map(|l| l.seq),
            problem,
            confirmed: self.confirmed,
            rejected: Vec::new(),
        }
    }

    /// Compares the hash of a seq the chain has (the anchor or an entry that fits)
    /// with the hashes the evidence knows for it.
    fn confirm(&mut self, seq: i64, hash: &str) -> Option<ChainProblem> {
        let known = self.evidence.points().get(&seq)?;
        for point in known {
            if point.hash != hash {
                let from = self.confirmed_through + 1;
                let what = if from >= seq {
                    format!("entry {seq} was changed")
                } else {
                    format!("an entry in {from}..={seq} was changed")
                };
                return problem(
                    from.min(seq),
                    ProblemKind::Rewritten,
                    format!(
                        "{what} and the chain recomputed: at seq {seq} the chain gives hash {} \
                         but {} says {}",
                        short(hash),
                        point.source,
                        short(&point.hash)
                    ),
                );
            }
            self.confirmed += 1;
        }
        self.confirmed_through = seq;
        None
    }
}

/// What [`judge`] made of one row.
enum Verdict {
    Fits(Link),
    Broken(ChainProblem),
}

fn broken(seq: i64, kind: ProblemKind, detail: impl Into<String>) -> Verdict {
    Verdict::Broken(ChainProblem {
        seq,
        kind,
        detail: detail.into(),
    })
}

fn problem(seq: i64, kind: ProblemKind, detail: impl Into<String>) -> Option<ChainProblem> {
    Some(ChainProblem {
        seq,
        kind,
        detail: detail.into(),
    })
}

async fn walk(conn: &mut AnyConnection, evidence: &Evidence) -> Result<VerifyReport, AuditError> {
    let anchor = read_anchor(conn).await?;
    let head = read_head(conn).await?;
    let mut walk = Walk {
        confirmed_through: anchor.seq,
        anchor,
        head,
        checked: 0,
        first_seq: None,
        last: None,
        evidence,
        confirmed: 0,
    };
    if let Some(found) = evidence.anchor_problem(walk.anchor.seq) {
        return Ok(walk.report(Some(found)));
    }
    if walk.anchor.seq > 0 {
        let (seq, hash) = (walk.anchor.seq, walk.anchor.hash.clone());
        if let Some(found) = walk.confirm(seq, &hash) {
            return Ok(walk.report(Some(found)));
        }
    }

    let stale: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE seq <= $1")
        .bind(walk.anchor.seq)
        .fetch_one(&mut *conn)
        .await?;
    if let Some(seq) = stale {
        let detail = format!(
            "entry at or before the retention anchor (seq {}), which should have been removed",
            walk.anchor.seq
        );
        return Ok(walk.report(problem(seq, ProblemKind::Inserted, detail)));
    }

    let mut rows = Pages::new(walk.anchor.seq);
    while let Some(row) = rows.next(conn).await? {
        match judge(&walk, row, &mut rows, conn).await? {
            Verdict::Fits(link) => {
                if let Some(found) = walk.confirm(link.seq, &link.hash) {
                    return Ok(walk.report(Some(found)));
                }
                walk.checked += 1;
                walk.first_seq.get_or_insert(link.seq);
                walk.last = Some(link);
            }
            Verdict::Broken(found) => return Ok(walk.report(Some(found))),
        }
    }

    let expected = walk.expected_seq();
    let found = if expected <= walk.head.seq {
        let detail = if expected == walk.head.seq {
            format!("the newest entry {expected} is missing (audit_head says {expected})")
        } else {
            format!(
                "entries {expected}..={} are missing (audit_head says {})",
                walk.head.seq, walk.head.seq
            )
        };
        problem(expected, ProblemKind::Deleted, detail)
    } else if walk.expected_prev() != walk.head.hash {
        problem(
            walk.head.seq,
            ProblemKind::Edited,
            "the newest entry's hash does not match audit_head",
        )
    } else {
        evidence.truncation(walk.head.seq)
    };
    Ok(walk.report(found))
}

/// Judges the row after `walk.last`, peeking at the one after it when needed.
async fn judge(
    walk: &Walk<'_>,
    row: Result<AuditEntry, BadRow>,
    rows: &mut Pages,
    conn: &mut AnyConnection,
) -> Result<Verdict, AuditError> {
    let expected_seq = walk.expected_seq();
    let expected_prev = walk.expected_prev();
    let seq = match &row {
        Ok(entry) => entry.seq,
        Err(bad) => bad.seq,
    };
    if expected_seq > walk.head.seq {
        let detail = format!(
            "entry after the chain head (audit_head says {})",
            walk.head.seq
        );
        return Ok(broken(seq, ProblemKind::Inserted, detail));
    }
    if seq > expected_seq {
        // A gap, unless only the seq column of the expected entry was changed.
        if let Ok(entry) = &row
            && entry.prev_hash == expected_prev
            && entry_hash(expected_prev, expected_seq, &entry.record) == entry.hash
        {
            let detail = format!("its seq was changed from {expected_seq}");
            return Ok(broken(seq, ProblemKind::Edited, detail));
        }
        let detail = if seq == expected_seq + 1 {
            format!("entry {expected_seq} is missing")
        } else {
            format!("entries {expected_seq}..={} are missing", seq - 1)
        };
        return Ok(broken(expected_seq, ProblemKind::Deleted, detail));
    }
    let entry = match row {
        Ok(entry) => entry,
        Err(bad) => {
            let detail = format!("unreadable: {}", bad.detail);
            return Ok(broken(seq, ProblemKind::Edited, detail));
        }
    };
    let next_prev = rows.peek(conn).await?.map(|next| match next {
        Ok(next) => next.prev_hash.clone(),
        Err(_) => String::new(),
    });

    if entry.prev_hash == expected_prev {
        if entry_hash(&entry.prev_hash, seq, &entry.record) == entry.hash {
            return Ok(Verdict::Fits(Link {
                seq,
                prev_hash: entry.prev_hash,
                hash: entry.hash,
            }));
        }
        // A forged row with a sloppy hash that claims the same predecessor as the next.
        if next_prev.as_deref() == Some(entry.prev_hash.as_str()) {
            let detail = format!("entry {} links to the same predecessor", seq + 1);
            return Ok(broken(seq, ProblemKind::Inserted, detail));
        }
        return Ok(broken(
            seq,
            ProblemKind::Edited,
            "its contents do not match its hash",
        ));
    }

    // The link to the previous entry is broken.
    if entry_hash(expected_prev, seq, &entry.record) == entry.hash {
        return Ok(broken(
            seq,
            ProblemKind::Edited,
            "its prev_hash was changed",
        ));
    }
    if let Some(last) = &walk.last
        && last.prev_hash == entry.prev_hash
    {
        let detail = format!("it claims the same predecessor as entry {seq}, which links past it");
        return Ok(broken(last.seq, ProblemKind::Inserted, detail));
    }
    if next_prev.as_deref() == Some(expected_prev) {
        let detail = format!("entry {} links past it to entry {}", seq + 1, seq - 1);
        return Ok(broken(seq, ProblemKind::Inserted, detail));
    }
    if entry_hash(&entry.prev_hash, seq + 1, &entry.record) == entry.hash {
        let detail =
            format!("the original entry {seq} is missing and later entries were renumbered");
        return Ok(broken(seq, ProblemKind::Deleted, detail));
    }
    if entry_hash(&entry.prev_hash, seq, &entry.record) == entry.hash {
        let detail = format!(
            "its prev_hash does not match entry {}: the entry it follows is missing",
            seq - 1
        );
        return Ok(broken(seq, ProblemKind::Deleted, detail));
    }
    Ok(broken(
        seq,
        ProblemKind::Edited,
        "neither its link nor its hash match",
    ))
}

/// Entries after a seq, fetched a page at a time, with one entry of lookahead.
struct Pages {
    after: i64,
    buffered: VecDeque<Result<AuditEntry, BadRow>>,
    exhausted: bool,
}

impl Pages {
    fn new(after: i64) -> Self {
        Self {
            after,
            buffered: VecDeque::new(),
            exhausted: false,
        }
    }

    async fn fill(&mut self, conn: &mut AnyConnection) -> Result<(), AuditError> {
        if !self.buffered.is_empty() || self.exhausted {
            return Ok(());
        }
        let rows: Vec<AnyRow> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(self.after)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        self.exhausted = (rows.len() as i64) < PAGE;
        if let Some(last) = rows.last() {
            self.after = row_seq(last)?;
        }
        self.buffered.extend(rows.iter().map(decode_entry));
        Ok(())
    }

    async fn next(
        &mut self,
        conn: &mut AnyConnection,
    ) -> Result<Option<Result<AuditEntry, BadRow>>, AuditError> {
        self.fill(conn).await?;
        Ok(self.buffered.pop_front())
    }

    async fn peek(
        &mut self,
        conn: &mut AnyConnection,
    ) -> Result<Option<&Result<AuditEntry, BadRow>>, AuditError> {
        self.fill(conn).await?;
        Ok(self.buffered.front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::{
            GENESIS_HASH,
            testing::{all_entries, exec, fill, insert_raw, renumber, sample},
        },
        store::scratch::backend_tests,
    };

    async fn problem_of(store: &Store) -> ChainProblem {
        let report = verify(store).await.unwrap();
        println!("{report}");
        report.problem.expect("verify should find a problem")
    }

    #[test]
    fn report_reads_as_one_line() {
        let ok = VerifyReport {
            checked: 3,
            first_seq: Some(1),
            last_seq: Some(3),
            problem: None,
            confirmed: 0,
            rejected: Vec::new(),
        };
        assert_eq!(
            ok.to_string(),
            "audit chain OK: 3 entries verified, seq 1..=3"
        );
        let broken = VerifyReport {
            problem: Some(ChainProblem {
                seq: 4,
                kind: ProblemKind::Edited,
                detail: "its contents do not match its hash".into(),
            }),
            ..ok
        };
        assert_eq!(
            broken.to_string(),
            "audit chain BROKEN: entry 4 edited: its contents do not match its hash \
             (3 entries verified before it, seq 1..=3)"
        );
        assert!(!broken.to_string().contains('\n'));
    }

    backend_tests! {
        async fn empty_and_intact_chains_pass(db) {
            let report = verify(&db.store).await.unwrap();
            assert!(report.is_ok(), "{report}");
            assert_eq!(report.checked, 0);
            fill(&db.store, 2500).await; // more than two pages
            let report = verify(&db.store).await.unwrap();
            assert!(report.is_ok(), "{report}");
            assert_eq!((report.checked, report.last_seq), (2500, Some(2500)));
        }

        async fn edited_field_is_found(db) {
            fill(&db.store, 10).await;
            exec(&db.store, "UPDATE audit_log SET text = 'rollback gateway' WHERE seq = 4").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (4, ProblemKind::Edited));
            let report = verify(&db.store).await.unwrap();
            assert_eq!((report.checked, report.last_seq), (3, Some(3)));
        }

        async fn edited_decision_that_no_longer_parses_is_an_edit(db) {
            fill(&db.store, 5).await;
            exec(&db.store, "UPDATE audit_log SET decision = 'bogus' WHERE seq = 2").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (2, ProblemKind::Edited));
        }

        async fn edited_prev_hash_is_an_edit(db) {
            fill(&db.store, 5).await;
            exec(&db.store, &format!("UPDATE audit_log SET prev_hash = '{GENESIS_HASH}' WHERE seq = 3")).await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (3, ProblemKind::Edited));
        }

        async fn deleted_middle_row_is_found(db) {
            fill(&db.store, 10).await;
            exec(&db.store, "DELETE FROM audit_log WHERE seq = 5").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (5, ProblemKind::Deleted));
        }

        async fn deleted_and_renumbered_row_is_found(db) {
            fill(&db.store, 10).await;
            exec(&db.store, "DELETE FROM audit_log WHERE seq = 5").await;
            renumber(&db.store, 6, -1).await;
            exec(&db.store, "UPDATE audit_head SET seq = 9").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (5, ProblemKind::Deleted));
        }

        async fn deleted_newest_row_is_found_through_the_head(db) {
            fill(&db.store, 10).await;
            exec(&db.store, "DELETE FROM audit_log WHERE seq = 10").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (10, ProblemKind::Deleted));
        }

        async fn forged_row_after_the_head_is_an_insert(db) {
            fill(&db.store, 5).await;
            let last = all_entries(&db.store).await.pop().unwrap();
            let forged = sample(99);
            let hash = entry_hash(&last.hash, 6, &forged);
            insert_raw(&db.store, 6, &forged, &last.hash, &hash).await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (6, ProblemKind::Inserted));
        }

        async fn forged_row_wedged_in_with_a_valid_hash_is_an_insert(db) {
            fill(&db.store, 10).await;
            let entries = all_entries(&db.store).await;
            renumber(&db.store, 5, 1).await;
            let forged = sample(99);
            let hash = entry_hash(&entries[3].hash, 5, &forged);
            insert_raw(&db.store, 5, &forged, &entries[3].hash, &hash).await;
            exec(&db.store, "UPDATE audit_head SET seq = 11").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (5, ProblemKind::Inserted));
        }

        async fn forged_row_wedged_in_with_garbage_links_is_an_insert(db) {
            fill(&db.store, 10).await;
            renumber(&db.store, 5, 1).await;
            let garbage = "f".repeat(64);
            insert_raw(&db.store, 5, &sample(99), &garbage, &garbage).await;
            exec(&db.store, "UPDATE audit_head SET seq = 11").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (5, ProblemKind::Inserted));
        }

        async fn forged_row_with_a_sloppy_hash_claiming_a_real_predecessor_is_an_insert(db) {
            fill(&db.store, 10).await;
            let entries = all_entries(&db.store).await;
            renumber(&db.store, 5, 1).await;
            insert_raw(&db.store, 5, &sample(99), &entries[3].hash, &"0".repeat(64)).await;
            exec(&db.store, "UPDATE audit_head SET seq = 11").await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (5, ProblemKind::Inserted));
        }

        async fn replaced_newest_row_is_an_edit_against_the_head(db) {
            fill(&db.store, 5).await;
            let entries = all_entries(&db.store).await;
            exec(&db.store, "DELETE FROM audit_log WHERE seq = 5").await;
            let forged = sample(99);
            let hash = entry_hash(&entries[3].hash, 5, &forged);
            insert_raw(&db.store, 5, &forged, &entries[3].hash, &hash).await;
            let p = problem_of(&db.store).await;
            assert_eq!((p.seq, p.kind), (5, ProblemKind::Edited));
        }
    }
}

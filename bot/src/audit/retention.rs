//! Retention: removing old entries from the front of the chain without breaking it.
//!
//! Only a prefix of the chain is ever removed (entries are not strictly ordered by time,
//! so deleting by time alone could punch holes), the newest entry is always kept, and
//! `audit_anchor` moves to the last removed entry so `verify` starts right after it.
//!
//! With a checkpoint key ([`prune_checked`]), only entries covered by a valid checkpoint
//! signed before the cutoff are removed: their age then rests on a signature, not on the
//! `at_us` column the database's owner could edit, and `audit verify` can tell this
//! prune from someone moving the anchor by hand.

use super::{
    AuditError, CheckpointKey, checkpoint_store,
    head::{lock_head, read_anchor, set_anchor},
};
use crate::store::{Store, StoreError};

/// Deletes the entries older than `older_than`, up to (not including) the first entry
/// that is not, and never the newest entry, in one transaction under the chain lock.
/// Returns how many entries were deleted.
pub async fn prune(store: &Store, older_than: jiff::Timestamp) -> Result<u64, AuditError> {
    prune_checked(store, older_than, None).await
}

/// Like [`prune`]; with `key`, also never past the highest seq a valid checkpoint of
/// `key` signed before `older_than` covers (nothing without one).
pub async fn prune_checked(
    store: &Store,
    older_than: jiff::Timestamp,
    key: Option<&CheckpointKey>,
) -> Result<u64, AuditError> {
    let mut tx = store.pool().begin().await?;
    let head = lock_head(&mut tx).await?;
    let anchor = read_anchor(&mut tx).await?;
    let first_kept: Option<i64> = sqlx::query_scalar(
        "SELECT seq FROM audit_log WHERE seq > $1 AND at_us >= $2 ORDER BY seq LIMIT 1",
    )
    .bind(anchor.seq)
    .bind(older_than.as_microsecond())
    .fetch_optional(&mut *tx)
    .await?;
    let mut last_removed = first_kept.unwrap_or(head.seq).min(head.seq) - 1;
    if let Some(key) = key {
        let covered = checkpoint_store::covered_before(&mut tx, key, older_than).await?;
        last_removed = last_removed.min(covered.unwrap_or(anchor.seq));
    }
    if last_removed <= anchor.seq {
        tx.rollback().await?;
        return Ok(0);
    }
    let hash: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(last_removed)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(hash) = hash else {
        tx.rollback().await?;
        return Err(StoreError::corrupt(
            "audit_log",
            format!("entry {last_removed} is missing, so the chain is broken; not pruning"),
        )
        .into());
    };
    let deleted = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
        .bind(last_removed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    set_anchor(&mut tx, last_removed, &hash).await?;
    tx.commit().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::{
            ProblemKind,
            testing::{all_entries, exec, fill, head, sample},
            verify,
        },
        store::scratch::backend_tests,
    };

    /// `sample(n)` is at 1_700_000_000 + n seconds.
    fn cutoff(n: i64) -> jiff::Timestamp {
        sample(n).at
    }

    backend_tests! {
        async fn prune_removes_a_prefix_and_verify_still_passes(db) {
            fill(&db.store, 20).await;
            assert_eq!(prune(&db.store, cutoff(8)).await.unwrap(), 7);
            let entries = all_entries(&db.store).await;
            assert_eq!(entries.first().map(|e| e.seq), Some(8));
            let report = verify(&db.store).await.unwrap();
            assert!(report.is_ok(), "{report}");
            assert_eq!((report.checked, report.first_seq), (13, Some(8)));
            // Nothing more to prune at the same cutoff.
            assert_eq!(prune(&db.store, cutoff(8)).await.unwrap(), 0);
            // Appending after a prune continues the chain.
            let writer = crate::audit::AuditWriter::spawn(db.store.clone());
            assert_eq!(writer.append(sample(100)).await.unwrap(), 21);
            writer.close().await;
            assert!(verify(&db.store).await.unwrap().is_ok());
        }

        async fn deleting_the_first_row_after_the_anchor_is_still_found(db) {
            fill(&db.store, 10).await;
            prune(&db.store, cutoff(5)).await.unwrap();
            exec(&db.store, "DELETE FROM audit_log WHERE seq = 5").await;
            let report = verify(&db.store).await.unwrap();
            let p = report.problem.expect("deletion after the anchor must be found");
            assert_eq!((p.seq, p.kind), (5, ProblemKind::Deleted));
        }

        async fn prune_stops_at_the_first_young_entry_and_keeps_the_newest(db) {
            fill(&db.store, 10).await;
            // Entry 4 is young (out of time order), so only 1..=3 go.
            exec(&db.store, &format!(
                "UPDATE audit_log SET at_us = {} WHERE seq = 4",
                cutoff(1000).as_microsecond()
            )).await;
            // Re-hash is not needed for this test: prune looks at time only, and the
            // chain check below is about the prefix that remains.
            assert_eq!(prune(&db.store, cutoff(8)).await.unwrap(), 3);
            exec(&db.store, &format!(
                "UPDATE audit_log SET at_us = {} WHERE seq = 4",
                sample(4).at.as_microsecond()
            )).await;
            assert!(verify(&db.store).await.unwrap().is_ok());
            // Everything is old: all but the newest entry go.
            assert_eq!(prune(&db.store, cutoff(1000)).await.unwrap(), 6);
            let entries = all_entries(&db.store).await;
            assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [10]);
            assert_eq!(head(&db.store).await.0, 10);
            let report = verify(&db.store).await.unwrap();
            assert!(report.is_ok(), "{report}");
        }
    }
}

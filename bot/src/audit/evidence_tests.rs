//! The three cuts of issue 12, made the way someone with write access to the database
//! would, each passing the plain chain check and each caught against signed checkpoints
//! (and exports); a legitimate retention prune still verifies; forged checkpoints are
//! rejected.

use std::time::Duration;

use super::*;
use crate::{
    audit::{
        CheckpointSigner, Checkpointer, GENESIS_HASH, entry_hash, export_jsonl, prune_checked,
        testing::{all_entries, exec, fill},
        verify, verify_with,
    },
    store::scratch::backend_tests,
};

const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const HOUR: Duration = Duration::from_secs(3600);

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_seed(SEED).unwrap()
}

/// A checkpointer appending to a file in `dir`.
fn checkpointer(store: &Store, dir: &tempfile::TempDir) -> Checkpointer {
    Checkpointer::new(
        store.clone(),
        signer(),
        Some(dir.path().join("checkpoints.jsonl")),
    )
}

/// Evidence from the checkpoint file in `dir` and the store, with a 1 h retention.
async fn evidence(store: &Store, dir: &tempfile::TempDir) -> Evidence {
    let mut evidence = Evidence::new(
        vec![signer().public().clone()],
        jiff::Timestamp::now(),
        HOUR,
    );
    let file = dir.path().join("checkpoints.jsonl");
    if file.exists() {
        evidence.add_checkpoint_file(&file).unwrap();
    }
    evidence.add_stored_checkpoints(store).await.unwrap();
    evidence
}

async fn problem_with(store: &Store, evidence: &Evidence) -> ChainProblem {
    let report = verify_with(store, evidence).await.unwrap();
    println!("{report}");
    report.problem.expect("verify should find a problem")
}

/// Recomputes every hash from `from` on and moves the head: a rewrite that leaves the
/// plain chain consistent.
async fn rechain(store: &Store, from: i64) {
    let entries = all_entries(store).await;
    let mut prev = entries
        .iter()
        .find(|e| e.seq == from - 1)
        .map_or(GENESIS_HASH.to_string(), |e| e.hash.clone());
    for entry in entries.iter().filter(|e| e.seq >= from) {
        let hash = entry_hash(&prev, entry.seq, &entry.record);
        exec(
            store,
            &format!(
                "UPDATE audit_log SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = {}",
                entry.seq
            ),
        )
        .await;
        prev = hash;
    }
    let last = entries.last().unwrap().seq;
    exec(
        store,
        &format!("UPDATE audit_head SET seq = {last}, hash = '{prev}'"),
    )
    .await;
}

/// A checkpoint of the store's current head and anchor as if signed at `at`.
async fn checkpoint_at(store: &Store, at: jiff::Timestamp) -> SignedCheckpoint {
    let mut conn = store.pool().acquire().await.unwrap();
    let head = crate::audit::head::read_head(&mut conn).await.unwrap();
    let anchor = crate::audit::head::read_anchor(&mut conn).await.unwrap();
    let signed = Checkpoint {
        seq: head.seq,
        hash: head.hash,
        anchor_seq: anchor.seq,
        anchor_hash: anchor.hash,
        at,
        key_id: String::new(),
    }
    .sign(&signer());
    checkpoint_store::insert(&mut conn, &signed).await.unwrap();
    signed
}

fn hours_ago(n: i64) -> jiff::Timestamp {
    jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(n))
        .unwrap()
}

backend_tests! {
    async fn truncating_the_head_is_found(db) {
        let dir = tempfile::tempdir().unwrap();
        fill(&db.store, 10).await;
        checkpointer(&db.store, &dir).checkpoint().await.unwrap().unwrap();
        // Delete the newest entries and move audit_head back.
        let seven = all_entries(&db.store).await[6].hash.clone();
        exec(&db.store, "DELETE FROM audit_log WHERE seq > 7").await;
        exec(&db.store, &format!("UPDATE audit_head SET seq = 7, hash = '{seven}'")).await;
        assert!(verify(&db.store).await.unwrap().is_ok(), "the plain chain cannot see it");
        // Even with the database's copy of the checkpoints deleted too: the file has it.
        exec(&db.store, "DELETE FROM audit_checkpoints").await;
        let p = problem_with(&db.store, &evidence(&db.store, &dir).await).await;
        assert_eq!((p.seq, p.kind), (8, ProblemKind::Truncated));
        assert!(p.detail.contains("has seq 10"), "{}", p.detail);
        assert!(p.detail.contains("store's head is at 7 < 10"), "{}", p.detail);
    }

    async fn moving_the_anchor_forward_is_found(db) {
        let dir = tempfile::tempdir().unwrap();
        fill(&db.store, 10).await;
        checkpointer(&db.store, &dir).checkpoint().await.unwrap().unwrap();
        // Delete old entries and move audit_anchor forward: no hashing needed.
        let five = all_entries(&db.store).await[4].hash.clone();
        exec(&db.store, "DELETE FROM audit_log WHERE seq <= 5").await;
        exec(&db.store, &format!("UPDATE audit_anchor SET seq = 5, hash = '{five}'")).await;
        assert!(verify(&db.store).await.unwrap().is_ok(), "the plain chain cannot see it");
        let p = problem_with(&db.store, &evidence(&db.store, &dir).await).await;
        assert_eq!((p.seq, p.kind), (1, ProblemKind::AnchorMoved));
        assert!(p.detail.starts_with("the store puts the retention anchor at 5"), "{}", p.detail);
        // The bot signing the moved anchor afterwards does not launder it.
        checkpointer(&db.store, &dir).checkpoint().await.unwrap().unwrap();
        let p = problem_with(&db.store, &evidence(&db.store, &dir).await).await;
        assert_eq!(p.kind, ProblemKind::AnchorMoved);
        assert!(p.detail.starts_with("the checkpoint signed"), "{}", p.detail);
    }

    async fn editing_an_entry_and_recomputing_the_chain_is_found(db) {
        let dir = tempfile::tempdir().unwrap();
        fill(&db.store, 10).await;
        checkpointer(&db.store, &dir).checkpoint().await.unwrap().unwrap();
        let mut export = Vec::new();
        export_jsonl(&db.store, None, &mut export).await.unwrap();
        exec(&db.store, "UPDATE audit_log SET text = 'help' WHERE seq = 4").await;
        rechain(&db.store, 4).await;
        assert!(verify(&db.store).await.unwrap().is_ok(), "the plain chain cannot see it");
        // Against the checkpoint: the range since the last confirmed hash.
        let p = problem_with(&db.store, &evidence(&db.store, &dir).await).await;
        assert_eq!(p.kind, ProblemKind::Rewritten);
        assert!(p.detail.starts_with("an entry in 1..=10 was changed"), "{}", p.detail);
        // Against an export: the very entry.
        let mut with_export = evidence(&db.store, &dir).await;
        with_export.add_export_lines("export.jsonl", export.as_slice()).unwrap();
        let p = problem_with(&db.store, &with_export).await;
        assert_eq!((p.seq, p.kind), (4, ProblemKind::Rewritten));
        assert!(p.detail.contains("the export export.jsonl:4"), "{}", p.detail);
    }

    async fn a_retention_prune_still_verifies(db) {
        let dir = tempfile::tempdir().unwrap();
        fill(&db.store, 10).await; // written in 2023: far older than the retention
        // Nothing is removed until a checkpoint older than the retention covers it.
        assert_eq!(prune_checked(&db.store, hours_ago(1), Some(signer().public())).await.unwrap(), 0);
        checkpoint_at(&db.store, hours_ago(2)).await;
        fill(&db.store, 5).await;
        checkpointer(&db.store, &dir).checkpoint().await.unwrap().unwrap();
        // Entries 11..=14 are old by their time, but no old checkpoint covers them.
        let pruned = prune_checked(&db.store, hours_ago(1), Some(signer().public())).await.unwrap();
        assert_eq!(pruned, 10);
        checkpointer(&db.store, &dir).checkpoint().await.unwrap().unwrap();
        let evidence = evidence(&db.store, &dir).await;
        let report = verify_with(&db.store, &evidence).await.unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.first_seq, Some(11));
        assert!(report.confirmed >= 2, "{report}");
    }

    async fn forged_and_foreign_checkpoints_are_rejected(db) {
        let dir = tempfile::tempdir().unwrap();
        fill(&db.store, 3).await;
        checkpointer(&db.store, &dir).checkpoint().await.unwrap().unwrap();
        // A checkpoint signed with another key, and our own one altered.
        let other = CheckpointSigner::generate().unwrap().0;
        let foreign = Checkpoint {
            seq: 99,
            hash: "f".repeat(64),
            anchor_seq: 0,
            anchor_hash: GENESIS_HASH.into(),
            at: jiff::Timestamp::now(),
            key_id: String::new(),
        }
        .sign(&other);
        let altering = checkpointer(&db.store, &dir);
        fill(&db.store, 1).await;
        let mut altered = altering.checkpoint().await.unwrap().unwrap();
        altered.checkpoint.seq = 99;
        let lines = format!("{}\n{}\nnot json\n", foreign.to_json_line(), altered.to_json_line());
        let mut evidence = evidence(&db.store, &dir).await;
        evidence.add_checkpoint_lines("chat", lines.as_bytes()).unwrap();
        let report = verify_with(&db.store, &evidence).await.unwrap();
        println!("{report}");
        assert!(!report.is_ok());
        assert!(report.problem.is_none(), "the forged seq 99 is not believed: {report}");
        assert_eq!(report.rejected.len(), 3, "{:?}", report.rejected);
        assert!(report.rejected[0].contains("chat:1: signed by key"), "{:?}", report.rejected);
        assert!(report.rejected[1].contains("chat:2: its signature does not verify"));
        assert!(report.rejected[2].contains("chat:3: not a checkpoint line"));
        assert!(report.to_string().starts_with("audit checkpoints REJECTED: 3 not accepted"));
        // The wrong public key accepts none of ours.
        let mut wrong = Evidence::new(vec![other.public().clone()], jiff::Timestamp::now(), HOUR);
        wrong.add_stored_checkpoints(&db.store).await.unwrap();
        assert_eq!(wrong.checkpoints(), 0);
        assert_eq!(wrong.rejected().len(), 2);
    }

    async fn checkpoints_go_to_the_file_and_the_audit_channel_once_per_change(db) {
        let dir = tempfile::tempdir().unwrap();
        fill(&db.store, 2).await;
        let c = checkpointer(&db.store, &dir).post_to(&crate::config::alerts::DefaultChannel {
            console: Some("audit".into()),
            ..Default::default()
        });
        assert!(c.checkpoint().await.unwrap().is_some());
        assert!(c.checkpoint().await.unwrap().is_none(), "nothing moved");
        fill(&db.store, 1).await;
        let signed = c.checkpoint().await.unwrap().unwrap();
        assert_eq!(signed.checkpoint.seq, 3);
        let text = std::fs::read_to_string(dir.path().join("checkpoints.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(text.lines().last(), Some(signed.to_json_line().as_str()));
        let posted: Vec<String> = sqlx::query_scalar(
            "SELECT reply FROM outbox WHERE channel = 'audit' ORDER BY id",
        )
        .fetch_all(db.store.read_pool())
        .await
        .unwrap();
        assert_eq!(posted.len(), 2);
        assert!(posted[1].contains("Audit checkpoint: seq 3"), "{}", posted[1]);
    }
}

//! The runs store on both backends: insert with steps, compare-and-set moves (an answer
//! is taken once), abort requests, leases and the interrupted sweep's queries.

use super::*;
use crate::store::scratch::backend_tests;

fn starter() -> Starter {
    Starter {
        kind: "slack".into(),
        id: "U0ALICE".into(),
        name: "Alice".into(),
        groups: vec!["S0ONCALL".into()],
    }
}

async fn insert(store: &Store, lease_until_us: i64) -> i64 {
    let starter = starter();
    let params = vec![("service".to_string(), "alice-backend".to_string())];
    let run = NewRun {
        runbook: "recovery",
        params: &params,
        request_id: "req-1",
        starter: &starter,
        platform: "slack",
        channel: "C0OPS",
        thread: None,
        owner: "process-a",
        lease_until_us,
        now: jiff::Timestamp::now(),
        steps: vec![
            (false, "command", "restart alice-backend".into()),
            (false, "manual", "switch compose".into()),
            (true, "notify", "tell people".into()),
        ],
    };
    let mut conn = store.pool().acquire().await.unwrap();
    insert_run(&mut conn, &run).await.unwrap()
}

backend_tests! {
    async fn a_run_is_stored_with_its_steps(db) {
        let id = insert(&db.store, i64::MAX).await;
        let mut conn = db.store.pool().acquire().await.unwrap();
        let run = run(&mut conn, id).await.unwrap().unwrap();
        assert_eq!(run.runbook, "recovery");
        assert_eq!(run.state, "running");
        assert_eq!(run.starter, starter());
        assert_eq!(run.params, vec![("service".to_string(), "alice-backend".to_string())]);
        let steps = steps(&mut conn, id).await.unwrap();
        let states: Vec<(i64, bool, &str)> = steps
            .iter()
            .map(|s| (s.position, s.rollback, s.state.as_str()))
            .collect();
        assert_eq!(states, [(1, false, "pending"), (2, false, "pending"), (3, true, "pending")]);
        assert!(run_missing(&mut conn, id + 100).await);
    }

    async fn a_manual_answer_is_taken_once(db) {
        let id = insert(&db.store, i64::MAX).await;
        let now = jiff::Timestamp::now();
        let mut conn = db.store.pool().acquire().await.unwrap();
        assert!(move_step(&mut conn, id, 2, &StepChange { from: &["pending"], to: "waiting", detail: "", answered_by: None }, now).await.unwrap());
        assert!(move_run(&mut conn, id, "waiting", now).await.unwrap());
        assert!(
            move_step(&mut conn, id, 2, &StepChange { from: &["waiting"], to: "ok", detail: "done by Bob", answered_by: Some("Bob") }, now)
                .await
                .unwrap()
        );
        // A second press (or a Skip racing it) finds the step answered.
        assert!(
            !move_step(&mut conn, id, 2, &StepChange { from: &["waiting"], to: "skipped", detail: "skipped by Carol", answered_by: Some("Carol") }, now)
                .await
                .unwrap()
        );
        let step = steps(&mut conn, id).await.unwrap().remove(1);
        assert_eq!((step.state.as_str(), step.answered_by.as_deref()), ("ok", Some("Bob")));
        assert!(move_run(&mut conn, id, "succeeded", now).await.unwrap());
        assert!(!move_run(&mut conn, id, "failed", now).await.unwrap(), "a finished run stays finished");
    }

    async fn an_abort_is_asked_once_and_only_of_an_active_run(db) {
        let id = insert(&db.store, i64::MAX).await;
        assert!(request_abort(&db.store, id, "Alice").await.unwrap());
        assert!(!request_abort(&db.store, id, "Bob").await.unwrap());
        let mut conn = db.store.pool().acquire().await.unwrap();
        let run = run(&mut conn, id).await.unwrap().unwrap();
        assert_eq!(run.abort_requested_by.as_deref(), Some("Alice"));
        move_run(&mut conn, id, "aborted", jiff::Timestamp::now()).await.unwrap();
        drop(conn); // SQLite has one writer connection
        let other = insert(&db.store, i64::MAX).await;
        let mut conn = db.store.pool().acquire().await.unwrap();
        move_run(&mut conn, other, "succeeded", jiff::Timestamp::now()).await.unwrap();
        drop(conn);
        assert!(!request_abort(&db.store, other, "Alice").await.unwrap());
    }

    async fn lapsed_leases_find_dead_runs_and_in_flight_steps_are_interrupted(db) {
        let now = jiff::Timestamp::now();
        let now_us = crate::store::time::to_micros(now);
        let dead = insert(&db.store, now_us - 1_000_000).await;
        let alive = insert(&db.store, now_us + 60_000_000).await;
        assert_eq!(lapsed(&db.store, now_us).await.unwrap(), vec![dead]);
        // Renewing the owner's runs brings a lapsed one back.
        assert_eq!(renew(&db.store, "process-a", now_us + 60_000_000).await.unwrap(), 2);
        assert!(lapsed(&db.store, now_us).await.unwrap().is_empty());
        let mut conn = db.store.pool().acquire().await.unwrap();
        move_step(&mut conn, dead, 1, &StepChange { from: &["pending"], to: "running", detail: "", answered_by: None }, now).await.unwrap();
        assert_eq!(interrupt_steps(&mut conn, dead, now).await.unwrap(), vec![1]);
        let states: Vec<String> =
            steps(&mut conn, dead).await.unwrap().into_iter().map(|s| s.state).collect();
        assert_eq!(states, ["interrupted", "pending", "pending"]);
        let recent = recent(&db.store, 10).await.unwrap();
        assert_eq!(recent.len(), 2);
        let _ = alive;
    }
}

async fn run_missing(conn: &mut AnyConnection, id: i64) -> bool {
    run(conn, id).await.unwrap().is_none()
}

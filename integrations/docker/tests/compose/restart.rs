//! `restart`: each container is restarted and waited on until healthy (or running, when it
//! has no healthcheck); an unhealthy container fails the restart with its healthcheck
//! output and stops the rollout.

use std::time::{Duration, Instant};

use opsbot_commands::context::Runtime;

use crate::{FakeEngine, Recorder, runtime, service};

#[tokio::test]
async fn restart_waits_until_every_container_is_healthy() {
    let engine = FakeEngine::start(Duration::from_millis(200)).await;
    let first = engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    let second = engine.add("wrkhrs", "wrkhrs-rag", 2, true);
    // Another service and another project with the same service name stay untouched.
    let other = engine.add("wrkhrs", "wrkhrs-asr", 1, true);
    let foreign = engine.add("alice", "wrkhrs-rag", 1, true);
    let progress = Recorder::default();

    let started = Instant::now();
    let report = runtime(&engine)
        .restart(&service("wrkhrs-rag", None, false), &progress)
        .await
        .unwrap();

    assert!(report.succeeded, "{report:?}");
    assert!(
        started.elapsed() >= 2 * engine.health_delay(),
        "returned before health settled: {:?}",
        started.elapsed()
    );
    assert_eq!(
        report.summary,
        "restarted compose service wrkhrs/wrkhrs-rag: 2/2 containers healthy"
    );
    assert!(report.details[0].starts_with("wrkhrs-wrkhrs-rag-1: running (healthy) after"));
    let requests = engine.requests();
    let restarts: Vec<&String> = requests.iter().filter(|r| r.contains("/restart")).collect();
    assert_eq!(restarts.len(), 2, "{requests:#?}");
    assert!(restarts[0].contains(&first) && restarts[0].ends_with("?t=1"));
    assert!(restarts[1].contains(&second));
    assert!(
        !requests
            .iter()
            .any(|r| r.contains(&other) || r.contains(&foreign))
    );
    let messages = progress.messages();
    assert!(
        messages.contains(&"restarting wrkhrs-wrkhrs-rag-1 (1/2)".to_string()),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m
                == "wrkhrs-wrkhrs-rag-1: running (starting), waiting for it to become healthy"),
        "{messages:#?}"
    );
    assert!(messages.contains(&"wrkhrs-wrkhrs-rag-2 is running (healthy) (2/2)".to_string()));
}

#[tokio::test]
async fn containers_without_healthcheck_count_once_running() {
    let engine = FakeEngine::start(Duration::from_secs(30)).await;
    engine.add("wrkhrs", "postgres", 1, false);

    let report = runtime(&engine)
        .restart(&service("postgres", None, false), &Recorder::default())
        .await
        .unwrap();

    assert!(report.succeeded, "{report:?}");
    assert_eq!(report.details, vec!["wrkhrs-postgres-1: running after 0ms"]);
}

#[tokio::test]
async fn a_container_turning_unhealthy_fails_the_restart() {
    let engine = FakeEngine::start(Duration::from_millis(100)).await;
    let first = engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    let second = engine.add("wrkhrs", "wrkhrs-rag", 2, true);
    engine.edit(&first, |c| c.fails_health = true);

    let report = runtime(&engine)
        .restart(&service("wrkhrs-rag", None, false), &Recorder::default())
        .await
        .unwrap();

    assert!(!report.succeeded);
    assert_eq!(
        report.summary,
        "restart of compose service wrkhrs/wrkhrs-rag failed: wrkhrs-wrkhrs-rag-1 is not healthy (running (unhealthy))"
    );
    assert!(
        report.details.contains(
            &"last healthcheck: exit 1: curl: (7) Failed to connect to localhost port 8082"
                .to_string()
        ),
        "{report:#?}"
    );
    assert!(report.details.contains(
        &"not restarted (stopped at the first failure): wrkhrs-wrkhrs-rag-2".to_string()
    ));
    assert!(
        !engine
            .requests()
            .iter()
            .any(|r| r.contains(&format!("{second}/restart")))
    );
}

#[tokio::test]
async fn health_that_never_settles_times_out() {
    let engine = FakeEngine::start(Duration::from_millis(50)).await;
    let id = engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    engine.edit(&id, |c| c.never_healthy = true);

    let started = Instant::now();
    let report = runtime(&engine)
        .restart(&service("wrkhrs-rag", None, false), &Recorder::default())
        .await
        .unwrap();

    assert!(!report.succeeded);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        report
            .summary
            .ends_with("did not become healthy in time (running (starting))"),
        "{}",
        report.summary
    );
    assert!(
        report.details.contains(
            &"wrkhrs-wrkhrs-rag-1 was not healthy within 2s (health timeout)".to_string()
        )
    );
}

//! `inspect`: container state and health per container, summed up (all healthy → Ok;
//! starting → Warning; unhealthy, restarting or missing → Critical).

use std::time::Duration;

use opsbot_commands::context::{HealthLevel, Runtime};

use crate::{FakeEngine, runtime, service};

#[tokio::test]
async fn all_healthy_is_ok() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    engine.add("wrkhrs", "wrkhrs-rag", 2, false);
    let view = runtime(&engine)
        .inspect(&service("wrkhrs-rag", None, false))
        .await
        .unwrap();
    assert_eq!(view.level, HealthLevel::Ok);
    assert_eq!(view.summary, "2/2 containers healthy, 0 restarts");
    assert_eq!(
        view.details,
        vec![
            "wrkhrs-wrkhrs-rag-1: running (healthy), 0 restarts",
            "wrkhrs-wrkhrs-rag-2: running, 0 restarts"
        ]
    );
}

#[tokio::test]
async fn starting_warns_and_unhealthy_or_restarting_is_critical() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    let a = engine.add("wrkhrs", "wrkhrs-asr", 1, true);
    let b = engine.add("wrkhrs", "wrkhrs-asr", 2, true);
    let rt = runtime(&engine);
    let svc = service("wrkhrs-asr", None, false);

    engine.edit(&a, |c| c.health = Some("starting".into()));
    let view = rt.inspect(&svc).await.unwrap();
    assert_eq!(view.level, HealthLevel::Warning);
    assert_eq!(view.summary, "1/2 containers healthy, 0 restarts");

    engine.edit(&b, |c| {
        c.health = Some("unhealthy".into());
        c.health_log = vec![(1, "CUDA out of memory".into())];
    });
    let view = rt.inspect(&svc).await.unwrap();
    assert_eq!(view.level, HealthLevel::Critical);
    assert!(
        view.details
            .contains(&"  last healthcheck: exit 1: CUDA out of memory".to_string()),
        "{view:#?}"
    );

    engine.edit(&a, |c| {
        c.status = "restarting".into();
        c.restart_count = 7;
    });
    engine.edit(&b, |c| c.health = Some("healthy".into()));
    let view = rt.inspect(&svc).await.unwrap();
    assert_eq!(view.level, HealthLevel::Critical);
    assert_eq!(view.summary, "1/2 containers healthy, 7 restarts");
    assert_eq!(
        view.details[0],
        "wrkhrs-wrkhrs-asr-1: restarting, 7 restarts"
    );
}

#[tokio::test]
async fn a_service_without_containers_is_critical() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    let view = runtime(&engine)
        .inspect(&service("wrkhrs-mcp", None, false))
        .await
        .unwrap();
    assert_eq!(view.level, HealthLevel::Critical);
    assert_eq!(view.summary, "no containers");
}

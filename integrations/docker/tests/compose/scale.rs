//! `scale`: up by copying an existing replica's configuration, down by stopping and
//! removing the highest-numbered replicas; refused unless the catalog says `scalable`.

use std::time::Duration;

use opsbot_commands::context::{Runtime, RuntimeError};

use crate::{FakeEngine, Recorder, runtime, service};

fn numbers(engine: &FakeEngine, svc: &str) -> Vec<u32> {
    let mut numbers: Vec<u32> = engine
        .containers()
        .iter()
        .filter(|c| c.labels["com.docker.compose.service"] == svc)
        .map(|c| {
            c.labels["com.docker.compose.container-number"]
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort();
    numbers
}

#[tokio::test]
async fn scale_up_copies_a_replica_and_waits_for_health() {
    let engine = FakeEngine::start(Duration::from_millis(50)).await;
    let template = engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    let progress = Recorder::default();

    let report = runtime(&engine)
        .scale(&service("wrkhrs-rag", None, true), 3, &progress)
        .await
        .unwrap();

    assert!(report.succeeded, "{report:#?}");
    assert_eq!(
        report.summary,
        "scaled compose service wrkhrs/wrkhrs-rag from 1 to 3 containers"
    );
    assert_eq!(numbers(&engine, "wrkhrs-rag"), vec![1, 2, 3]);
    let containers = engine.containers();
    let original = containers.iter().find(|c| c.id == template).unwrap();
    let copy = containers
        .iter()
        .find(|c| c.name == "wrkhrs-wrkhrs-rag-3")
        .unwrap();
    assert_eq!(copy.status, "running");
    assert_eq!(copy.health.as_deref(), Some("healthy"));
    assert_eq!(copy.config["Image"], original.config["Image"]);
    assert_eq!(copy.config["Env"], original.config["Env"]);
    assert_eq!(copy.labels["com.docker.compose.project"], "wrkhrs");
    assert_eq!(copy.host_config["RestartPolicy"]["Name"], "unless-stopped");
    assert!(
        copy.config.get("Hostname").is_none(),
        "hostname copied: {:?}",
        copy.config
    );
    let aliases = copy.networks["wrkhrs_default"]["Aliases"]
        .as_array()
        .unwrap();
    assert!(aliases.iter().any(|a| a == "wrkhrs-rag"));
    assert!(aliases.iter().any(|a| a == "wrkhrs-wrkhrs-rag-3"));
    assert!(!aliases.iter().any(|a| a == "wrkhrs-wrkhrs-rag-1"));
    assert!(
        progress
            .messages()
            .contains(&"creating wrkhrs-wrkhrs-rag-2 (2/3)".to_string())
    );
}

#[tokio::test]
async fn scale_up_joins_every_network_of_the_template() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    let template = engine.add("wrkhrs", "wrkhrs-rag", 1, false);
    engine.edit(&template, |c| {
        c.networks.insert(
            "wrkhrs_backend".into(),
            serde_json::json!({"Aliases": ["wrkhrs-rag"], "NetworkID": "net-wrkhrs_backend"}),
        );
    });

    let report = runtime(&engine)
        .scale(&service("wrkhrs-rag", None, true), 2, &Recorder::default())
        .await
        .unwrap();

    assert!(report.succeeded, "{report:#?}");
    let copy = engine
        .containers()
        .into_iter()
        .find(|c| c.name == "wrkhrs-wrkhrs-rag-2")
        .unwrap();
    let mut networks: Vec<&String> = copy.networks.keys().collect();
    networks.sort();
    assert_eq!(networks, vec!["wrkhrs_backend", "wrkhrs_default"]);
    assert!(
        engine
            .requests()
            .iter()
            .any(|r| r.starts_with("POST /v1.43/networks/"))
    );
}

#[tokio::test]
async fn scale_down_removes_the_highest_numbers() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    for n in 1..=4 {
        engine.add("wrkhrs", "wrkhrs-asr", n, true);
    }

    let report = runtime(&engine)
        .scale(&service("wrkhrs-asr", None, true), 2, &Recorder::default())
        .await
        .unwrap();

    assert!(report.succeeded, "{report:#?}");
    assert_eq!(
        report.summary,
        "scaled compose service wrkhrs/wrkhrs-asr from 4 to 2 containers"
    );
    assert_eq!(
        report.details,
        vec![
            "wrkhrs-wrkhrs-asr-4: stopped and removed",
            "wrkhrs-wrkhrs-asr-3: stopped and removed"
        ]
    );
    assert_eq!(numbers(&engine, "wrkhrs-asr"), vec![1, 2]);
}

#[tokio::test]
async fn scale_to_the_current_count_changes_nothing() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    let report = runtime(&engine)
        .scale(&service("wrkhrs-rag", None, true), 1, &Recorder::default())
        .await
        .unwrap();
    assert!(report.succeeded);
    assert_eq!(
        report.summary,
        "compose service wrkhrs/wrkhrs-rag already has 1 container"
    );
    assert!(!engine.requests().iter().any(|r| r.starts_with("POST")));
}

#[tokio::test]
async fn scale_is_refused_when_not_scalable() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    engine.add("wrkhrs", "wrkhrs-gateway", 1, true);

    let error = runtime(&engine)
        .scale(
            &service("wrkhrs-gateway", None, false),
            3,
            &Recorder::default(),
        )
        .await
        .unwrap_err();

    let RuntimeError::NotSupported(message) = error else {
        panic!("expected NotSupported, got {error:?}");
    };
    assert!(
        message.contains("not marked `scalable = true`"),
        "{message}"
    );
    assert!(message.contains("runbooks/wrkhrs-ai-stack.md"), "{message}");
    assert!(engine.requests().is_empty(), "asked the engine anyway");
}

#[tokio::test]
async fn scale_to_zero_is_refused() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    let error = runtime(&engine)
        .scale(&service("wrkhrs-rag", None, true), 0, &Recorder::default())
        .await
        .unwrap_err();
    assert!(matches!(error, RuntimeError::Refused(_)), "{error:?}");
    assert_eq!(engine.containers().len(), 1);
}

#[tokio::test]
async fn a_failed_create_stops_the_scale_and_says_why() {
    let engine = FakeEngine::start(Duration::from_millis(30)).await;
    engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    // A container of another service already holds the name replica 2 would get.
    let squatter = engine.add("wrkhrs", "decoy", 1, false);
    engine.edit(&squatter, |c| c.name = "wrkhrs-wrkhrs-rag-2".into());

    let report = runtime(&engine)
        .scale(&service("wrkhrs-rag", None, true), 3, &Recorder::default())
        .await
        .unwrap();

    assert!(!report.succeeded);
    assert_eq!(
        report.summary,
        "scaling compose service wrkhrs/wrkhrs-rag to 3 stopped at container 2: wrkhrs-wrkhrs-rag-2 is not created"
    );
    assert!(
        report
            .details
            .iter()
            .any(|d| d.contains("is already in use")),
        "{report:#?}"
    );
    assert_eq!(numbers(&engine, "wrkhrs-rag"), vec![1]);
}
